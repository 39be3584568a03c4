"""Reading evaluation inputs: record-level errors and counted warnings shared by the three evaluators.

Every evaluator reads ground truth and predictions written by someone else, so a bad record must stop the run with a
message that names the file and the line or record (`EvalInputError`), and every input the official scripts tolerate
but that changes the numbers (a prediction for an unknown video, a blocked video, ...) is counted in `WarningLog` and
reported next to the metrics. Nothing is dropped silently (DESIGN.md, "Conventions").
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np


class EvalInputError(ValueError):
    """A ground-truth or prediction record that cannot be evaluated; the message names the file and the record."""


def input_error(source: str | Path, where: str, what: str) -> EvalInputError:
    """Builds an `EvalInputError` reading `"<source>: <where>: <what>"` (where = "line 12", "record results[v][3]")."""
    return EvalInputError(f"{source}: {where}: {what}" if where else f"{source}: {what}")


@dataclass
class WarningLog:
    """Counts tolerated input problems by kind and keeps the first example of each.

    Attributes:
        counts: kind -> number of occurrences.
        examples: kind -> a human-readable description of the first occurrence.
    """

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, example: str, count: int = 1) -> None:
        if count <= 0:
            return
        self.counts[kind] = self.counts.get(kind, 0) + count
        self.examples.setdefault(kind, example)

    def as_dict(self) -> dict[str, dict[str, object]]:
        return {k: {"count": n, "example": self.examples[k]} for k, n in sorted(self.counts.items())}


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pauses the cyclic garbage collector (usable as a decorator).

    Parsing and walking a submission allocates millions of small containers, and each allocation burst triggers a
    full collection that walks the whole parsed document; evaluation creates no reference cycles, so pausing the
    collector changes nothing but the time (about 2x on a 50 MB ActivityNet submission).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_json(path: str | Path) -> object:
    """Loads one JSON document; a syntax error names the file, line and column."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise input_error(path, f"line {err.lineno} column {err.colno}", f"malformed JSON ({err.msg})") from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yields `(line_number, object)` for every non-blank line of a JSON-lines file (1-based line numbers).

    Raises:
        EvalInputError: a line that is not valid JSON or not a JSON object.
    """
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise input_error(path, f"line {line_no}", f"malformed JSON ({err.msg})") from None
            if not isinstance(obj, dict):
                raise input_error(path, f"line {line_no}", f"expected a JSON object, got {type(obj).__name__}")
            yield line_no, obj


def finite_number(value: object, source: str | Path, where: str, what: str) -> float:
    """Returns `value` as a float, rejecting booleans, non-numbers, NaN and infinities with an `EvalInputError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise input_error(source, where, f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise input_error(source, where, f"{what} must be finite, got {value!r}")
    return number


def finite_array(values: list, source: str | Path, where: str, what: str) -> np.ndarray:
    """A list of finite numbers (or of equal-length lists of them) as a float array; else an `EvalInputError`
    naming the first bad element. Fast on valid input (one type scan, one vectorized check)."""
    flat = chain.from_iterable(values) if values and isinstance(values[0], list) else values
    if set(map(type, flat)) <= {int, float}:
        try:
            arr = np.asarray(values, dtype=float)
        except ValueError:  # ragged nested lists
            arr = None
        if arr is not None and np.isfinite(arr).all():
            return arr
    for i, v in enumerate(values):
        for x in v if isinstance(v, list) else [v]:
            finite_number(x, source, where, f"{what} {i}")
    raise input_error(source, where, f"{what}s must all have the same length")


def segment_sec(value: object, source: str | Path, where: str, what: str, *, ordered: bool) -> tuple[float, float]:
    """Validates a `[start, end]` pair of finite seconds; with `ordered`, `end < start` is an error.

    Returns:
        (start_sec, end_sec) as floats, exactly as given (no clipping).
    """
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise input_error(source, where, f"{what} must be [start, end], got {value!r}")
    start = finite_number(value[0], source, where, f"{what} start")
    end = finite_number(value[1], source, where, f"{what} end")
    if ordered and end < start:
        raise input_error(source, where, f"{what} has end < start: {value!r}")
    return start, end
