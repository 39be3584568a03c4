"""Can an image tower learn *shape* from the mini-world's frames? The check behind issue 5's TAL diagnosis.

With ``--checkpoint models/clip_mini/clip_mini.safetensors`` it first measures what the study actually uses: the
*pretrained, frozen* stand-in tower's frame tokens (arch from the ``clip_mini.json`` beside it, ``--frame-token``),
probed linearly for shapes and colours (`unloc.study.clip.probe.tower_probes`, the numbers notebook 10 reports).
The towers below are trained end to end instead and bound what the architecture can see.

The first mini-world (generator version 1) made TAL classes differ by shape ("circle moving left" / "star moving
left"); this probe showed that the version-2 stand-in (a ViT with 16 px patches on 64 px frames) cannot see shape. It
trains image towers from scratch, supervised, to say which of the four shapes appear in a pair frame (multi-label,
binary cross entropy), for the same number of steps, and prints the per-shape validation accuracy next to the base
rate (always answering each shape's majority). Towers: that ViT (`vit16`), the same with 8 px patches (`vit8`), the
study's CLIP ResNet (`MINI_CLIP_ARCH`, mean frame token, `rn`) and a 3-layer CNN with global max pooling (`cnn`).
Measured here (2 cores, shared): version-1 world, 600 steps of 64, lr 1e-3: ViT/16 55.3 % in 42 s, ViT/8 57.9 % in
127 s, CNN 90.2 % in 97 s, base rate 56.3 %; version-3 pairs, 400 steps: ResNet 91.8 % (121 s). The ResNet can see
shape; trained as CLIP (contrastive, shape hard negatives, 10 epochs) its frozen tokens probe at 59-65 % only.

Run: ``python benchmarks/shape_probe.py [--pairs data/miniworld/pairs] [--checkpoint CKPT [--frame-token cls]]
[--steps 600] [--towers vit16,vit8,rn,cnn]`` (``--towers ''`` skips the end-to-end towers).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from unloc.model.build import build_image_tower
from unloc.model.config import TowerConfig
from unloc.study.clip.pairs import read_pairs
from unloc.study.clip.pretraining import ARCH_NAME, MINI_CLIP_ARCH
from unloc.study.clip.probe import tower_probes
from unloc.study.miniworld.vocab import SHAPES

VIT_CFG = {"image_size": 64, "layers": 4, "width": 128, "head_width": 32, "mlp_ratio": 4}  # the version-2 stand-in


def vit_tower(patch: int) -> tuple[nn.Module, int]:
    arch = copy.deepcopy(MINI_CLIP_ARCH)
    arch["vision_cfg"] = {**VIT_CFG, "patch_size": patch}
    tower = build_image_tower(TowerConfig(arch=arch, pretrained=None, freeze_image=False, context_length=32))
    return tower, tower.out_dim


def resnet_tower() -> tuple[nn.Module, int]:
    tower = build_image_tower(TowerConfig(arch=copy.deepcopy(MINI_CLIP_ARCH), pretrained=None, freeze_image=False,
                                          frame_token="mean", context_length=32))
    return tower, tower.out_dim


def cnn_tower() -> tuple[nn.Module, int]:
    layers, width = [], 3
    for out in (32, 64, 128):
        layers += [nn.Conv2d(width, out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        width = out
    return nn.Sequential(*layers[:-1], nn.AdaptiveMaxPool2d(1), nn.Flatten()), width


def shape_labels(captions: list[str]) -> torch.Tensor:
    """(n, 4) 1.0 where the appearance caption names the shape (singular or plural)."""
    return torch.tensor([[1.0 if re.search(rf"\b{s}s?\b", c) else 0.0 for s in SHAPES] for c in captions])


def train_probe(tower: nn.Module, dim: int, x: torch.Tensor, y: torch.Tensor, n_train: int, steps: int,
                lr: float, seed: int) -> float:
    """Per-shape validation accuracy (percent) after `steps` AdamW steps of batches of 64."""
    torch.manual_seed(seed)
    head = nn.Linear(dim, y.shape[1])
    opt = torch.optim.AdamW([*tower.parameters(), *head.parameters()], lr=lr, weight_decay=0.05)
    for _ in range(steps):
        idx = torch.randint(0, n_train, (64,))
        loss = F.binary_cross_entropy_with_logits(head(tower(x[idx])), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    tower.eval()
    with torch.no_grad():
        pred = torch.cat([head(tower(chunk)) for chunk in x[n_train:].split(256)]) > 0
    return float((pred == y[n_train:].bool()).float().mean() * 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="data/miniworld/pairs")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--towers", default="vit16,vit8,rn,cnn")
    parser.add_argument("--checkpoint", default=None, help="a pretrained clip_mini.safetensors (arch json beside it)")
    parser.add_argument("--frame-token", default="cls", choices=("cls", "mean"))
    args = parser.parse_args()
    pairs = read_pairs(args.pairs)
    if args.checkpoint:
        arch = json.loads((Path(args.checkpoint).parent / ARCH_NAME).read_text())
        tower = build_image_tower(TowerConfig(arch=arch, pretrained=args.checkpoint, frame_token=args.frame_token,
                                              context_length=int(arch["text_cfg"]["context_length"])))
        t0 = time.perf_counter()
        res = tower_probes(tower, pairs)
        print(f"frozen {args.frame_token} tokens of {args.checkpoint}: shape probe {100 * res['shape_probe']:.1f} % "
              f"(base rate {100 * res['shape_base_rate']:.1f}), colour probe {100 * res['colour_probe']:.1f} % "
              f"(base rate {100 * res['colour_base_rate']:.1f}) in {time.perf_counter() - t0:.0f} s")
    frames = torch.from_numpy(pairs.frames[:, 0]).permute(0, 3, 1, 2).float() / 255.0  # (n, 3, h, w), first frame
    y = shape_labels([r.scene_caption for r in pairs.records])
    n_train = int(0.8 * len(y))
    base = float(((y[n_train:] > 0.5) == (y[:n_train].mean(0) > 0.5)).float().mean() * 100)
    print(f"{len(y)} frames, {n_train} to train; base rate (majority per shape) {base:.1f} %")
    builders = {"vit16": lambda: vit_tower(16), "vit8": lambda: vit_tower(8), "rn": resnet_tower, "cnn": cnn_tower}
    for name in filter(None, args.towers.split(",")):
        tower, dim = builders[name]()
        x = tower.normalize(frames) if hasattr(tower, "normalize") else (frames - 0.5) / 0.25
        t0 = time.perf_counter()
        acc = train_probe(tower, dim, x, y, n_train, args.steps, args.lr, seed=0)
        print(f"{name:6s} per-shape accuracy {acc:.1f} % ({acc - base:+.1f} over base) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
