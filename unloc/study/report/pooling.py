"""Runs as the tables pool them: the zero-shot class splits of a stage pooled under that stage."""

from __future__ import annotations

import re

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
