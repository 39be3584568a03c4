"""Writing frames to an mp4 file with PyAV (libx264), for synthetic videos, tests and benchmarks.

Not part of the paper's method: it lets the decoding pipeline be exercised on files it can read back. Lossless mode
(crf 0 with yuv444p, no chroma subsampling) decodes within ±1 of the written RGB values, so tests can check exact
pixels; the default lossy yuv420p mode is what real videos look like. `moving_squares` makes cheap content with motion
for benchmarks.
"""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 10.0, *, lossless: bool = False,
                faststart: bool = False, gop: int | None = None) -> None:
    """Encode RGB frames as an H.264 mp4.

    Args:
        path: output file.
        frames: uint8 (t, h, w, 3) RGB; h and w must be even unless `lossless` (yuv444p).
        fps: frame rate written into the container.
        lossless: crf 0 + yuv444p, pixel-exact within ±1 after decoding.
        faststart: put the index (moov atom) at the front of the file, as streaming-ready videos have.
        gop: keyframe interval in frames (None = the encoder's default).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames (t, h, w, 3), got {frames.dtype} {frames.shape}")
    options = {"crf": "0"} if lossless else {}
    if gop is not None:
        options["g"] = str(gop)
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001), options=options)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv444p" if lossless else "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def moving_squares(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 (t, h, w, 3): a colour gradient with three squares moving at different speeds (compresses like video)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    background = np.stack([cols * 255 // width, rows * 255 // height, np.full_like(rows, 96)], -1).astype(np.uint8)
    frames = np.repeat(background[None], num_frames, axis=0)
    side = max(4, min(height, width) // 6)
    for colour, speed in zip(rng.integers(0, 256, (3, 3)), (1, 2, 3)):
        for t in range(num_frames):
            top = (t * speed) % (height - side)
            left = (t * speed * 2 + 17 * speed) % (width - side)
            frames[t, top:top + side, left:left + side] = colour
    return frames
