"""Video decoding with decord: the sampled frames, when they were shown, and errors that name the file.

`VideoFile` reads the frames UnLoc's samplers choose (`unloc.data.sampling`: evenly spread over the whole video, or a
fixed-rate stream cut into windows; paper §4.1) in one batched decord call and gives each frame's presentation time
in seconds. Every decord failure (a missing, empty, truncated or undecodable file; decord raises `RuntimeError` or
`decord.DECORDError`, which are unrelated classes) becomes a `VideoDecodeError` that names the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import decord
import numpy as np
import torch

from unloc.data.sampling import (
    fps_sample_times,
    frames_at_times,
    pad_samples,
)

_DECORD_ERRORS = (RuntimeError, decord.DECORDError)


class VideoDecodeError(RuntimeError):
    """A video that cannot be opened or decoded; `path` names the file and `reason` says what went wrong."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot decode video {self.path}: {reason}")

    def __reduce__(self):  # two-argument constructor: keep it picklable across worker processes
        return (type(self), (self.path, self.reason))


@dataclass
class Clip:
    """Frames sampled from one video, with the time each was shown.

    Attributes:
        frames: uint8 (t, h, w, 3) as decoded, float (t, 3, h, w) after `unloc.data.transforms`, or float (t, d)
            per-frame features read from the feature cache.
        timestamps_sec: float64 (t,) presentation time of each sampled frame; padded slots continue the sampling grid.
        mask: bool (t,) True = a real frame, False = padding at the end of the last window.
        frame_idx: int64 (t,) index of each sampled frame in the video, -1 on padding.
        video_path: the file the frames came from.
        duration_sec: length of the whole video (end time of its last frame).
        num_frames: number of frames in the whole video.
        fps: average frame rate of the video as reported by the container.
    """

    frames: torch.Tensor
    timestamps_sec: torch.Tensor
    mask: torch.Tensor
    frame_idx: torch.Tensor
    video_path: str
    duration_sec: float
    num_frames: int
    fps: float


_DENSE_SPAN = 8  # decode the span sequentially when it holds at most this many frames per requested frame
_DENSE_CHUNK = 64  # frames decoded per call on that path (bounds memory)


def _is_dense(frame_idx: np.ndarray) -> bool:
    """True when the requested frames are close enough that sequential decoding beats seeking to each one."""
    if frame_idx.size < 2:
        return False
    span = int(frame_idx.max() - frame_idx.min()) + 1
    return span <= _DENSE_SPAN * len(np.unique(frame_idx))


class VideoFile:
    """An opened video: frame count, rate, per-frame times, and batched reads that raise `VideoDecodeError`.

    Args:
        path: video file readable by decord (mp4, mkv, webm, avi ...).
        num_threads: decoder threads (0 = decord's automatic choice; 1 was faster on 2 cores, and DataLoader workers
            parallelise across videos).
    """

    def __init__(self, path: str | os.PathLike, num_threads: int = 1):
        self.path = str(path)
        file = Path(self.path)
        if file.is_dir():
            raise VideoDecodeError(self.path, "a directory, not a video file")
        if not file.is_file():
            raise VideoDecodeError(self.path, "file does not exist")
        if file.stat().st_size == 0:
            raise VideoDecodeError(self.path, "file is empty (0 bytes)")
        try:
            self._reader = decord.VideoReader(self.path, num_threads=num_threads)
            self.num_frames = len(self._reader)
            self.fps = float(self._reader.get_avg_fps())
        except _DECORD_ERRORS as err:
            raise VideoDecodeError(self.path, _short(err)) from err
        if self.num_frames < 1:
            raise VideoDecodeError(self.path, "the video stream has no frames")
        self._frame_times = None

    def frame_times_sec(self) -> np.ndarray:
        """(N, 2) float64 start and end time in seconds of every frame (decord's timestamps)."""
        if self._frame_times is None:
            try:
                times = self._reader.get_frame_timestamp(np.arange(self.num_frames))
            except _DECORD_ERRORS as err:
                raise VideoDecodeError(self.path, f"no frame timestamps: {_short(err)}") from err
            self._frame_times = np.asarray(times, dtype=np.float64).reshape(self.num_frames, 2)
        return self._frame_times

    @property
    def duration_sec(self) -> float:
        """End time of the last frame; falls back to N / fps when the container gives no end time."""
        end = float(self.frame_times_sec()[-1, 1])
        return end if end > 0 else self.num_frames / max(self.fps, 1e-6)

    def read(self, frame_idx: np.ndarray) -> torch.Tensor:
        """Decode the given frames in one batched call.

        Args:
            frame_idx: (t,) indices in [0, N-1], any order, repeats allowed.

        Returns:
            uint8 (t, h, w, 3) RGB frames.
        """
        frame_idx = np.asarray(frame_idx, dtype=np.int64)
        if frame_idx.size and (frame_idx.min() < 0 or frame_idx.max() >= self.num_frames):
            raise IndexError(f"{self.path}: frame index out of [0, {self.num_frames - 1}]")
        try:
            try:
                batch = self._read_dense(frame_idx) if _is_dense(frame_idx) else None
                if batch is None:
                    batch = self._reader.get_batch(frame_idx.tolist()).asnumpy()
            except decord.DECORDError as err:
                if "DECORDArrayCopyFromTo" not in str(err):
                    raise
                batch = self._read_row_padded(frame_idx)
        except _DECORD_ERRORS as err:
            raise VideoDecodeError(self.path, f"decoding failed: {_short(err)}") from err
        return torch.from_numpy(batch)

    def _read_dense(self, frame_idx: np.ndarray) -> np.ndarray:
        """Decode the whole span [min, max] in order, in chunks, keeping the requested frames: far faster than seeking
        to each frame when the frames are close together (small or low-rate videos), and memory stays one chunk."""
        wanted = np.unique(frame_idx)
        kept: dict[int, np.ndarray] = {}
        for lo in range(int(wanted[0]), int(wanted[-1]) + 1, _DENSE_CHUNK):
            chunk = wanted[(wanted >= lo) & (wanted < lo + _DENSE_CHUNK)]
            if not len(chunk):
                continue
            frames = self._reader.get_batch(list(range(lo, int(chunk[-1]) + 1))).asnumpy()
            kept.update({int(i): frames[i - lo] for i in chunk})
        return np.stack([kept[int(i)] for i in frame_idx])

    def _read_row_padded(self, frame_idx: np.ndarray) -> np.ndarray:
        """Frame-by-frame read for the few tiny widths (16, 24, 48, 72 px ...) where decord 0.6 pads each RGB row to a
        64-byte multiple: `get_batch` then fails on a size check and single frames come back as (h, w, padded / w)."""
        frames = []
        for i in frame_idx.tolist():
            raw = self._reader[i].asnumpy()
            height, width = raw.shape[:2]
            frames.append(raw.reshape(height, -1)[:, :width * 3].reshape(height, width, 3))
        return np.stack(frames)

    def clip(self, frame_idx: np.ndarray, pad_to: int | None = None, grid_step_sec: float | None = None) -> Clip:
        """Read frames into a `Clip`, padding at the end to `pad_to` slots (mask False) when given.

        Args:
            frame_idx: (t,) frame indices.
            pad_to: final length T >= t; padded frames are zeros with timestamps continuing the grid.
            grid_step_sec: spacing of padded timestamps (default 1 / fps).

        Returns:
            A `Clip` with T frames.
        """
        frames = self.read(frame_idx)
        times = torch.as_tensor(self.frame_times_sec()[frame_idx, 0], dtype=torch.float64)
        step = grid_step_sec if grid_step_sec is not None else 1.0 / max(self.fps, 1e-6)
        frames, times, mask, idx = pad_samples(frames, times, torch.as_tensor(frame_idx), pad_to, step)
        return Clip(frames=frames, timestamps_sec=times, mask=mask, frame_idx=idx, video_path=self.path,
                    duration_sec=self.duration_sec, num_frames=self.num_frames, fps=self.fps)

    def fps_frame_idx(self, sample_fps: float) -> np.ndarray:
        """(K,) frame indices shown at t = k / sample_fps over the whole video (variable frame rate safe)."""
        times = fps_sample_times(self.duration_sec, sample_fps)
        return frames_at_times(self.frame_times_sec()[:, 0], times)


def _short(err: BaseException) -> str:
    """First line of a decord error without its C++ source location prefix."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text.split(": ", 1)[1] if text.startswith("[") and ": " in text else text
