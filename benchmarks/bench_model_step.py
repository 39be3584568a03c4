"""Forward+backward time and peak memory of UnLoc-B's fusion + pyramid + heads, by pair chunk size (paper §3).

One video x 200 class prompts x 128 frames, as in ActivityNet TAL-B: 200 fusion passes of 129 tokens through the
6x512 fusion transformer, the 4-level pyramid (T_tot = 240) and the shared 4-conv-layer heads. Towers are frozen and
features are given (the feature-cache path), so the towers do not run. Each case runs in a fresh child process; peak
memory is the growth of the process's peak resident set size (`resource.getrusage(...).ru_maxrss`) over one step,
measured after the model and inputs exist. tracemalloc does not see torch's allocations. Ratios are against the first
case ('all pairs at once'), measured in the same run of this script.

    python benchmarks/bench_model_step.py [--classes 200] [--frames 128] [--chunk 25] [--steps 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CASES = {  # name -> (chunked, checkpoint_chunks, backward)
    "all pairs at once": (False, False, True),
    "chunks": (True, False, True),
    "chunks + recompute": (True, True, True),
    "forward only, all pairs": (False, False, False),
    "forward only, chunks": (True, False, False),
}


def run_case(name: str, classes: int, frames: int, chunk: int, steps: int) -> dict:
    """Build real-size UnLoc-B with frozen towers and time `steps` training steps of one case (child process)."""
    import torch

    from unloc.model.build import build_model
    from unloc.model.config import TowerConfig, unloc_b

    chunked, recompute, backward = CASES[name]
    cfg = replace(unloc_b(), tower=TowerConfig(pretrained=None, freeze_image=True, freeze_text=True),
                  chunk_size=chunk if chunked else 0, checkpoint_chunks=recompute)
    torch.manual_seed(0)
    model = build_model(cfg).train()
    feats = torch.randn(1, frames, model.image_tower.out_dim)
    text = torch.randn(classes, model.text_tower.out_dim)
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        with torch.set_grad_enabled(backward):
            logits, offsets, _ = model(feats, text).concat()  # (1, q, 240), (1, q, 240, 2)
            if backward:
                (logits.sum() + offsets.sum()).backward()
        seconds.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib
    return {"seconds": min(seconds), "peak_mib": peak_kib / 1024, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=25)
    parser.add_argument("--steps", type=int, default=1, help="steps per case; the fastest is reported")
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.classes, args.frames, args.chunk, args.steps)))
        return
    print(f"UnLoc-B fusion+pyramid+heads, 1 video x {args.classes} texts x {args.frames} frames, CPU, "
          f"chunk = {args.chunk} pairs, best of {args.steps} step(s); peak = ru_maxrss growth in a fresh process")
    print(f"{'case':<26}{'step s':>9}{'x time':>8}{'peak MiB':>10}{'x peak':>8}")
    base = None
    for name in CASES:
        command = [sys.executable, __file__, "--case", name, "--classes", str(args.classes),
                   "--frames", str(args.frames), "--chunk", str(args.chunk), "--steps", str(args.steps)]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        base = base or result
        print(f"{name:<26}{result['seconds']:>9.2f}{result['seconds'] / base['seconds']:>8.2f}"
              f"{result['peak_mib']:>10.0f}{result['peak_mib'] / base['peak_mib']:>8.2f}")
    print(f"torch threads: {base['threads']}; os.cpu_count: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
