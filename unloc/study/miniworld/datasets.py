"""The mini-world's seven datasets: how each video is named, split, built and written.

Every video is built from its own random generator, seeded by (world seed, dataset, video index), so generating one
dataset alone, or videos in another order or in parallel, gives byte-identical files. `build_video` renders one
video (or, for the pair set, one frame stack) and returns its annotation record; `write_annotations` writes a
dataset's official files from all its records.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unloc.study.miniworld import writers
from unloc.study.miniworld.clips import frame_caption_pair, kinetics_classes, kinetics_clip
from unloc.study.miniworld.localization import coin_taxonomy, coin_video, tal_classes, tal_video, zero_shot_split
from unloc.study.miniworld.queries import anet_captions_video, charades_video, qvh_video
from unloc.study.miniworld.render import render_video
from unloc.study.miniworld.sizes import WorldSize
from unloc.study.miniworld.vocab import tal_class_name

DATASETS = ("kinetics", "anet13", "charades_sta", "qvhighlights", "anet_captions", "coin", "pairs")
_YOUTUBE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_CHARADES_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SPLITS = {  # (train name, held-out name) as each format spells them
    "kinetics": ("train", "val"), "anet13": ("training", "validation"), "charades_sta": ("train", "test"),
    "qvhighlights": ("train", "val"), "anet_captions": ("train", "val"), "coin": ("training", "testing"),
    "pairs": ("train", "val"),
}
PAIRS_TRAIN_FRACTION = 0.7
ZERO_SHOT = {"zero_shot_75_25": 0.75, "zero_shot_50_50": 0.5}
ZERO_SHOT_SPLITS_PER_RATIO = 3


def video_rng(seed: int, dataset: str, idx: int) -> np.random.Generator:
    """The generator that decides everything about one video."""
    return np.random.default_rng([seed, zlib.crc32(dataset.encode()), idx])


def num_items(size: WorldSize, dataset: str) -> int:
    return size.pairs.num_pairs if dataset == "pairs" else getattr(size, dataset).num_videos


def split_of(dataset: str, idx: int, size: WorldSize) -> str:
    """The first indices train (the set's `train_fraction`; 70 % of the pairs), the rest are held out (at least one
    in each)."""
    total = num_items(size, dataset)
    fraction = PAIRS_TRAIN_FRACTION if dataset == "pairs" else getattr(size, dataset).train_fraction
    n_train = min(total - 1, max(1, round(fraction * total)))
    return _SPLITS[dataset][0 if idx < n_train else 1]


def _random_id(rng: np.random.Generator, chars: str, length: int) -> str:
    return "".join(chars[i] for i in rng.integers(0, len(chars), size=length))


@dataclass(frozen=True)
class Job:
    """One unit of generation work; picklable, so a process pool can run it."""

    dataset: str
    idx: int
    seed: int
    size: WorldSize
    root: Path  # the dataset folder


def build_video(job: Job) -> tuple[dict, np.ndarray | None]:
    """Build, render and encode one video (pairs: render one frame stack, no file).

    Returns:
        The annotation record (with video_id, split, duration_sec, file, frames) and, for pairs, the
        (k, h, w, 3) uint8 frames.
    """
    size, name = job.size, job.dataset
    rng = video_rng(job.seed, name, job.idx)
    split = split_of(name, job.idx, size)
    if name == "pairs":
        frames, record = frame_caption_pair(rng, size)
        return {"idx": job.idx, "split": split, **record}, frames
    uid = _random_id(rng, _CHARADES_CHARS, 5) if name == "charades_sta" else _random_id(rng, _YOUTUBE_CHARS, 11)
    spec, fps = getattr(size, name), size.fps
    if name == "kinetics":
        scene, record = kinetics_clip(rng, size)
        record["video_id"] = uid
        file = writers.kinetics_video_name(record)
    elif name == "anet13":
        scene, record = tal_video(rng, spec, fps)
        record["video_id"], file = uid, f"v_{uid}.mp4"
    elif name == "charades_sta":
        scene, record = charades_video(rng, spec, fps)
        record.update(video_id=uid, subject=f"MW{int(rng.integers(100)):02d}",
                      objects=sorted({t.shape for t in scene.things}))
        file = f"{uid}.mp4"
    elif name == "qvhighlights":
        scene, record = qvh_video(rng, spec, fps)
        start = 30.0 * int(rng.integers(0, 20))
        record["video_id"] = f"{uid}_{start:.1f}_{start + scene.duration_sec:.1f}"
        for k, q in enumerate(record["queries"]):
            q["qid"] = job.idx * 10 + k
        file = f"{record['video_id']}.mp4"
    elif name == "anet_captions":
        scene, record = anet_captions_video(rng, spec, fps)
        record["video_id"] = file = f"v_{uid}"
        file += ".mp4"
    elif name == "coin":
        scene, record = coin_video(rng, spec, fps, coin_taxonomy(job.seed))
        record["video_id"], file = uid, f"{uid}.mp4"
    else:
        raise ValueError(f"unknown mini-world dataset {name!r}; known: {', '.join(DATASETS)}")
    path = job.root / "videos" / file
    path.parent.mkdir(parents=True, exist_ok=True)
    n_frames = render_video(scene, path, rng, size.frame_px, fps)
    record.update(split=split, duration_sec=scene.duration_sec, file=f"videos/{file}", frames=n_frames)
    return record, None


def count_annotations(dataset: str, records: list[dict]) -> int:
    """Instances (TAL), steps (COIN), queries or sentences (MR), clips (Kinetics) or pairs."""
    key = {"anet13": "annotations", "coin": "annotation", "charades_sta": "queries", "qvhighlights": "queries",
           "anet_captions": "sentences"}.get(dataset)
    return sum(len(r[key]) for r in records) if key else len(records)


def write_annotations(dataset: str, root: Path, records: list[dict], seed: int,
                      frames: np.ndarray | None = None) -> list[str]:
    """Write a dataset's official annotation files; returns their paths relative to `root`.

    Args:
        frames: for the pair set only, (pairs, k, h, w, 3) uint8.
    """
    if dataset == "kinetics":
        return writers.write_kinetics(root, records, kinetics_classes())
    if dataset == "anet13":
        splits = {f"{name}_{k}": zero_shot_split(seed, frac, k) for name, frac in ZERO_SHOT.items()
                  for k in range(ZERO_SHOT_SPLITS_PER_RATIO)}
        return writers.write_anet13(root, records, [tal_class_name(*c) for c in tal_classes()], splits)
    if dataset == "charades_sta":
        return writers.write_charades_sta(root, records)
    if dataset == "qvhighlights":
        return writers.write_qvhighlights(root, records)
    if dataset == "anet_captions":
        return writers.write_anet_captions(root, records)
    if dataset == "coin":
        return writers.write_coin(root, records, coin_taxonomy(seed))
    if dataset == "pairs":
        return writers.write_pairs(root, records, frames)
    raise ValueError(f"unknown mini-world dataset {dataset!r}; known: {', '.join(DATASETS)}")
