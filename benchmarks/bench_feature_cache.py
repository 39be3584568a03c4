"""Epoch time of a frozen image tower's input: decode + encode every epoch against reading the feature cache.

Writes `--videos` synthetic mp4s (moving squares, 10 fps, `--seconds` long), builds a random-init open_clip image
tower (default: a mini-world-sized ViT at 64 px; `--arch ViT-B-16` for the paper's tower at 224 px), saves its weights
as a local checkpoint and loads them back through `unloc.model.build.build_image_tower`, as `unloc extract-features`
does. It then times, in one process: an epoch that decodes each video's `--frames` linspace frames through the
library's loader (`eval_batches` over a `FrameDataset`) and encodes them (what training with a frozen tower does
without a cache); the one-off extraction into the cache; and an epoch that reads the same features back through
`FeatureDataset` and the same loader. It checks the cached features match the encoded
ones and prints the epoch times, their ratio, and after how many epochs the extraction has paid for itself.

Run: ``python benchmarks/bench_feature_cache.py`` (``--arch ViT-B-16 --frames 16 --videos 4`` for paper scale).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import safetensors.torch
import torch
from einops import rearrange
from videowrite import moving_squares, write_video

from unloc.data.clips import FeatureDataset, FrameDataset
from unloc.data.datasets import TaskDataset, eval_batches
from unloc.data.extract import extract_features
from unloc.data.feature_spec import checkpoint_identity, feature_spec
from unloc.data.features import FeatureCache
from unloc.data.sampling import LinspaceSampling
from unloc.data.transforms import FrameTransform, normalize_frames
from unloc.model.build import build_image_tower
from unloc.model.clip_loader import create_clip
from unloc.model.config import TowerConfig

MINI_ARCH = {  # a mini-world-sized CLIP: 64 px frames, 4 x 4 patches of 16 px
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "patch_size": 16, "layers": 4, "width": 128, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def timed_epochs(run_epoch, repeats: int) -> tuple[float, object]:
    """Median seconds of `run_epoch()` over `repeats` runs after an untimed warm-up, and the last run's result."""
    times, result = [], run_epoch()  # warm-up: worker start, first-call allocations
    for _ in range(repeats):
        start = time.perf_counter()
        result = run_epoch()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mini", help="'mini' (64 px ViT) or an open_clip name such as ViT-B-16")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--frames", type=int, default=128, help="linspace frames per video")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    arch = MINI_ARCH if args.arch == "mini" else args.arch
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "tower.safetensors"
        safetensors.torch.save_file(create_clip(TowerConfig(arch=arch, pretrained=None)).state_dict(), weights)
        tower = build_image_tower(TowerConfig(arch=arch, pretrained=str(weights), freeze_image=True)).eval()
        size = tower.image_size
        height, width = (size + size // 7, size + size // 2) if size > 64 else (size, size + size // 4)
        videos = {}
        for number in range(args.videos):
            videos[f"vid{number}"] = str(Path(tmp) / f"vid{number}.mp4")
            write_video(videos[f"vid{number}"], moving_squares(round(args.seconds * 10), height, width, number), 10)
        print(f"{args.videos} videos {width}x{height}, {args.seconds:.0f} s @ 10 fps; tower {args.arch} "
              f"({sum(p.numel() for p in tower.parameters()) / 1e6:.1f} M params, {size} px, d={tower.out_dim}); "
              f"{args.frames} frames per video, {args.workers} workers")
        os.sync()  # flush the freshly written videos now, or the cache's first fsync would pay for them
        sampling = LinspaceSampling(args.frames)
        transform = FrameTransform(crop_size=size, short_side=min(height, width), mean=tower.mean, std=tower.std)
        pixels = FrameTransform(crop_size=size, short_side=min(height, width), mean=tower.mean, std=tower.std,
                                normalize=False)
        decoded = TaskDataset.unannotated(FrameDataset(list(videos.values()), sampling, pixels, video_ids=list(videos)))

        def decode_and_encode_epoch() -> dict[str, torch.Tensor]:
            out = {}
            with torch.inference_mode():
                for batch in eval_batches(decoded, batch_size=2, num_workers=args.workers):
                    frames = normalize_frames(rearrange(batch.video, "b t c h w -> (b t) c h w"), tower.mean, tower.std)
                    tokens = rearrange(tower(frames), "(b t) d -> b t d", b=len(batch))
                    out.update(zip(batch.video_ids, tokens))
            return out

        decode_sec, encoded = timed_epochs(decode_and_encode_epoch, args.repeats)
        spec = feature_spec(tower=arch, checkpoint=checkpoint_identity(weights), frame_token="cls", sampling=sampling,
                            transform=transform, dtype="float16")
        cache = FeatureCache.create(Path(tmp) / "cache", spec)
        start = time.perf_counter()
        extract_features(videos, cache, tower, sampling, transform, batch_size=64, num_workers=args.workers,
                         progress=False)
        extract_sec = time.perf_counter() - start
        features = TaskDataset.unannotated(FeatureDataset(cache, list(videos), sampling))

        def cached_epoch() -> dict[str, torch.Tensor]:
            return {video_id: tokens for batch in eval_batches(features, batch_size=2)
                    for video_id, tokens in zip(batch.video_ids, batch.video)}

        cache_sec, cached = timed_epochs(cached_epoch, args.repeats)
        worst = max((cached[v] - encoded[v]).abs().max().item() for v in videos)
        print(f"cached features vs encoded every epoch: max abs difference {worst:.2e} (float16 storage)")
        print(f"epoch, decode + encode: {decode_sec:8.3f} s")
        print(f"epoch, from the cache:  {cache_sec:8.3f} s  | decode+encode / cache = {decode_sec / cache_sec:.0f}x")
        print(f"one-off extraction:     {extract_sec:8.3f} s  | pays for itself after "
              f"{extract_sec / max(decode_sec - cache_sec, 1e-9):.2f} epochs")


if __name__ == "__main__":
    main()
