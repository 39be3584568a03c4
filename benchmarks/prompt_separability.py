"""Can the frozen text tower tell a stage's class prompts apart? The second check behind issue 5's diagnosis.

UnLoc scores every class by fusing its prompt's text token with the video; with the text tower frozen (every stage
of the study), two classes whose prompts encode to nearly the same vector can only be separated by what the
trainable text projection makes of a tiny difference. For each class stage, this script encodes every class with
the evaluation template (the first Kinetics-700 template), as the task does (`unloc.study.clip.class_prompts`), and
prints: the number of classes, the mean cosine between different classes' pooled text features, the mean cosine of
each class to its nearest other class, and the share of classes whose nearest other class is above 0.99.
Measured here (2 cores, default study, the stand-in CLIP of `models/clip_mini`): see the README ("What learns and
what does not"). A moment-retrieval query set is not a class set and is skipped.

Run: ``python benchmarks/prompt_separability.py [--params params.yaml] [--stages pretrain.video,tal.finetune,seg.coin]``.
"""

from __future__ import annotations

import argparse

from unloc.config import load_config
from unloc.study.baselines import run_classes
from unloc.study.clip.class_prompts import prompt_features, separability

DEFAULT_STAGES = ("pretrain.video", "tal.finetune", "seg.coin")


def stage_separability(stage: str, params: str, profile: str | None = None) -> dict[str, float]:
    """`separability` of the training classes of one class stage, with its own tower and first template."""
    cfg = load_config(stage, params, profile=profile)
    names = run_classes(cfg)["train"]
    if not names:
        raise ValueError(f"stage {stage} has no classes (moment retrieval)")
    return separability(prompt_features(cfg.model.tower, names))


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
