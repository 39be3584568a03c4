"""Shared assembly of an `AnnotationSet`: every reader parses its own layout and hands records to one builder.

The builder owns what all formats share: the split filter (with the ActivityNet aliases train = training,
val = validation, test = testing), unique ids, the segment and text policies of `quirks`, class look-up, and the count
of records read. Readers stay small and the policies are applied identically in all six formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from unloc.data.formats.quirks import QuirkCounter, clean_text, clean_window
from unloc.data.records import AnnotationSet, Query, Segment, VideoRecord

SPLIT_ALIASES = ({"train", "training"}, {"val", "validation"}, {"test", "testing"})


def same_split(a: str | None, b: str | None) -> bool:
    """True when two split names denote the same split ("val" and "validation" do; "val_1" and "val" do not)."""
    if a == b:
        return True
    return any(a in group and b in group for group in SPLIT_ALIASES)


class AnnotationBuilder:
    """Collects videos, queries and segments of one file, then freezes them.

    Args:
        fmt: format name stored in the result.
        path: the file being read (named in errors).
        strict: raise on every quirk instead of applying its policy.
        split: keep only records of this split (None keeps all).
        classes: the known class list, when the format gives one up front; labels outside it are errors.
            None: the classes are the sorted labels met while reading.
        as_given: count window quirks but keep every window as given (see `quirks`).
        class_ids: the dataset's ids of `classes` (COIN step ids), stored in the result.
    """

    def __init__(self, fmt: str, path: Path, *, strict: bool = False, split: str | None = None,
                 classes: Sequence[str] | None = None, as_given: bool = False, class_ids: Sequence[str] = ()):
        self.format = fmt
        self.path = Path(path)
        self.split = split
        self.class_ids = tuple(class_ids)
        self.quirks = QuirkCounter(self.path, strict=strict, as_given=as_given)
        self.num_records = 0
        self._classes = tuple(classes) if classes is not None else None
        self._class_idx = {name: i for i, name in enumerate(self._classes or ())}
        self._videos: dict[str, VideoRecord] = {}
        self._segments: dict[str, list[Segment]] = {}
        self._queries: list[Query] = []
        self._query_ids: set[int] = set()
        self._labels: set[str] = set()

    def fail(self, where: str, message: str) -> NoReturn:
        """Raise an `AnnotationError` naming the file and `where`."""
        self.quirks.fail(where, message)

    def wants(self, split: str | None) -> bool:
        """Whether records of `split` pass the split filter."""
        return self.split is None or same_split(self.split, split)

    def has_video(self, video_id: str) -> bool:
        """Whether `video_id` was added."""
        return video_id in self._videos

    def add_video(self, video: VideoRecord, where: str, *, repeat_ok: bool = False) -> None:
        """Register a video; a repeated id is an error unless `repeat_ok` and the duration agrees."""
        known = self._videos.get(video.video_id)
        if known is None:
            self._videos[video.video_id] = video
            self._segments[video.video_id] = []
        elif not repeat_ok:
            self.fail(where, f"duplicate video id {video.video_id!r}")
        elif abs(known.duration_sec - video.duration_sec) > 1e-6:
            self.fail(where, f"video {video.video_id!r} has duration {video.duration_sec}, "
                             f"earlier {known.duration_sec}")

    def add_query(self, query_id: int, video_id: str, text: object, windows: Iterable[object], where: str,
                  **saliency) -> None:
        """Clean and add one MR query, and one caption `Segment` per kept window.

        Args:
            query_id: the official evaluation id.
            video_id: a video already added.
            text: the raw sentence (stripped here, counted).
            windows: raw [start, end] pairs in seconds; an empty list means "no ground truth" (test releases).
            where: record description for counts and errors.
            **saliency: `saliency_clip_idx` and `saliency_scores` (QVHighlights).
        """
        self.num_records += 1
        if query_id in self._query_ids:
            self.fail(where, f"duplicate query id {query_id}")
        self._query_ids.add(query_id)
        video = self._videos[video_id]
        sentence = clean_text(text, self.quirks, where)
        raw = list(windows)
        kept = [w for w in (clean_window(p, video.duration_sec, self.quirks, where) for p in raw) if w is not None]
        if raw and not kept:
            self.quirks.note("dropped_query", where, f"query {query_id} has no window left; dropped")
            return
        self._queries.append(Query(query_id=query_id, video_id=video_id, text=sentence, windows=tuple(kept),
                                   duration_sec=video.duration_sec, split=video.split, **saliency))
        for start_sec, end_sec in kept:
            self._segments[video_id].append(Segment(start_sec, end_sec, caption=sentence, query_id=query_id))

    def add_class_segment(self, video_id: str, pair: object, label: object, where: str,
                          class_idx: int | None = None) -> None:
        """Clean and add one class-labelled segment.

        Args:
            video_id: a video already added.
            pair: raw [start, end] in seconds.
            label: class name (stripped, counted).
            where: record description.
            class_idx: the class index when the reader knows it (COIN step ids); else looked up from `label`.
        """
        self.num_records += 1
        name = clean_text(label, self.quirks, where, field="label")
        self._labels.add(name)
        if class_idx is None and self._classes is not None:
            if name not in self._class_idx:
                self.fail(where, f"unknown label {name!r} (not among the {len(self._classes)} classes)")
            class_idx = self._class_idx[name]
        window = clean_window(pair, self._videos[video_id].duration_sec, self.quirks, where)
        if window is not None:
            self._segments[video_id].append(Segment(window[0], window[1], label=name, class_idx=class_idx))

    def build(self) -> AnnotationSet:
        """Freeze into an `AnnotationSet`; without a given class list, the classes are the sorted labels met (also
        those of dropped segments)."""
        classes = self._classes if self._classes is not None else tuple(sorted(self._labels))
        lookup = {name: i for i, name in enumerate(classes)}
        videos = {}
        for video_id, video in self._videos.items():
            segments = tuple(s if s.label is None or s.class_idx is not None else replace(s, class_idx=lookup[s.label])
                             for s in self._segments[video_id])
            videos[video_id] = replace(video, segments=segments)
        return AnnotationSet(format=self.format, path=self.path, videos=videos, queries=tuple(self._queries),
                             classes=classes, quirks=self.quirks.report(), num_records=self.num_records,
                             class_ids=self.class_ids)
