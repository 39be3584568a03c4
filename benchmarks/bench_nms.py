"""Soft-NMS speed on ActivityNet-size videos: ``unloc.ops.nms.soft_nms`` against its pre-#13 version and a loop.

One video = C classes x 240 pyramid positions (T = 128 frames, 4 levels): 4,800 candidates with 20 classes, 48,000 with
ActivityNet's 200, decoded from random displacements over a 120 s video; class-agnostic Gaussian Soft-NMS with the
official settings (TF sigma 0.3, score threshold 0.001, top 100). Scores mimic a trained TAL head: most classes near
sigmoid(-6), two "present" classes with high scores around two actions. For both sizes it prints the median ms per
video of the current implementation and of the pre-#13 one (`nms_baseline.py`, run in this process on the same
inputs), their ratio, and whether their outputs are bit-identical; then the batched figures (8 videos in one call) and,
once, a plain per-candidate Python greedy loop at 48,000. Targets of #13: 3 ms at 4,800, 10 ms at 48,000 (compiled
C++ soft-NMS of ActionFormer: 2.4 ms and 30 ms there).

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
from functools import partial

import torch
from nms_baseline import baseline_soft_nms

from unloc.ops.decode import decode_segments
from unloc.ops.nms import soft_nms
from unloc.ops.segments import linspace_sec_per_unit, make_points

NUM_FRAMES, STRIDES, SIZES = 128, (1, 2, 4, 8), (20, 200)  # classes: 4,800 and 48,000 candidates
NMS_KW = {"method": "gaussian", "sigma": 0.3, "score_threshold": 0.001, "top_k": 100}


def make_videos(b: int, seed: int = 0, num_classes: int = 200) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(b, n, 2) segments in seconds, (b, n) scores, (b, n) class labels; n = num_classes x 240."""
    g = torch.Generator().manual_seed(seed)
    anchors, strides = make_points(NUM_FRAMES, STRIDES)
    t = anchors.numel()
    offsets = torch.rand(b, num_classes, t, 2, generator=g) * 6  # (b, q, T, 2) in strides
    segments = decode_segments(offsets, anchors, strides, sec_per_unit=linspace_sec_per_unit(1200, 10.0, NUM_FRAMES),
                               duration_sec=120.0)
    logits = torch.randn(b, num_classes, t, generator=g) * 1.5 - 6.0
    for v in range(b):  # two present classes, confident around two actions
        cls = torch.randint(0, num_classes, (2,), generator=g)
        centre = torch.randint(0, NUM_FRAMES, (2,), generator=g).float()
        near = (anchors[None] - centre[:, None]).abs() < 24  # (2, T)
        logits[v, cls] += near.float() * 7.0
    labels = torch.arange(num_classes)[None, :, None].expand(b, num_classes, t)
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


def identical(a, b) -> bool:
    """Whether two NmsResults are equal bit for bit."""
    return all(torch.equal(x, y) for x, y in zip(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads; 1 (default) matches the single-threaded Python loop, 0 = torch's "
                             "own choice")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-loop", action="store_true", help="skip the slow per-candidate Python loop")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; Gaussian soft-NMS, TF sigma {NMS_KW['sigma']}, top {NMS_KW['top_k']}, "
          "class-agnostic")
    print(f"{'per video':34s} {'wall ms':>9s} {'CPU ms':>9s}   (median of {args.repeats})")
    for num_classes in SIZES:
        segs, scores, labels = make_videos(1, num_classes=num_classes)
        n, live = scores.shape[1], int((scores > NMS_KW["score_threshold"]).sum())
        ours = median_ms(partial(soft_nms, segs, scores, **NMS_KW), args.repeats)
        base = median_ms(partial(baseline_soft_nms, segs, scores, **NMS_KW), args.repeats)
        same = identical(soft_nms(segs, scores, **NMS_KW), baseline_soft_nms(segs, scores, **NMS_KW)) and identical(
            soft_nms(segs, scores, labels=labels, per_class=True, **NMS_KW),
            baseline_soft_nms(segs, scores, labels=labels, per_class=True, **NMS_KW))
        print(f"{n:,} candidates ({live:,} above the score threshold):")
        print(f"  soft_nms                       : {ours[0]:9.2f} {ours[1]:9.2f}")
        print(f"  pre-#13 soft_nms (baseline)    : {base[0]:9.2f} {base[1]:9.2f}")
        print(f"  speed-up                       : {base[0] / ours[0]:8.1f}x {base[1] / ours[1]:8.1f}x  "
              f"(outputs {'bit-identical' if same else 'DIFFERENT'}, class-agnostic and per-class)")

    b = 8
    bsegs, bscores, blabels = make_videos(b, seed=1)
    reps = max(args.repeats // 3, 3)
    print(f"batch of {b} videos x 48,000 in one call (median of {reps}), per video:")
    for name, kw in (("class-agnostic", {}), ("per-class", {"labels": blabels, "per_class": True})):
        ours = median_ms(partial(soft_nms, bsegs, bscores, **kw, **NMS_KW), reps)
        base = median_ms(partial(baseline_soft_nms, bsegs, bscores, **kw, **NMS_KW), reps)
        print(f"  {name:15s} now {ours[0] / b:6.2f} {ours[1] / b:6.2f}   pre-#13 {base[0] / b:6.2f} {base[1] / b:6.2f}")

    if not args.no_loop:
        segs, scores, _ = make_videos(1)
        ours = median_ms(lambda: soft_nms(segs, scores, **NMS_KW), args.repeats)
        w0, c0 = time.perf_counter(), time.process_time()
        loop_kept = python_loop_soft_nms(segs[0].double().tolist(), scores[0].double().tolist())
        loop = 1000 * (time.perf_counter() - w0), 1000 * (time.process_time() - c0)
        torch_kept = soft_nms(segs[0].double(), scores[0].double(), **NMS_KW).indices.tolist()
        print(f"per-candidate Python loop at 48,000: {loop[0]:.0f} ms wall, {loop[1]:.0f} ms CPU, one run "
              f"({loop[1] / ours[1]:.0f}x soft_nms; kept indices {'identical' if torch_kept == loop_kept else 'DIFFERENT'})")
    print(f"load average while running: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
