"""Seen against unseen classes of a zero-shot temporal localization stage (paper §4.4): the per-class AP of one
trained model on the classes it was trained on and on the classes held out of its training.

A zero-shot stage trains on the seen side of its class split, and its metrics score the unseen side alone
(`unloc.run.evaluate.evaluate_tal` prompts only those classes and restricts the ground truth to them). To set the
held-out classes against the learnt ones, the same weights predict the evaluation split again with the seen classes'
prompts, scored by the same evaluator restricted to the seen classes (`stages.reevaluate(..., eval_classes=seen)`,
written to the run's `seen_classes/`). Both sides are held-out videos of the evaluation split, each side prompted
with its own class list only, and each class's AP is computed on its own. A stage without a class split trains and
scores every class: all of them are seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu

SEEN_DIR = "seen_classes"


def per_class_ap(run_dir: str | Path, tiou: str = "0.5") -> dict[str, float]:
    """{class: AP in percent at `tiou`} from a run's `per_class_ap.json` (as `evaluate_predictions` writes it)."""
    path = Path(run_dir) / "per_class_ap.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no per-class AP (not a finished temporal localization run)")
    table = json.loads(path.read_text())
    missing = [name for name, aps in table.items() if tiou not in aps]
    if missing:
        raise ValueError(f"{path}: class {missing[0]!r} has no AP at tIoU {tiou}")
    return {name: float(aps[tiou]) for name, aps in table.items()}


def _classes(n: int, kind: str = "") -> str:
    return f"{n} {kind}class" + ("" if n == 1 else "es")


@dataclass
class SeenUnseen:
    """Per-class AP (percent) of one model at one tIoU: `seen` (trained on) and `unseen` (held out) classes."""

    seen: dict[str, float]
    unseen: dict[str, float] = field(default_factory=dict)
    tiou: str = "0.5"

    @property
    def per_class(self) -> dict[str, float]:
        return {**self.seen, **self.unseen}

    def table(self) -> pd.DataFrame:
        """One row per side with classes: number of classes, mean (= that side's mAP), median, min and max AP."""
        rows = {}
        for side, values in (("seen in training", self.seen), ("unseen (held out)", self.unseen)):
            if values:
                ap = np.array(list(values.values()))
                rows[side] = {"classes": len(ap), f"mAP@{self.tiou}": ap.mean(), "median AP": float(np.median(ap)),
                              "min AP": ap.min(), "max AP": ap.max()}
        return pd.DataFrame(rows).T

    def finding(self, stage: str) -> str:
        """One sentence: each side's mAP, their ratio, how many unseen classes reach the seen median, and a two-sided
        Mann-Whitney rank test of unseen against seen class APs."""
        metric = f"AP@{self.tiou}"
        if not self.unseen:
            return f"{stage}: all {len(self.seen)} classes are seen in training (no zero-shot class split)"
        seen, unseen = np.array(list(self.seen.values())), np.array(list(self.unseen.values()))
        text = (f"{stage}: unseen classes {metric} {unseen.mean():.1f} over {_classes(len(unseen))} against "
                f"{seen.mean():.1f} over {_classes(len(seen), 'seen ')} of the same model")
        if seen.mean() > 0:
            text += f" ({unseen.mean() / seen.mean():.2f}x)"
        median = float(np.median(seen))
        test = mannwhitneyu(unseen, seen, alternative="two-sided")
        return (text + f"; {int((unseen >= median).sum())} of {len(unseen)} unseen classes at or above the seen "
                f"median ({median:.1f}); rank test p = {test.pvalue:.2f}")


def score_seen_unseen(run_dir: str | Path, cfg, tiou: str = "0.5") -> SeenUnseen:
    """The seen and unseen per-class AP of a finished temporal localization run (`cfg`: its stage config); a
    zero-shot stage's seen classes are predicted and scored again into `run_dir/seen_classes/`."""
    from unloc.data.build import read_class_split
    from unloc.study.stages import reevaluate

    run = Path(run_dir)
    if not cfg.data.class_split:
        return SeenUnseen(seen=per_class_ap(run, tiou), tiou=tiou)
    seen = read_class_split(cfg.data.class_split, "seen")
    reevaluate(run, cfg, run / SEEN_DIR, eval_classes=seen)
    return SeenUnseen(seen=per_class_ap(run / SEEN_DIR, tiou), unseen=per_class_ap(run, tiou), tiou=tiou)


__all__ = ["SEEN_DIR", "SeenUnseen", "per_class_ap", "score_seen_unseen"]
