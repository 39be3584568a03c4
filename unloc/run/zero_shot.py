"""Zero-shot TAL over the canonical class splits: mean +- standard deviation of finished runs (paper Table 6).

The protocol (Ju et al., ECCV 2022) trains on the seen classes of each of 10 random splits, evaluates on the unseen
ones, and reports the mean over the splits. `summarize_splits(run_dirs)` reads each finished run's `config.yaml`
(its `data.class_split`) and `metrics.json`, refuses two runs of one split or of two protocols, and returns per metric
the mean, the sample standard deviation (ddof=1, as the study's seed tables) and the number of splits;
`python -m unloc.run.zero_shot RUN_DIR...` prints them, e.g. for `runs/anet_tal_zs75_b runs/anet_tal_zs75_b_split*`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import yaml

HEADLINE = ("mAP@0.5", "mAP@0.75", "mAP@0.95", "mAP_avg")
_SPLIT_FILE = re.compile(r"(?P<protocol>.+)_split_(?P<k>[0-9]+)\.json$")


def run_split(run_dir: str | Path) -> tuple[str, int]:
    """(protocol, split index) of a finished zero-shot run, from its config's `data.class_split` file name."""
    config = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
    split_file = ((config or {}).get("data") or {}).get("class_split")
    match = _SPLIT_FILE.search(Path(str(split_file)).name) if split_file else None
    if not match:
        raise ValueError(f"{run_dir}: not a run on a canonical zero-shot split (data.class_split={split_file!r})")
    return match["protocol"], int(match["k"])


def summarize_splits(run_dirs: Iterable[str | Path]) -> dict[str, tuple[float, float, int]]:
    """{metric: (mean, std over splits with ddof=1 (NaN for one split), number of splits)} of finished runs.

    Raises:
        ValueError: no runs, a run without metrics.json, runs of two protocols, or two runs of one split.
    """
    seen: dict[int, Path] = {}
    protocols, values = set(), {}
    for run in map(Path, run_dirs):
        protocol, k = run_split(run)
        if k in seen:
            raise ValueError(f"{run} and {seen[k]} both ran split {k}")
        seen[k] = run
        protocols.add(protocol)
        metrics_file = run / "metrics.json"
        if not metrics_file.is_file():
            raise ValueError(f"{run}: no metrics.json (the run has not finished)")
        for key, value in json.loads(metrics_file.read_text()).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(key, []).append(float(value))
    if not seen:
        raise ValueError("no runs to summarize")
    if len(protocols) > 1:
        raise ValueError(f"runs of several protocols: {sorted(protocols)}")
    out = {}
    for key, vals in values.items():
        arr = np.asarray(vals)
        out[key] = (float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else float("nan"), len(arr))
    return out


def format_summary(summary: dict[str, tuple[float, float, int]], keys: Sequence[str] = HEADLINE) -> str:
    """'metric: mean ± std (n splits)' lines of the chosen metrics."""
    lines = []
    for key in keys:
        if key in summary:
            mean, std, n = summary[key]
            lines.append(f"{key}: {mean:.2f} ± {std:.2f} ({n} splits)" if n > 1 else f"{key}: {mean:.2f} (1 split)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unloc.run.zero_shot", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="finished run directories, one per split")
    parser.add_argument("--metric", action="append", help="metric keys to print (default: the mAP headline)")
    args = parser.parse_args(argv)
    try:
        summary = summarize_splits(args.runs)
    except (ValueError, OSError) as err:
        print(f"unloc.run.zero_shot: error: {err}", file=sys.stderr)
        return 2
    print(format_summary(summary, args.metric or HEADLINE))
    return 0


__all__ = ["format_summary", "run_split", "summarize_splits"]

if __name__ == "__main__":
    sys.exit(main())
