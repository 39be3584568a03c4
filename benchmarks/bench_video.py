"""Decoding speed: decord's batched `get_batch` against frame-by-frame `vr[i]`, and the clip DataLoader's throughput.

Writes synthetic H.264 mp4s (moving shapes over a gradient, x264 defaults: keyframe every 250 frames, yuv420p) at two
sizes: 340x256 (a Kinetics/ActivityNet-like video whose short side is already the official 256) and 64x64 (the
mini-world). For each it times, on a fresh reader every repeat, reading the official 128 linspace frames and every
frame, once with one `get_batch` call and once with `vr[i]` per frame, and prints frames/s and the batched /
frame-by-frame ratio. Then it times epochs of the library's loader over a `FrameDataset` (`eval_batches` of
`TaskDataset.unannotated`; training transform: resize, random crop, flip, then CLIP normalisation in the worker or
uint8 output) with 0 and 2 workers, started per epoch as the training loader does, and prints clips/s, frames/s and
the ratio to normalised output with 0 workers.

Run: ``python benchmarks/bench_video.py`` (``--frames`` video length, ``--repeats``, ``--clips`` per epoch).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import decord
import numpy as np
import torch
from videowrite import moving_squares, write_video

from unloc.data.clips import FrameDataset
from unloc.data.datasets import TaskDataset, eval_batches
from unloc.data.sampling import LinspaceSampling, linspace_indices
from unloc.data.transforms import FrameTransform


def time_reads(path: Path, idx: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median seconds to read `idx` with one get_batch and with vr[i] per frame (fresh reader each time)."""
    batched, single = [], []
    for _ in range(repeats):
        reader = decord.VideoReader(str(path), num_threads=1)
        start = time.perf_counter()
        reader.get_batch(idx.tolist()).asnumpy()
        batched.append(time.perf_counter() - start)
        reader = decord.VideoReader(str(path), num_threads=1)
        start = time.perf_counter()
        for i in idx.tolist():
            reader[int(i)].asnumpy()
        single.append(time.perf_counter() - start)
    return statistics.median(batched), statistics.median(single)


def time_loader(paths: list[str], transform: FrameTransform, frames: int, workers: int, repeats: int) -> float:
    """Median seconds per epoch of `eval_batches` over `paths` (a warm-up epoch is not timed)."""
    dataset = TaskDataset.unannotated(FrameDataset(paths, LinspaceSampling(frames), transform, decode_threads=1))
    times = []
    for epoch in range(repeats + 1):
        dataset.set_epoch(epoch)
        start = time.perf_counter()
        count = sum(len(batch) for batch in eval_batches(dataset, batch_size=2, num_workers=workers))
        times.append(time.perf_counter() - start)
        assert count == len(paths)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=900, help="frames per synthetic video (30 fps; 30 s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clips", type=int, default=8, help="videos per DataLoader epoch")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one decode/transform thread per process, so worker scaling is visible
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, decord {decord.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for (height, width), crop, short in (((256, 340), 224, 256), ((64, 64), 56, 64)):
            path = Path(tmp) / f"synthetic_{width}x{height}.mp4"
            write_video(path, moving_squares(args.frames, height, width), fps=30)
            print(f"\n== {width}x{height}, {args.frames} frames @ 30 fps, {path.stat().st_size / 1e3:.0f} kB")
            for name, idx in (("linspace 128", linspace_indices(args.frames, 128)),
                              ("every frame", np.arange(args.frames))):
                batched, single = time_reads(path, idx, args.repeats)
                print(f"{name:>13}: get_batch {len(idx) / batched:8.0f} frames/s | vr[i] {len(idx) / single:8.0f} "
                      f"frames/s | batched / frame-by-frame = {single / batched:.2f}x")
            paths = [str(path)] * args.clips
            frames_total = 128 * args.clips
            base = None
            for normalize in (True, False):
                transform = FrameTransform(crop_size=crop, short_side=short, train=True, normalize=normalize)
                for workers in (0, 2):
                    seconds = time_loader(paths, transform, 128, workers, args.repeats)
                    base = base or seconds
                    output = "float32 normalised" if normalize else "uint8 (normalise on device)"
                    print(f"eval_batches, 128-frame clips, crop {crop}, {output:>27}, {workers} workers: "
                          f"{args.clips / seconds:6.2f} clips/s {frames_total / seconds:6.0f} frames/s "
                          f"| vs float32 + 0 workers {base / seconds:.2f}x")

if __name__ == "__main__":
    main()
