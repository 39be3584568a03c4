"""How the frozen text tower embeds a stage's class prompts: cosine similarity between classes and each class's nearest
other class (paper §3.3: every class is scored by fusing its prompt's text token with the video).

With the text tower frozen (every stage of the study), two classes whose prompts encode to nearly the same vector can
only be told apart by what the trainable text projection makes of a small difference. Each class name is put into
the evaluation template (the first Kinetics-700 template, as the tasks' `prompt_mode: first`) and encoded to the
pooled (EOS) token the fusion reads, before CLIP's projection; `separability` summarizes the cosines and
`nearest_classes` lists each class's nearest other class and the words the two names share, which says what the
embedding groups classes by (in the mini-world a name is colour, shape and action).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from unloc.data.prompts import expand, load_templates
from unloc.model.build import build_tokenizer
from unloc.model.clip_loader import create_clip
from unloc.model.config import TowerConfig
from unloc.model.towers import TextTower

NEAR_DUPLICATE = 0.99  # a nearest other class above this cosine is all but the same vector


def prompt_features(tower_cfg: TowerConfig, names: Sequence[str], template: str | None = None) -> torch.Tensor:
    """(n, d) pooled text features of `template` (default the first Kinetics-700 one) filled with each name, from the
    tower's checkpoint."""
    text = TextTower(create_clip(tower_cfg).text, frozen=True).eval()
    ids = build_tokenizer(tower_cfg)([expand(n, template or load_templates()[0]) for n in names])
    with torch.no_grad():
        return text(ids).pooled


def stage_class_prompts(cfg) -> tuple[list[str], torch.Tensor]:
    """The classes of a stage that lists them in `data.classes_file` (the video pretraining: the Kinetics-shaped
    classes) and their (n, d) prompt features through the stage's own text tower."""
    from unloc.data.formats.fileio import read_names

    if not cfg.data.classes_file:
        raise ValueError(f"stage {cfg.name} names no data.classes_file")
    names = read_names(cfg.data.classes_file)
    return names, prompt_features(cfg.model.text_tower or cfg.model.tower, names)


def cosine_matrix(features: torch.Tensor) -> torch.Tensor:
    """(n, n) float64 cosine similarity between the rows of (n, d) features."""
    unit = F.normalize(features.double(), dim=-1)
    return unit @ unit.T


def separability(features: torch.Tensor) -> dict[str, float]:
    """Cosine statistics of n >= 2 feature rows (n, d): mean over different pairs, mean nearest-other, share above
    `NEAR_DUPLICATE`."""
    n = len(features)
    if n < 2:
        raise ValueError(f"need at least two classes, got {n}")
    sim = cosine_matrix(features)
    other = ~torch.eye(n, dtype=torch.bool)
    nearest = sim.masked_fill(~other, float("-inf")).max(dim=1).values  # (n,)
    return {"classes": float(n), "mean_cosine": float(sim[other].mean()), "nearest_cosine": float(nearest.mean()),
            "share_nearest_above_0.99": float((nearest > NEAR_DUPLICATE).double().mean())}


def nearest_classes(names: Sequence[str], features: torch.Tensor) -> pd.DataFrame:
    """One row per class: its nearest other class by cosine, the cosine, and the words the two names share.

    Returns:
        Columns class, nearest, cosine, shared (the shared words in the class's own order, space-joined; '' for none),
        sorted by cosine, highest first (ties keep the input order).
    """
    if len(names) != len(features):
        raise ValueError(f"{len(names)} names for {len(features)} feature rows")
    sim = cosine_matrix(features).fill_diagonal_(float("-inf"))
    best = sim.argmax(dim=1)
    rows = []
    for i, name in enumerate(names):
        other = names[int(best[i])]
        words = set(other.split())
        rows.append({"class": name, "nearest": other, "cosine": float(sim[i, best[i]]),
                     "shared": " ".join(w for w in name.split() if w in words)})
    return pd.DataFrame(rows).sort_values("cosine", ascending=False, kind="stable").reset_index(drop=True)


def prompt_finding(table: pd.DataFrame) -> str:
    """One sentence from a `nearest_classes` table: the mean nearest-other cosine, how many classes sit above
    `NEAR_DUPLICATE`, and how many nearest pairs share a word of their names."""
    n = len(table)
    close = int((table["cosine"] > NEAR_DUPLICATE).sum())
    sharing = int((table["shared"] != "").sum())
    return (f"{n} class prompts: nearest other class at cosine {table['cosine'].mean():.3f} on average "
            f"(lowest {table['cosine'].min():.3f}), {close} of {n} above {NEAR_DUPLICATE}; {sharing} of {n} share a "
            f"word with their nearest class (chance {100 * word_sharing_rate(list(table['class'])):.0f} %)")


def word_sharing_rate(names: Sequence[str]) -> float:
    """The share of ordered pairs of different classes whose names share a word: how often a nearest class chosen
    at random would share one."""
    words = [set(n.split()) for n in names]
    pairs = [(i, j) for i in range(len(names)) for j in range(len(names)) if i != j]
    if not pairs:
        raise ValueError(f"need at least two classes, got {len(names)}")
    return sum(bool(words[i] & words[j]) for i, j in pairs) / len(pairs)


__all__ = ["NEAR_DUPLICATE", "cosine_matrix", "nearest_classes", "prompt_features", "prompt_finding", "separability",
           "stage_class_prompts", "word_sharing_rate"]
