"""Normalized annotation records: what every reader in `unloc.data.formats` returns.

Six official formats (QVHighlights jsonl, Charades-STA txt, ActivityNet Captions json, ActivityNet-1.3 json, COIN json,
Kinetics csv) are read into one shape, so that the datasets, the mini-world and the evaluators see a single schema:
videos with a duration in seconds and a list of segments in seconds, each labelled with a class (temporal action
localization, action segmentation, Kinetics clips) or a caption (moment retrieval), plus, for moment retrieval, one
`Query` per caption whose id follows the official evaluation convention of its benchmark. Times are seconds everywhere
here; conversion to sampled-frame units happens later (UnLoc paper §3, label assignment). Every record is a frozen
dataclass; the quirks met while reading are counted in a `QuirkReport` (see `unloc.data.formats.quirks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

Window = tuple[float, float]  # (start_sec, end_sec), start_sec < end_sec


@dataclass(frozen=True, slots=True)
class Segment:
    """One annotated time span of a video.

    Attributes:
        start_sec: start in seconds from the video's first frame, 0 <= start_sec < end_sec.
        end_sec: end in seconds, end_sec <= the video's duration.
        label: class name (TAL, AS, Kinetics); None for captions.
        class_idx: index of the class in `AnnotationSet.classes`; None for captions. COIN step names repeat across
            tasks, so the index (not the name) identifies the class.
        caption: the sentence (MR); None for class segments.
        query_id: id of the `Query` this span belongs to (MR); None otherwise.
    """

    start_sec: float
    end_sec: float
    label: str | None = None
    class_idx: int | None = None
    caption: str | None = None
    query_id: int | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """One moment-retrieval query: a sentence and the windows of one video that it describes.

    Attributes:
        query_id: the id the benchmark's evaluation uses (QVHighlights `qid`; Charades-STA 0-based line number;
            ActivityNet Captions 0-based position over videos in file order, then sentences in order).
        video_id: id of the video, as written in the annotation file.
        text: the sentence, stripped of surrounding spaces.
        windows: ground-truth (start_sec, end_sec) spans, possibly several (QVHighlights); empty for a test split
            released without ground truth.
        duration_sec: duration of the video in seconds.
        split: split name taken from the file ("train", "val", "val_1", "test", ...).
        saliency_clip_idx: QVHighlights only: indices of the relevant 2 s clips (clip i covers [2i, 2i + 2) s).
        saliency_scores: QVHighlights only: per relevant clip, the 0-4 scores of the 3 annotators.
    """

    query_id: int
    video_id: str
    text: str
    windows: tuple[Window, ...]
    duration_sec: float
    split: str | None
    saliency_clip_idx: tuple[int, ...] = ()
    saliency_scores: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """One video and its segments.

    Attributes:
        video_id: id as written in the file (ActivityNet Captions keeps `v_`; ActivityNet-1.3 uses the official ids
            without `v_`; Kinetics uses `{youtube_id}_{start:06d}_{end:06d}`).
        duration_sec: duration in seconds (Charades-STA: the `length` column of `Charades_v1_*.csv`).
        split: split or subset name as written in the file ("training", "validation", "train", ...); None if unknown.
        segments: the cleaned segments, in file order.
        fps: frames per second when the annotation gives it (ActivityNet-1.3 BSN layout), else None.
        num_frames: number of frames when the annotation gives it, else None.
        task: COIN task name (`class` field), else None.
    """

    video_id: str
    duration_sec: float
    split: str | None
    segments: tuple[Segment, ...] = ()
    fps: float | None = None
    num_frames: int | None = None
    task: str | None = None


@dataclass(frozen=True)
class QuirkReport:
    """How many times each quirk was met while reading, with the first few examples.

    Attributes:
        counts: quirk name -> number of occurrences (names and policies in `unloc.data.formats.quirks.POLICIES`).
        examples: quirk name -> up to a few "file: record: detail" strings.
    """

    counts: Mapping[str, int] = field(default_factory=dict)
    examples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def count(self, name: str) -> int:
        """Number of occurrences of quirk `name` (0 when never met)."""
        return int(self.counts.get(name, 0))


@dataclass(frozen=True)
class AnnotationSet:
    """Everything read from one annotation file.

    Attributes:
        format: format name (a key of `unloc.data.formats.READERS`).
        path: the file read.
        videos: video id -> record, in file order.
        queries: moment-retrieval queries in file order (empty for class-labelled formats).
        classes: class names; index = `Segment.class_idx` (empty for caption formats).
        quirks: counted quirks.
        num_records: records read from the file before any was dropped (lines, sentences or segment annotations).
        class_ids: the dataset's own id of each class, aligned with `classes`, where names are not unique (COIN step
            ids); empty otherwise.
    """

    format: str
    path: Path
    videos: Mapping[str, VideoRecord]
    queries: tuple[Query, ...]
    classes: tuple[str, ...]
    quirks: QuirkReport
    num_records: int
    class_ids: tuple[str, ...] = ()

    @property
    def num_segments(self) -> int:
        """Total number of segments over all videos."""
        return sum(len(v.segments) for v in self.videos.values())

    def split_counts(self) -> dict[str, dict[str, int]]:
        """Per split: number of videos, queries and segments (split None is reported as "unknown")."""
        out: dict[str, dict[str, int]] = {}
        for video in self.videos.values():
            row = out.setdefault(video.split or "unknown", {"videos": 0, "queries": 0, "segments": 0})
            row["videos"] += 1
            row["segments"] += len(video.segments)
        for query in self.queries:
            out.setdefault(query.split or "unknown", {"videos": 0, "queries": 0, "segments": 0})["queries"] += 1
        return out
