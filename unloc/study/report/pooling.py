"""Runs as the tables pool them: zero-shot class splits pooled under their base stage, and each ablation base run
standing for the default setting of every family it belongs to."""

from __future__ import annotations

import re

import pandas as pd

# The settings each ablation base stands for (one run serves every family's default, instead of identical reruns).
BASE_ALIASES = {
    "ablations.base": ("loss_iou", "pyramid_vitdet", "heads_2", "text_one_token", "fusion_mid", "towers_frozen_frozen"),
    "ablations.tal_base": ("text_paired",),
}


_SPLIT_STAGE = re.compile(r"^(?P<base>.+)_split\d+$")


def pool_split_runs(runs):
    """Runs of `<stage>_split<k>` stages (the same experiment on another random class split) renamed to `<stage>`,
    so tables and summaries give the mean ± std over the splits, as the zero-shot protocol reports."""
    base = runs.stage.str.extract(_SPLIT_STAGE)["base"]
    split = base.notna()
    pooled = runs.copy()
    pooled.loc[split, "stage"] = base[split]
    pooled.loc[split, "name"] = base[split].str.rsplit(".", n=1).str[-1]
    return pooled


def alias_base_runs(runs):
    """Ablation runs with each base run repeated under the setting names it stands for (`BASE_ALIASES`)."""
    extra = [runs[runs.stage == base].assign(stage=f"ablations.{name}", name=name)
             for base, names in BASE_ALIASES.items() for name in names]
    return pd.concat([runs, *extra], ignore_index=True)
