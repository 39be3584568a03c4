"""One GPU's training step of UnLoc-B at ActivityNet TAL-B shapes: step time, peak memory, videos/s and MFU (paper §4).

The model is the packaged paper config `anet_tal_b` (ViT-B-16 image tower finetuned on 128 frames, frozen text tower,
6x512 fusion, 4-level ViTDet pyramid, shared 4-conv heads) with random-init towers; inputs are synthetic frames and
segments, and each step is the real TAL task step (every video x every class prompt) + global-norm clipping + SGD,
under bf16 autocast. Gradient checkpointing ('on' = the config's: CLIP tower blocks and fusion pair chunks recomputed
in backward; 'off' = neither) runs side by side in this process, and the ratios are on/off.

FLOPs come from `torch.utils.flop_counter.FlopCounterMode`. Model FLOPs (no recomputation) are counted without
checkpointing at 1 and 2 videos and extrapolated to the batch (every part is linear in the videos but the text tower,
which runs once per step), so they stay exact when 'off' does not fit in memory; MFU = model FLOPs / step time / peak,
HFU counts the FLOPs the step executed (recomputation included). Peak = the GPU's dense bf16 peak from the table
below, or --peak-tflops. Warmup 3 steps, measure 10; under 3 minutes on an H100.

    python benchmarks/bench_train_step_gpu.py [--batch 8] [--classes 200] [--frames 128] [--ckpt both|on|off]
    python benchmarks/bench_train_step_gpu.py --cpu-smoke      # tiny towers on the CPU: checks the script runs
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from torch.utils.flop_counter import FlopCounterMode

from unloc.config.paper import load_paper_config
from unloc.data.collate import TaskBatch
from unloc.model.build import build_model, build_tokenizer
from unloc.model.config import TINY_ARCH
from unloc.tasks import build_task
from unloc.train.optim import build_optimizer, clip_gradients

PEAK_BF16_TFLOPS = (  # dense (no sparsity) bf16 tensor-core peaks; the first name fragment found in the GPU's name wins
    ("H200", 989.0), ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("GH200", 989.0),
    ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0),
)
CONFIG = "anet_tal_b"


def peak_tflops(device: torch.device, override: float | None) -> tuple[float | None, str]:
    """The peak to compare with, and where it came from."""
    if override:
        return override, "--peak-tflops"
    if device.type != "cuda":
        return None, "unknown for the CPU (pass --peak-tflops)"
    name = torch.cuda.get_device_name(device)
    for fragment, tflops in PEAK_BF16_TFLOPS:
        if fragment in name:
            return tflops, f"dense bf16 of {fragment}"
    return None, f"unknown for {name!r} (pass --peak-tflops)"


def paper_model_config(args: argparse.Namespace, checkpointing: bool):
    """anet_tal_b with random towers, the benchmark's frame count and checkpointing; tiny towers for --cpu-smoke."""
    model = {"tower": {"pretrained": None}, "checkpoint_towers": checkpointing, "checkpoint_chunks": checkpointing}
    if args.chunk_size is not None:
        model["chunk_size"] = args.chunk_size
    if args.cpu_smoke:
        model["tower"].update(arch=TINY_ARCH, context_length=16)
        model["fusion"] = {"width": 32, "heads": 2, "mlp_dim": 64, "layers": 2}
    return load_paper_config(CONFIG, model=model, data={"sampling": {"num_frames": args.frames}})


def synthetic_batch(b: int, t: int, image_size: int, num_classes: int, device: torch.device,
                    generator: torch.Generator) -> TaskBatch:
    """b videos of t random frames (b, t, 3, s, s), each with 3 segments of random classes (level-0 units)."""
    starts = torch.randint(0, t // 2, (b, 3), generator=generator).float()
    lengths = torch.randint(2, max(3, t // 2), (b, 3), generator=generator).float()
    sec_per_unit = torch.full((b,), 0.5, dtype=torch.float64)
    return TaskBatch(
        video=torch.randn(b, t, 3, image_size, image_size, generator=generator).to(device),
        video_mask=torch.ones(b, t, dtype=torch.bool, device=device),
        video_ids=[f"video{i}" for i in range(b)],
        duration_sec=sec_per_unit * (t - 1), sec_per_unit=sec_per_unit, t0_sec=torch.zeros(b, dtype=torch.float64),
        timestamps_sec=torch.arange(t, dtype=torch.float64)[None] * sec_per_unit[:, None],
        window_start=torch.zeros(b, dtype=torch.long),
        segments=torch.stack([starts, starts + lengths], dim=-1).to(device),  # (b, 3, 2)
        labels=torch.randint(0, num_classes, (b, 3), generator=generator).to(device),
    )


class Bench:
    """The model, task, optimizer and batch of one setting, and its training step."""

    def __init__(self, args: argparse.Namespace, device: torch.device, checkpointing: bool, batch: int) -> None:
        torch.manual_seed(0)
        self.cfg = paper_model_config(args, checkpointing)
        self.device = device
        self.model = build_model(self.cfg.model).to(device).train()
        tokenizer = build_tokenizer(self.cfg.model.tower)
        names = [f"action number {i}" for i in range(args.classes)]
        self.task = build_task(self.cfg.task, class_names=names, tokenizer=tokenizer)
        self.optimizer = build_optimizer(self.model, self.cfg.train)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"]
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        generator = torch.Generator().manual_seed(0)
        self.batch = synthetic_batch(batch, args.frames, self.model.image_tower.image_size, args.classes, device,
                                     generator)
        bf16 = args.precision == "bf16"
        self.autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def step(self) -> float:
        """One update as `unloc.train.fit` does it (autocast forward + loss, backward, clip 1.0, SGD); the loss."""
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            loss = self.task.step(self.model, self.batch)["loss"]
        loss.backward()
        clip_gradients(self.trainable, self.cfg.train.clip_grad_norm)
        self.optimizer.step()
        return float(loss.detach())

    def flops(self) -> int:
        """FLOPs one step executes."""
        with FlopCounterMode(display=False) as counter:
            self.step()
        return int(counter.get_total_flops())

    def close(self) -> None:
        del self.model, self.optimizer, self.batch, self.trainable
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_flops(args: argparse.Namespace, device: torch.device) -> float:
    """FLOPs of one step without recomputation at `args.batch` videos, from counts at 1 and 2 videos."""
    counts = []
    for b in (1, 2):
        bench = Bench(args, device, checkpointing=False, batch=b)
        counts.append(bench.flops())
        bench.close()
    return counts[0] + (args.batch - 1) * (counts[1] - counts[0])


def measure(args: argparse.Namespace, device: torch.device, checkpointing: bool) -> dict:
    """Step times, peak memory and executed FLOPs of one setting; {'oom': True} when it does not fit."""
    bench = None
    try:
        bench = Bench(args, device, checkpointing, args.batch)
        for _ in range(args.warmup):
            loss = bench.step()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        times = []
        for _ in range(args.steps):
            sync(device)
            start = time.perf_counter()
            loss = bench.step()  # float(loss) syncs, as the trainer's logging does
            sync(device)
            times.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
        return {"step_sec": statistics.median(times), "mean_sec": statistics.fmean(times), "peak_gib": peak,
                "executed_flops": bench.flops(), "loss": loss}
    except torch.OutOfMemoryError:
        return {"oom": True}
    finally:
        if bench is not None:
            bench.close()


def report(args: argparse.Namespace, device: torch.device, results: dict[str, dict], flops: float) -> None:
    peak, source = peak_tflops(device, args.peak_tflops)
    print(f"\nmodel FLOPs per step: {flops / 1e12:.4g} TFLOP; peak {peak or 'n/a'} TFLOPS ({source})")
    print(f"{'checkpointing':<14}{'step ms':>9}{'videos/s':>10}{'peak GiB':>10}{'TFLOPS':>8}{'MFU %':>7}{'HFU %':>7}")
    for name, r in results.items():
        if r.get("oom"):
            print(f"{name:<14}{'out of memory':>40}")
            continue
        achieved = flops / r["step_sec"] / 1e12
        mfu = f"{100 * achieved / peak:.1f}" if peak else "n/a"
        hfu = f"{100 * r['executed_flops'] / r['step_sec'] / 1e12 / peak:.1f}" if peak else "n/a"
        print(f"{name:<14}{1e3 * r['step_sec']:>9.1f}{args.batch / r['step_sec']:>10.2f}{r['peak_gib']:>10.2f}"
              f"{achieved:>8.1f}{mfu:>7}{hfu:>7}")
    on, off = results.get("on"), results.get("off")
    if on and off and not on.get("oom") and not off.get("oom"):
        print(f"checkpointing on/off: step time x{on['step_sec'] / off['step_sec']:.2f}, "
              f"peak memory x{on['peak_gib'] / off['peak_gib']:.2f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="videos per GPU (paper: 64 over the GPUs)")
    parser.add_argument("--classes", type=int, default=200, help="class prompts fused with every video")
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    parser.add_argument("--ckpt", choices=("both", "on", "off"), default="both", help="gradient checkpointing")
    parser.add_argument("--chunk-size", type=int, default=None, help="fusion pairs per chunk (default: the config's)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--peak-tflops", type=float, default=None, help="peak to compute MFU against")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny towers and sizes on the CPU (a script check)")
    args = parser.parse_args(argv)
    if args.cpu_smoke:  # clamp every size: a few seconds on a laptop
        args.batch, args.classes, args.frames = min(args.batch, 2), min(args.classes, 4), min(args.frames, 16)
        args.warmup, args.steps, args.precision = min(args.warmup, 1), min(args.steps, 2), "fp32"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available() and not args.cpu_smoke:  # exit 0 so that `make bench` goes on without a GPU
        print("bench_train_step_gpu: skipped, no CUDA device: this benchmark times a GPU training step. On a CPU, "
              "`--cpu-smoke` checks the script with tiny sizes.", file=sys.stderr)
        return 0
    device = torch.device("cpu" if args.cpu_smoke else "cuda")
    if args.cpu_smoke:
        torch.set_num_threads(1)  # tiny ops: more threads only add overhead
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{CONFIG}: {args.batch} videos x {args.frames} frames x {args.classes} classes, {args.precision}, "
          f"on {name}, torch {torch.__version__}")
    flops = model_flops(args, device)
    modes = {"both": ("off", "on"), "on": ("on",), "off": ("off",)}[args.ckpt]
    results = {}
    for mode in modes:
        results[mode] = measure(args, device, checkpointing=mode == "on")
        print(f"  {mode}: {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in results[mode].items()})}")
    report(args, device, results, flops)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "device": name, "model_flops": flops, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
