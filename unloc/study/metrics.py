"""A stage's `metrics.json`: written atomically with finite, rounded numbers, read back with errors naming the file,
and the two headline metrics of each task (what every notebook and table quotes first)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from unloc.train.atomic import atomic_write

METRICS_FILE = "metrics.json"
# the task of a stage is told by a key only its evaluator writes; its two headline metrics (percent, higher is better)
_HEADLINES = (("mAP_avg", ("mAP@0.5", "mAP_avg")), ("R1@0.5", ("R1@0.5", "R1@0.7")),
              ("frame_accuracy", ("frame_accuracy", "mAP")), ("top1", ("top1", "mAP")))


def headline_metrics(metrics: Mapping[str, Any]) -> tuple[str, str] | None:
    """The two headline metric keys of a stage's task, told from its metric keys (None when unknown)."""
    return next((pair for marker, pair in _HEADLINES if marker in metrics), None)


def _rounded(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _rounded(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"metric {key!r} is {value}; metrics.json holds finite numbers only")
        return round(float(value), 4)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"metric {key!r} has type {type(value).__name__}; expected numbers, strings, lists or dicts")


def save_metrics(out_dir: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Writes `out_dir/metrics.json` atomically: sorted keys, floats rounded to 4 decimals, numpy scalars converted.

    Raises:
        ValueError: a NaN or infinite value (named by its key).

    Returns:
        The path written.
    """
    text = json.dumps(_rounded(dict(metrics), "metrics"), indent=1, sort_keys=True) + "\n"
    return atomic_write(Path(out_dir) / METRICS_FILE, lambda tmp: tmp.write_text(text))


def load_metrics(path_or_dir: str | Path) -> dict[str, Any]:
    """Reads a `metrics.json` (or the one inside a run directory); errors name the file."""
    path = Path(path_or_dir)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics file (has the stage finished?)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno} column {err.colno}: malformed JSON ({err.msg})") from None
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected a JSON object of metrics, got {type(data).__name__}")
    return data
