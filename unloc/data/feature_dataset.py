"""Clips of cached per-frame features, a drop-in for decoded frames when the image tower is frozen (paper §4.3).

`FeatureDataset` yields the same `(video_id, window_start, Clip)` items as `FrameDataset`, with `clip.frames` holding
features (t, d) instead of pixels, so `unloc.data.loader.ClipLoader` serves both and the training loop only has to
skip the image tower for 3-D inputs. Fixed-rate windows are cut from the cached whole-video stream here, so one cache
serves every window length.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence

import torch

from unloc.data.feature_spec import sampling_spec
from unloc.data.features import CacheEntryError, FeatureCache
from unloc.data.frames import ClipDataset, FpsSampling, LinspaceSampling
from unloc.data.sampling import pad_samples
from unloc.data.video import Clip


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
        features, times, mask, frame_idx = entry.features.float(), entry.timestamps_sec, entry.mask, entry.frame_idx
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
