"""Build a `TaskDataset` from a `TaskDataConfig`: annotations -> entries -> decoded or cached clips (paper §4).

`build_task_dataset(cfg, kind, role)` reads the annotation source of the role, chooses the task's classes (the file's,
a given list matched by name, or one side of a zero-shot split), caps segments, finds each video's file (or cache
entry), and wraps the clip dataset of the configured sampling (`frame_sampling`, `frame_transform`; with a frozen image
tower and `feature_cache`, the cache of `feature_spec_of`). Everything left out is counted in the dataset's `report`
(and logged): videos without a file, undecodable later (`TaskBatch.skipped`), segments of other classes, segments
past `max_segments`, videos left without any segment of the chosen classes, captions without windows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from unloc.data.cache_failures import missing_reasons
from unloc.data.clips import FeatureDataset, FrameDataset
from unloc.data.config import TaskDataConfig
from unloc.data.datasets import DataReport, Entry, TaskDataset, Tokenizer
from unloc.data.feature_spec import checkpoint_identity, feature_spec
from unloc.data.features import FeatureCache, find_cache
from unloc.data.formats import read_annotations
from unloc.data.paths import candidate_names, resolve_videos
from unloc.data.records import AnnotationSet, Query
from unloc.data.sampling import FpsSampling, LinspaceSampling
from unloc.data.transforms import FrameTransform

log = logging.getLogger(__name__)
KINDS = ("tal", "seg", "video_pretrain", "mr")


def read_class_split(path: str | Path, side: str) -> list[str]:
    """One side ('seen' or 'unseen') of a zero-shot split file {"seen": [...], "unseen": [...]}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    names = data.get(side) if isinstance(data, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{path}: '{side}' must be a non-empty list of class names")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: '{side}' lists a class twice")
    return names


def _class_index(ann: AnnotationSet, names: Sequence[str], split_file: str | None, report: DataReport) -> dict[int, int]:
    """Annotation class index -> index in `names` (by name; identity when the lists are equal).

    Names of a zero-shot split file must all be classes of the annotation file (a typo would silently empty a class);
    a class list given by the caller (e.g. the training set's) may hold classes this file never uses.
    """
    if tuple(names) == tuple(ann.classes):
        return {i: i for i in range(len(names))}
    position = {name: i for i, name in enumerate(names)}
    unknown = [n for n in names if n not in set(ann.classes)]
    if unknown and split_file:
        raise ValueError(f"{split_file}: class {unknown[0]!r} is not among the {len(ann.classes)} classes of {ann.path}")
    report.add("classes absent from the annotation file", unknown[0] if unknown else "", len(unknown))
    if len(position) != len(names) or len(set(ann.classes)) != len(ann.classes):
        raise ValueError(f"{ann.path}: class names repeat, so a class list cannot be matched by name")
    return {i: position[c] for i, c in enumerate(ann.classes) if c in position}


def _class_entries(ann: AnnotationSet, mapping: dict[int, int], subset: bool, max_segments: int,
                   report: DataReport) -> list[Entry]:
    """One entry per video with its kept segments (clip_index filled in later)."""
    entries = []
    for video in ann.videos.values():
        kept = [(s.start_sec, s.end_sec, mapping[s.class_idx]) for s in video.segments if s.class_idx in mapping]
        report.add("segments of other classes", video.video_id, len(video.segments) - len(kept))
        if subset and video.segments and not kept:
            report.add("videos without a segment of the chosen classes", video.video_id)
            continue
        if max_segments and len(kept) > max_segments:
            report.add(f"segments past max_segments={max_segments} (official: the first are kept)", video.video_id,
                       len(kept) - max_segments)
            kept = kept[:max_segments]
        entries.append(Entry(-1, video.video_id, video.duration_sec, segments=tuple(kept)))
    return entries


def _query_entries(ann: AnnotationSet, train: bool, per_query: bool, max_segments: int,
                   report: DataReport) -> list[Entry]:
    by_video: dict[str, list[Query]] = {}
    for query in ann.queries:
        if train and not query.windows:
            report.add("captions without windows (not trainable)", str(query.query_id))
            continue
        if max_segments and len(query.windows) > max_segments:
            report.add(f"windows past max_segments={max_segments}", str(query.query_id),
                       len(query.windows) - max_segments)
            query = dataclasses.replace(query, windows=query.windows[:max_segments])
        by_video.setdefault(query.video_id, []).append(query)
    entries = []
    for video_id, queries in by_video.items():
        duration = ann.videos[video_id].duration_sec if video_id in ann.videos else queries[0].duration_sec
        groups = [(q,) for q in queries] if per_query else [tuple(queries)]
        entries += [Entry(-1, video_id, duration, queries=g, pick_one=train and not per_query) for g in groups]
    return entries


def frame_sampling(cfg: TaskDataConfig, train: bool) -> LinspaceSampling | FpsSampling:
    """Linspace frames, or fixed-rate windows (training: one random window per video; evaluation: every window)."""
    s = cfg.sampling
    if s.fps > 0:
        return FpsSampling(fps=s.fps, window=s.window, mode="random" if train else "all")
    return LinspaceSampling(s.num_frames)


def frame_transform(cfg: TaskDataConfig, train: bool) -> FrameTransform:
    """The preprocessing of a role: random crop, flip and augmentation in training, centre crop otherwise."""
    image = cfg.image
    return FrameTransform(crop_size=image.crop_size, short_side=image.short_side, train=train,
                          flip_prob=image.flip_prob, scale_jitter=image.scale_jitter, rand_augment=image.rand_augment)


def reads_feature_cache(cfg: TaskDataConfig, tower) -> bool:
    """True when the datasets read cached image-tower tokens instead of frames: a cache is named and the image tower
    (a `TowerConfig`; None = the cache directory alone decides) is frozen."""
    return cfg.feature_cache is not None and (tower is None or tower.freeze_image)


def feature_spec_of(cfg: TaskDataConfig, tower, sampling: LinspaceSampling | FpsSampling) -> dict:
    """The spec of the features `tower` (a `TowerConfig`) gives for `sampling` and the test-time transform."""
    return feature_spec(tower=tower.arch, checkpoint=checkpoint_identity(tower.pretrained),
                        frame_token=tower.frame_token, sampling=sampling, transform=frame_transform(cfg, False),
                        dtype=cfg.feature_dtype)


def _open_feature_cache(cfg: TaskDataConfig, tower, sampling) -> FeatureCache:
    """The cache `cfg.feature_cache` names: a directory with manifest.json, or the cache under that root whose spec
    matches `tower` (a `TowerConfig`), the sampling and the test-time transform (`CacheMismatchError` otherwise)."""
    root = Path(cfg.feature_cache)
    if (root / "manifest.json").is_file():
        return FeatureCache.open(root)
    if tower is None:
        raise ValueError(f"{root} is a cache root: pass the model's TowerConfig to find the matching cache")
    return find_cache(root, feature_spec_of(cfg, tower, sampling))


def _locate(ids: list[str], cfg: TaskDataConfig, cache: FeatureCache | None) -> dict[str, str]:
    """Annotation id -> video file (or cache id) for the ids that have one."""
    if cache is None:
        return {k: str(v) for k, v in resolve_videos(ids, Path(cfg.video_root)).found.items()}
    found = {}
    for video_id in ids:
        name = next((n for n in candidate_names(video_id) if cache.path(n).is_file()), None)
        if name is not None:
            found[video_id] = name
    return found


def build_task_dataset(cfg: TaskDataConfig, kind: str, role: str, *, tokenizer: Tokenizer | None = None,
                       tower=None, class_names: Sequence[str] | None = None, seed: int = 0) -> TaskDataset:
    """The dataset of one task and role.

    Args:
        cfg: data configuration.
        kind: 'tal', 'mr', 'seg' or 'video_pretrain'.
        role: 'train' (training transform, random window, one caption per video, unreadable videos replaced) or
            'eval' (centre crop, every window, every caption, unreadable videos dropped from the batch).
        tokenizer: `unloc.model.build.build_tokenizer(model_cfg.tower)`; required for 'mr'.
        tower: the model's `TowerConfig`; cached features are read only when it freezes the image tower (or when it
            is None and `cfg.feature_cache` names a cache directory).
        class_names: the class list to label with (e.g. the training set's, so that evaluation agrees); default the
            file's classes, or the zero-shot side of `cfg.class_split` (seen for training, unseen for evaluation).
        seed: base seed of the per-item random draws.

    Returns:
        A `TaskDataset` with `class_names` and `report`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {KINDS}")
    train = role == "train"
    source = cfg.source(role)
    ann = read_annotations(Path(source.annotations), split=source.split)
    report = DataReport()
    names: list[str] = []
    if kind == "mr":
        entries = _query_entries(ann, train, cfg.mr_items == "query" and train, cfg.max_segments, report)
    else:
        if cfg.class_split and class_names is None:
            class_names = read_class_split(cfg.class_split, "seen" if train else "unseen")
        names = list(class_names) if class_names is not None else list(ann.classes)
        mapping = _class_index(ann, names, cfg.class_split, report)
        entries = _class_entries(ann, mapping, class_names is not None, cfg.max_segments, report)
    sampling = frame_sampling(cfg, train)
    cache = _open_feature_cache(cfg, tower, sampling) if reads_feature_cache(cfg, tower) else None
    found = _locate([e.video_id for e in entries], cfg, cache)
    missing = [e.video_id for e in entries if e.video_id not in found]
    if missing and not cfg.skip_bad:
        where = cache.dir if cache is not None else cfg.video_root
        raise FileNotFoundError(f"{len(missing)} videos of {source.annotations} have no file under {where}: "
                                f"{missing[:5]}")
    if cache is None:
        report.add("videos without a file", missing[0] if missing else "", len(missing))
    for cause, detail in (missing_reasons(cache, missing, cfg.video_root).values() if cache is not None else ()):
        report.add(cause, detail)  # unreadable (with the reason), without a file, or not extracted yet
    entries = [e for e in entries if e.video_id in found]
    order = list(dict.fromkeys(e.video_id for e in entries))  # one clip source per video
    sources = [found[v] for v in order]
    if cache is not None:
        clips = FeatureDataset(cache, sources, sampling, skip_bad=cfg.skip_bad, seed=seed)
    else:
        clips = FrameDataset(sources, sampling, frame_transform(cfg, train), video_ids=order, skip_bad=cfg.skip_bad,
                             seed=seed)
    entries = _attach(entries, order, clips)
    if report.counts:
        log.warning("%s (%s, %s): %s", source.annotations, kind, role, report.summary())
    return TaskDataset(clips, entries, class_names=names, tokenizer=tokenizer, replace_bad=train, seed=seed,
                       report=report)


def _attach(entries: list[Entry], order: list[str], clips) -> list[Entry]:
    """Point every entry at its clip item(s): one per video, or one per window of it (fps sampling, mode 'all')."""
    number = {video_id: i for i, video_id in enumerate(order)}
    items_of: dict[int, list[int]] = {}
    for index, (video_number, _) in enumerate(clips.items):
        items_of.setdefault(video_number, []).append(index)
    return [dataclasses.replace(entry, clip_index=index)
            for entry in entries for index in items_of[number[entry.video_id]]]


__all__ = ["KINDS", "build_task_dataset", "feature_spec_of", "frame_sampling", "frame_transform", "read_class_split",
           "reads_feature_cache"]
