"""Soft-NMS speed on ActivityNet-size videos: ``unloc.ops.nms.soft_nms`` against a per-candidate Python loop.

One video = 200 classes x 240 pyramid positions (T = 128 frames, 4 levels) = 48,000 candidates, decoded from random
displacements over a 120 s video; class-agnostic Gaussian Soft-NMS with the official settings (TF sigma 0.3, score
threshold 0.001, top 100). Scores mimic a trained TAL head: most classes near sigmoid(-6), two "present" classes
with high scores around two actions. Prints the median ms per video over several runs, the batched figure (8 videos
at once), and the ratio to a plain Python greedy loop timed once on the same video in this process.

Run: ``python benchmarks/bench_nms.py`` (one torch thread by default, like the Python baseline; ``--threads N``).
Wall and process-CPU times are both printed: on a shared machine the CPU column is the steadier one.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

import torch

from unloc.ops.decode import decode_segments
from unloc.ops.nms import soft_nms
from unloc.ops.segments import linspace_sec_per_unit, make_points

NUM_CLASSES, NUM_FRAMES, STRIDES = 200, 128, (1, 2, 4, 8)
NMS_KW = {"method": "gaussian", "sigma": 0.3, "score_threshold": 0.001, "top_k": 100}


def make_videos(b: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(b, 48000, 2) segments in seconds, (b, 48000) scores, (b, 48000) class labels."""
    g = torch.Generator().manual_seed(seed)
    anchors, strides = make_points(NUM_FRAMES, STRIDES)
    t = anchors.numel()
    offsets = torch.rand(b, NUM_CLASSES, t, 2, generator=g) * 6  # (b, q, T, 2) in strides
    segments = decode_segments(offsets, anchors, strides, sec_per_unit=linspace_sec_per_unit(1200, 10.0, NUM_FRAMES),
                               duration_sec=120.0)
    logits = torch.randn(b, NUM_CLASSES, t, generator=g) * 1.5 - 6.0
    for v in range(b):  # two present classes, confident around two actions
        cls = torch.randint(0, NUM_CLASSES, (2,), generator=g)
        centre = torch.randint(0, NUM_FRAMES, (2,), generator=g).float()
        near = (anchors[None] - centre[:, None]).abs() < 24  # (2, T)
        logits[v, cls] += near.float() * 7.0
    labels = torch.arange(NUM_CLASSES)[None, :, None].expand(b, NUM_CLASSES, t)
    return segments.reshape(b, -1, 2), logits.sigmoid().reshape(b, -1), labels.reshape(b, -1)


def python_loop_soft_nms(segments: list[list[float]], scores: list[float]) -> list[int]:
    """Straightforward greedy Soft-NMS: per round, scan all live candidates for the max, then decay each one."""
    sigma, thr, top_k = NMS_KW["sigma"], NMS_KW["score_threshold"], NMS_KW["top_k"]
    live = [i for i in range(len(scores)) if scores[i] > thr]
    cur = list(scores)
    kept: list[int] = []
    while live and len(kept) < top_k:
        best = live[0]
        for i in live:
            if cur[i] > cur[best]:
                best = i
        kept.append(best)
        bs, be = segments[best]
        survivors = []
        for i in live:
            if i == best:
                continue
            s, e = segments[i]
            inter = max(0.0, min(be, e) - max(bs, s))
            union = (be - bs) + (e - s) - inter
            iou = inter / union if union > 0 else 0.0
            cur[i] *= math.exp(-iou * iou / (2 * sigma))
            if cur[i] > thr:
                survivors.append(i)
        live = survivors
    return kept


def median_ms(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and process-CPU milliseconds of ``fn()`` (CPU time is robust to a busy machine)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads; 1 (default) matches the single-threaded Python loop, 0 = torch's "
                             "own choice")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")

    segs, scores, _ = make_videos(1)
    n = scores.shape[1]
    print(f"one video: {n} candidates, {int((scores > NMS_KW['score_threshold']).sum())} above the score threshold; "
          f"Gaussian soft-NMS, TF sigma {NMS_KW['sigma']}, top {NMS_KW['top_k']}, class-agnostic")
    ours = median_ms(lambda: soft_nms(segs, scores, **NMS_KW), args.repeats)
    full = median_ms(lambda: soft_nms(segs, scores, window=n, **NMS_KW), args.repeats)

    seg_list, score_list = segs[0].double().tolist(), scores[0].double().tolist()
    w0, c0 = time.perf_counter(), time.process_time()
    loop_kept = python_loop_soft_nms(seg_list, score_list)
    loop = 1000 * (time.perf_counter() - w0), 1000 * (time.process_time() - c0)
    torch_kept = soft_nms(segs[0].double(), scores[0].double(), **NMS_KW).indices.tolist()
    same = "identical" if torch_kept == loop_kept else "DIFFERENT"

    print(f"{'':34s} {'wall ms':>9s} {'CPU ms':>9s}   (per video)")
    print(f"  soft_nms (windowed, default)   : {ours[0]:9.1f} {ours[1]:9.1f}   median of {args.repeats}")
    print(f"  soft_nms (full width, window=n): {full[0]:9.1f} {full[1]:9.1f}   median of {args.repeats}")
    print(f"  Python per-candidate loop      : {loop[0]:9.1f} {loop[1]:9.1f}   one run, full input, no subsampling")
    print(f"  speed-up vs the Python loop    : {loop[0] / ours[0]:8.1f}x {loop[1] / ours[1]:8.1f}x  "
          f"(kept indices {same} to the loop's, float64)")

    b = 8
    bsegs, bscores, blabels = make_videos(b, seed=1)
    reps = max(args.repeats // 3, 3)
    agnostic = median_ms(lambda: soft_nms(bsegs, bscores, **NMS_KW), reps)
    per_class = median_ms(lambda: soft_nms(bsegs, bscores, labels=blabels, per_class=True, **NMS_KW), reps)
    print(f"batch of {b} videos in one call (median of {reps}), per video:")
    print(f"  class-agnostic                 : {agnostic[0] / b:9.1f} {agnostic[1] / b:9.1f}")
    print(f"  per-class                      : {per_class[0] / b:9.1f} {per_class[1] / b:9.1f}")
    print(f"load average while running: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
