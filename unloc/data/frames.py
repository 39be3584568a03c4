"""A torch Dataset of sampled, preprocessed clips: the frames UnLoc's image tower reads (paper §3, §4.1).

The training input is a clip of frames per video: evenly spread over the whole video for localization and retrieval
(`LinspaceSampling`), or a fixed-rate window for segmentation (`FpsSampling`). `FrameDataset` decodes and transforms
one clip per item (in DataLoader workers; `unloc.data.loader.ClipLoader` batches them). Random draws (crop, flip,
window) depend only on (seed, epoch, index), so they do not change with the number of workers. A bad video either
raises `VideoDecodeError` naming the file or, with `skip_bad=True`, becomes a `BadVideo` item that the loader counts
and reports.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from unloc.data.sampling import WindowMode, choose_window_start, linspace_indices, window_starts
from unloc.data.transforms import FrameTransform
from unloc.data.video import Clip, VideoDecodeError, VideoFile


@dataclass(frozen=True)
class LinspaceSampling:
    """F frames at floor(linspace(0, N-1, F)) over the whole video (128 for TAL / MR in the paper)."""

    num_frames: int = 128

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError(f"LinspaceSampling.num_frames must be >= 1, got {self.num_frames}")


@dataclass(frozen=True)
class FpsSampling:
    """Frames at `fps` per second cut into windows of `window` (2 fps and 512 for segmentation).

    `mode`: "all" = one dataset item per consecutive window; "random" / "center" = one window per video, starting
    anywhere (stride 1, official COIN training) or in the middle (official test).
    """

    fps: float = 2.0
    window: int = 512
    mode: WindowMode = "all"

    def __post_init__(self):
        if not 0 < self.fps < math.inf or self.window < 1 or self.mode not in ("all", "random", "center"):
            raise ValueError(f"FpsSampling needs a finite fps > 0, window >= 1 and mode all / random / center, got "
                             f"{self.fps}, {self.window}, {self.mode!r}")


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

    Subclasses give `_num_samples(number)` (length of a video's sample stream, for indexing windows) and
    `_load(number, start, generator) -> (window_start, Clip)`. Errors of the types in `skippable` become `BadVideo`
    items when `skip_bad` is set; they must carry `.path` and `.reason`.

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

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[str, int, Clip] | BadVideo:
        """Item `index`, or `(epoch, index)` as `ClipLoader` asks (so persistent workers see the epoch)."""
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
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
