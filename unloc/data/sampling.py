"""Which frames a clip takes: the index arithmetic of UnLoc's two samplers, pure functions of counts and times.

UnLoc feeds the image tower a fixed number of frames spread evenly over the whole untrimmed video (paper §4.1: 128
frames for temporal action localization and moment retrieval), and for action segmentation a fixed-rate stream cut
into windows (512 frames; the official COIN config takes one contiguous window). The indices, times and window
offsets are computed here, and a sampling is named by `LinspaceSampling` or `FpsSampling`; `unloc.data.video`
decodes the chosen frames, and `pad_samples` pads the last window of decoded frames and of cached features alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

WindowMode = Literal["all", "random", "center"]


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


def linspace_indices(num_frames: int, num_samples: int) -> np.ndarray:
    """Frame indices floor(linspace(0, N-1, F)): the official UnLoc sampling over the whole video.

    The first and last frames are always taken; a video shorter than `num_samples` repeats frames.

    Args:
        num_frames: N, frames in the video (>= 1).
        num_samples: F, frames to sample (>= 1).

    Returns:
        int64 (F,) non-decreasing indices in [0, N-1].
    """
    if num_frames < 1 or num_samples < 1:
        raise ValueError(f"need num_frames >= 1 and num_samples >= 1, got {num_frames} and {num_samples}")
    return np.floor(np.linspace(0.0, num_frames - 1, num_samples)).astype(np.int64)


def fps_sample_times(duration_sec: float, sample_fps: float) -> np.ndarray:
    """Sampling times t_k = k / sample_fps for every k with t_k < duration_sec.

    Args:
        duration_sec: length of the video.
        sample_fps: sampling rate in frames per second (the paper's action segmentation uses 2).

    Returns:
        float64 (K,) times in seconds, K = ceil(duration * fps) and at least 1.
    """
    if sample_fps <= 0:
        raise ValueError(f"sample_fps must be positive, got {sample_fps}")
    count = max(1, math.ceil(duration_sec * sample_fps - 1e-9))
    return np.arange(count, dtype=np.float64) / sample_fps


def frames_at_times(frame_start_sec: np.ndarray, times_sec: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each time: the last frame whose start time is <= t.

    Args:
        frame_start_sec: (N,) non-decreasing start time of every frame of the video.
        times_sec: (K,) query times.

    Returns:
        int64 (K,) frame indices in [0, N-1] (times before the first frame map to frame 0).
    """
    idx = np.searchsorted(frame_start_sec, times_sec + 1e-9, side="right") - 1
    return np.clip(idx, 0, len(frame_start_sec) - 1).astype(np.int64)


def window_starts(num_samples: int, window: int) -> np.ndarray:
    """Start offsets of consecutive non-overlapping windows of `window` samples covering all `num_samples`."""
    return np.arange(0, max(num_samples, 1), window, dtype=np.int64)


def choose_window_start(num_samples: int, window: int, mode: WindowMode, generator: torch.Generator | None) -> int:
    """Start offset of the single window a clip takes from a longer sample stream (official COIN behaviour).

    Args:
        num_samples: samples available.
        window: window length W.
        mode: "random" = uniform over every start with stride 1 (training), "center" = the middle window (test).
        generator: torch RNG for "random".

    Returns:
        Offset in [0, max(0, num_samples - W)].
    """
    slack = max(0, num_samples - window)
    if mode == "center":
        return slack // 2
    if mode == "random":
        return int(torch.randint(0, slack + 1, (1,), generator=generator))
    raise ValueError(f"window mode must be 'random' or 'center' here, got {mode!r}")


def pad_samples(values: torch.Tensor, times_sec: torch.Tensor, frame_idx: torch.Tensor, pad_to: int | None,
                step_sec: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a run of t samples at the end to `pad_to` slots.

    Args:
        values: (t, ...) frames or features; padded with zeros.
        times_sec: (t,) timestamps; padded slots continue from the last one every `step_sec`.
        frame_idx: (t,) frame indices; padded with -1.
        pad_to: final length T >= t, or None for no padding.
        step_sec: spacing of padded timestamps.

    Returns:
        values (T, ...), times_sec float64 (T,), mask bool (T,) True on the t real samples, frame_idx int64 (T,).
    """
    count = values.shape[0]
    pad = 0 if pad_to is None else pad_to - count
    if pad < 0:
        raise ValueError(f"pad_to={pad_to} is shorter than the {count} samples")
    times_sec = times_sec.to(torch.float64)
    mask = torch.arange(count + pad) < count
    if pad:
        last = float(times_sec[-1]) if count else 0.0
        extra = last + step_sec * torch.arange(1, pad + 1, dtype=torch.float64)
        times_sec = torch.cat([times_sec, extra])
        values = torch.cat([values, values.new_zeros((pad, *values.shape[1:]))])
        frame_idx = torch.cat([frame_idx, frame_idx.new_full((pad,), -1)])
    return values, times_sec, mask, frame_idx.to(torch.int64)
