"""Clip datasets: one sampled clip per video (or per window of it), as decoded frames or as cached features (paper §3,
§4.1, §4.3).

The image tower reads a clip of frames per video: evenly spread over the whole video for localization and retrieval
(`LinspaceSampling`), or a fixed-rate window for segmentation (`FpsSampling`). `FrameDataset` decodes and transforms
the clip (in DataLoader workers); with a frozen image tower, `FeatureDataset` reads the same clip's per-frame features
from a `FeatureCache` instead, cutting fixed-rate windows from the cached whole-video stream, so one cache serves every
window length and `clip.frames` holds (t, d) features where the frame path has (t, 3, s, s) pixels. Random draws
(crop, flip, window) depend only on (seed, epoch, index), so they do not change with the number of workers. An
unreadable video either raises an error naming the file or, with `skip_bad=True`, becomes a `BadVideo` item that the
task loaders count and report (`unloc.data.collate`).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from unloc.data.feature_spec import sampling_spec
from unloc.data.features import CacheEntryError, FeatureCache
from unloc.data.sampling import (
    FpsSampling,
    LinspaceSampling,
    choose_window_start,
    linspace_indices,
    pad_samples,
    window_starts,
)
from unloc.data.transforms import FrameTransform
from unloc.data.video import Clip, VideoDecodeError, VideoFile


@dataclass(frozen=True)
class BadVideo:
    """Placeholder a dataset returns for a video it skipped."""

    path: str
    reason: str


def item_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A torch RNG that depends only on (seed, epoch, index), so results do not depend on the number of workers."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


class ClipDataset(Dataset):
    """Shared item logic of clip datasets: one item per video, or per window with `FpsSampling(mode="all")`.

    Items are `(video_id, window_start, Clip)`, or `BadVideo`. Subclasses give `_num_samples(number)` (length of a
    video's sample stream, for indexing windows) and `_load(number, start, generator) -> (window_start, Clip)`. Errors
    of the types in `skippable` become `BadVideo` items when `skip_bad` is set; they must carry `.path` and `.reason`.

    Args:
        paths: one source path per video (a video file, or a cache file).
        video_ids: identifiers, one per video.
        sampling: `LinspaceSampling` or `FpsSampling`.
        skip_bad: return a `BadVideo` for an unreadable video instead of raising.
        seed: base seed of the per-item random draws; call `set_epoch` to vary them per epoch.
    """

    skippable: tuple[type[Exception], ...] = (VideoDecodeError,)

    def __init__(self, paths: Sequence[str], video_ids: Sequence[str], sampling: LinspaceSampling | FpsSampling, *,
                 skip_bad: bool, seed: int):
        if len(video_ids) != len(paths):
            raise ValueError(f"{len(video_ids)} video ids for {len(paths)} videos")
        self.paths, self.video_ids, self.sampling = list(paths), list(video_ids), sampling
        self.skip_bad, self.seed, self.epoch = skip_bad, seed, 0
        # items: (video number, window start); "all" windows need each video's length up front.
        self.items: list[tuple[int, int]] = []
        self.bad_at_index: dict[int, BadVideo] = {}
        for number in range(len(self.paths)):
            if isinstance(sampling, FpsSampling) and sampling.mode == "all":
                self._index_windows(number)
            else:
                self.items.append((number, 0))

    def _num_samples(self, number: int) -> int:
        raise NotImplementedError

    def _load(self, number: int, start: int, generator: torch.Generator) -> tuple[int, Clip]:
        raise NotImplementedError

    def _index_windows(self, number: int) -> None:
        try:
            count = self._num_samples(number)
        except self.skippable as err:
            if not self.skip_bad:
                raise
            self.bad_at_index[len(self.items)] = BadVideo(err.path, err.reason)
            self.items.append((number, 0))
            return
        self.items.extend((number, int(s)) for s in window_starts(count, self.sampling.window))

    def window_start(self, num_samples: int, start: int, generator: torch.Generator) -> int:
        """The window's offset: the indexed one in mode "all", else a random / centred one."""
        if self.sampling.mode == "all":
            return start
        return choose_window_start(num_samples, self.sampling.window, self.sampling.mode, generator)

    def set_epoch(self, epoch: int) -> None:
        """Change the random draws (crop, flip, window) for a new epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[str, int, Clip] | BadVideo:
        return self.item(index, self.epoch)

    def item(self, index: int, epoch: int) -> tuple[str, int, Clip] | BadVideo:
        """Item `index` with the random draws of `epoch`."""
        number, start = self.items[index]
        if index in self.bad_at_index:
            return self.bad_at_index[index]
        try:
            start, clip = self._load(number, start, item_generator(self.seed, epoch, index))
        except self.skippable as err:
            if self.skip_bad:
                return BadVideo(err.path, err.reason)
            raise
        except Exception as err:  # not a bad input: re-raise, but say which file it happened on
            raise RuntimeError(f"loading {self.paths[number]} failed: {type(err).__name__}: {err}") from err
        return self.video_ids[number], start, clip


class FrameDataset(ClipDataset):
    """Decoded, preprocessed clips: items are `(video_id, window_start, Clip)` with frames float (t, 3, s, s).

    Args:
        videos: video files.
        sampling: `LinspaceSampling` or `FpsSampling`.
        transform: `FrameTransform` applied to each clip (train = random crop/flip).
        video_ids: identifiers, one per video (default: file stems).
        skip_bad: return a `BadVideo` for a video that cannot be decoded instead of raising `VideoDecodeError`.
        seed: base seed of the per-item random draws.
        decode_threads: decord threads per reader (1 suits DataLoader workers).
    """

    def __init__(self, videos: Sequence[str | os.PathLike], sampling: LinspaceSampling | FpsSampling,
                 transform: FrameTransform, *, video_ids: Sequence[str] | None = None, skip_bad: bool = False,
                 seed: int = 0, decode_threads: int = 1):
        self.transform, self.decode_threads = transform, decode_threads
        paths = [str(p) for p in videos]
        ids = list(video_ids) if video_ids is not None else [Path(p).stem for p in paths]
        super().__init__(paths, ids, sampling, skip_bad=skip_bad, seed=seed)

    def _num_samples(self, number: int) -> int:
        return len(VideoFile(self.paths[number], num_threads=1).fps_frame_idx(self.sampling.fps))

    def _load(self, number: int, start: int, generator: torch.Generator) -> tuple[int, Clip]:
        video = VideoFile(self.paths[number], num_threads=self.decode_threads)
        if isinstance(self.sampling, LinspaceSampling):
            clip = video.clip(linspace_indices(video.num_frames, self.sampling.num_frames))
            start = 0
        else:
            idx = video.fps_frame_idx(self.sampling.fps)
            start = self.window_start(len(idx), start, generator)
            window = self.sampling.window
            clip = video.clip(idx[start:start + window], pad_to=window, grid_step_sec=1.0 / self.sampling.fps)
        clip.frames = self.transform(clip.frames, generator)  # (t, h, w, 3) uint8 -> (t, 3, s, s) float
        clip.frames[~clip.mask] = 0.0  # padding stays exactly zero after normalisation
        return start, clip


class FeatureDataset(ClipDataset):
    """Items `(video_id, window_start, Clip)` with `clip.frames` = float32 features (t, d) from a `FeatureCache`.

    Args:
        cache: the cache (its spec must have been extracted with the same sampling kind and rate / frame count).
        video_ids: videos to serve.
        sampling: `LinspaceSampling(F)` matching the cache, or `FpsSampling(fps, window, mode)` with the cache's fps.
        skip_bad: return a `BadVideo` for a missing or corrupt cache entry instead of raising `CacheEntryError`.
        seed: base seed of the random window choice (mode "random").
    """

    skippable = (CacheEntryError,)

    def __init__(self, cache: FeatureCache, video_ids: Sequence[str], sampling: LinspaceSampling | FpsSampling, *,
                 skip_bad: bool = False, seed: int = 0):
        if sampling_spec(sampling) != cache.spec["sampling"]:
            raise ValueError(f"sampling {sampling_spec(sampling)} does not match the cache's {cache.spec['sampling']}"
                             f" ({cache.dir})")
        self.cache = cache
        super().__init__([str(cache.path(v)) for v in video_ids], list(video_ids), sampling, skip_bad=skip_bad,
                         seed=seed)

    def _num_samples(self, number: int) -> int:
        path = self.paths[number]
        try:
            with open(path, "rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                return int(json.loads(handle.read(length))["__metadata__"]["num_samples"])
        except (OSError, ValueError, KeyError, TypeError, struct.error) as err:
            raise CacheEntryError(path, f"cannot read its header ({err})") from err

    def _load(self, number: int, start: int, generator: torch.Generator) -> tuple[int, Clip]:
        entry = self.cache.read(self.video_ids[number])
        features, times, mask, frame_idx = entry.frames.float(), entry.timestamps_sec, entry.mask, entry.frame_idx
        if isinstance(self.sampling, LinspaceSampling):
            start = 0
        else:
            start = self.window_start(len(features), start, generator)
            span = slice(start, start + self.sampling.window)
            real = mask[span]
            features, times, mask, frame_idx = pad_samples(features[span], times[span], frame_idx[span],
                                                           self.sampling.window, 1.0 / self.sampling.fps)
            mask[:len(real)] &= real  # (window,) padding and samples the cache marked invalid are both False
        clip = Clip(frames=features, timestamps_sec=times, mask=mask, frame_idx=frame_idx,
                    video_path=entry.video_path, duration_sec=entry.duration_sec, num_frames=entry.num_frames,
                    fps=entry.fps)
        return start, clip


__all__ = ["BadVideo", "ClipDataset", "FeatureDataset", "FrameDataset", "item_generator"]
