"""Can the frozen text tower tell a stage's class prompts apart? The second check behind issue 5's diagnosis.

UnLoc scores every class by fusing its prompt's text token with the video; with the text tower frozen (every stage
of the study), two classes whose prompts encode to nearly the same vector can only be separated by what the
trainable text projection makes of a tiny difference. For each class stage, this script encodes every class with
the evaluation template (the first Kinetics-700 template), as the task does, and prints: the number of classes,
the mean cosine between different classes' pooled text features, the mean cosine of each class to its nearest
other class, and the share of classes whose nearest other class is above 0.99.
Measured here (2 cores, default study, the stand-in CLIP of `models/clip_mini`): see the README ("What learns and
what does not"). A moment-retrieval query set is not a class set and is skipped.

Run: ``python benchmarks/prompt_separability.py [--params params.yaml] [--stages pretrain.video,tal.finetune,seg.coin]``.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from unloc.config import load_config
from unloc.data.prompts import expand, load_templates
from unloc.model.build import build_tokenizer
from unloc.model.clip_loader import create_clip
from unloc.model.config import TowerConfig
from unloc.model.towers import TextTower
from unloc.study.baselines import run_classes

DEFAULT_STAGES = ("pretrain.video", "tal.finetune", "seg.coin")


def prompt_features(tower_cfg: TowerConfig, names: list[str], template: str) -> torch.Tensor:
    """(n, d) pooled text features of `template` filled with each name, from the tower's checkpoint."""
    text = TextTower(create_clip(tower_cfg).text, frozen=True).eval()
    ids = build_tokenizer(tower_cfg)([expand(n, template) for n in names])
    with torch.no_grad():
        return text(ids).pooled


def separability(features: torch.Tensor) -> dict[str, float]:
    """Cosine statistics of n >= 2 feature rows (n, d): mean over different pairs, mean nearest-other, share > 0.99."""
    n = len(features)
    if n < 2:
        raise ValueError(f"need at least two classes, got {n}")
    unit = F.normalize(features.double(), dim=-1)
    sim = unit @ unit.T  # (n, n)
    other = ~torch.eye(n, dtype=torch.bool)
    nearest = sim.masked_fill(~other, float("-inf")).max(dim=1).values  # (n,)
    return {"classes": float(n), "mean_cosine": float(sim[other].mean()), "nearest_cosine": float(nearest.mean()),
            "share_nearest_above_0.99": float((nearest > 0.99).double().mean())}


def stage_separability(stage: str, params: str, profile: str | None = None) -> dict[str, float]:
    """`separability` of the training classes of one class stage, with its own tower and first template."""
    cfg = load_config(stage, params, profile=profile)
    names = run_classes(cfg)["train"]
    if not names:
        raise ValueError(f"stage {stage} has no classes (moment retrieval)")
    return separability(prompt_features(cfg.model.tower, names, load_templates()[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--stages", default=",".join(DEFAULT_STAGES))
    args = parser.parse_args()
    print(f"{'stage':18s} {'classes':>7s} {'mean cos':>9s} {'nearest':>8s} {'>0.99':>6s}")
    for stage in filter(None, (s.strip() for s in args.stages.split(","))):
        s = stage_separability(stage, args.params, args.profile)
        print(f"{stage:18s} {int(s['classes']):7d} {s['mean_cosine']:9.3f} {s['nearest_cosine']:8.3f} "
              f"{100 * s['share_nearest_above_0.99']:5.0f}%")


if __name__ == "__main__":
    main()
