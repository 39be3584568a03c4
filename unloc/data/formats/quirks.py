"""Quirks of real annotation files: one documented policy each, applied on purpose and counted.

The official releases carry bad records (see data/annotations/README.md): ActivityNet Captions train has 2 segments
with start > end and 29 that end after the video (val_1: 5, val_2: 1) and most of its sentences begin with a space;
Charades-STA windows often run past the `length` of `Charades_v1_*.csv` and 4 train lines are reversed;
ActivityNet-1.3 has zero-length and past-the-end segments. Every reader sends each record through `clean_window` and
`clean_text`, which apply these policies (the `POLICIES` table) and count each in a `QuirkCounter`:
reversed segment -> swap; end past the duration -> clip to it; start < 0 -> clip to 0; zero length or empty after
clipping -> drop the segment; a query left with no window -> drop the query (other ids unchanged); whitespace around a
sentence or label -> strip; COIN label differing from its taxonomy name -> the step id decides; a Kinetics clip
listed twice -> keep the first. With `strict=True` each quirk raises an `AnnotationError` naming the file and the record
instead. Differences below `TIME_TOL_SEC` (1 µs, the resolution at which the official UnLoc code stores timestamps)
are float noise of the files (a duration written 70.28999999999999 for an end of 70.29), not quirks: they are snapped
to the bound without being counted. Bad input with no safe repair (the `ERRORS` table: malformed line, unknown class,
missing duration, duplicate id) always raises `AnnotationError`.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import NoReturn

from unloc.data.records import QuirkReport, Window

TIME_TOL_SEC = 1e-6
MAX_EXAMPLES = 3

POLICIES: dict[str, str] = {
    "reversed_segment": "start > end: swap the two ends",
    "negative_start": "start < 0: clip to 0",
    "past_end": "end after the video's duration: clip to the duration",
    "empty_segment": "zero length, or empty after clipping: drop the segment",
    "dropped_query": "a query whose every window was dropped: drop the query (the others keep their ids)",
    "untrimmed_text": "leading or trailing whitespace in a sentence or label: strip it",
    "label_mismatch": "COIN step label differs from the taxonomy's label for its step id: the id decides",
    "duplicate_video": "a Kinetics clip listed twice (same id): keep the first row",
}

ERRORS: dict[str, str] = {
    "malformed": "a line or record that cannot be parsed (bad JSON, missing field, non-numeric time)",
    "unknown_label": "a class label outside the class list (taxonomy, label file)",
    "missing_duration": "a Charades-STA video absent from every Charades_v1_*.csv",
    "duplicate_id": "the same query or video id twice where the format requires unique ids",
    "conflicting_duration": "two durations for one QVHighlights video",
}


class AnnotationError(ValueError):
    """Bad annotation input; the message names the file and the line or record."""


class QuirkCounter:
    """Counts quirks (or raises on them in strict mode) for one file.

    Args:
        path: the annotation file, named in every message.
        strict: raise `AnnotationError` on the first quirk instead of applying its policy.
    """

    def __init__(self, path: Path, *, strict: bool = False):
        self.path = Path(path)
        self.strict = strict
        self._counts: Counter[str] = Counter()
        self._examples: dict[str, list[str]] = {}

    def fail(self, where: str, message: str) -> NoReturn:
        """Raise an `AnnotationError` naming the file and the record `where`."""
        raise AnnotationError(f"{self.path}: {where}: {message}")

    def note(self, name: str, where: str, detail: str) -> None:
        """Count one occurrence of quirk `name` at record `where`; in strict mode raise instead."""
        if name not in POLICIES:
            raise KeyError(f"unknown quirk {name!r}; add it to POLICIES")
        if self.strict:
            self.fail(where, f"{detail} [{name}; strict mode, the policy would be: {POLICIES[name]}]")
        self._counts[name] += 1
        examples = self._examples.setdefault(name, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{self.path.name}: {where}: {detail}")

    def report(self) -> QuirkReport:
        """Freeze the counts and examples into a `QuirkReport`."""
        return QuirkReport(counts=dict(self._counts), examples={k: tuple(v) for k, v in self._examples.items()})


def to_float(value: object, quirks: QuirkCounter, where: str, field: str) -> float:
    """Parse a finite number or raise an `AnnotationError` naming `where` and `field`."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        quirks.fail(where, f"{field} is not a number: {value!r}")
    if not math.isfinite(number):
        quirks.fail(where, f"{field} is not finite: {value!r}")
    return number


def to_duration(value: object, quirks: QuirkCounter, where: str) -> float:
    """Parse a video duration in seconds, which must be positive."""
    duration_sec = to_float(value, quirks, where, "duration")
    if duration_sec <= 0:
        quirks.fail(where, f"duration must be positive, got {value!r}")
    return duration_sec


def clean_window(pair: object, duration_sec: float, quirks: QuirkCounter, where: str) -> Window | None:
    """Apply the segment policies to one [start, end] pair in seconds.

    Order: swap a reversed pair, clip to [0, duration_sec], then drop what is empty. One record may count several
    quirks (a reversed pair that also runs past the end counts both).

    Args:
        pair: the raw [start, end] from the file.
        duration_sec: the video's duration.
        quirks: counter for this file.
        where: record description used in counts and errors.

    Returns:
        (start_sec, end_sec) with 0 <= start_sec < end_sec <= duration_sec, or None when the segment is dropped.
    """
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        quirks.fail(where, f"a segment must be [start, end], got {pair!r}")
    start_sec = to_float(pair[0], quirks, where, "segment start")
    end_sec = to_float(pair[1], quirks, where, "segment end")
    if start_sec > end_sec:
        quirks.note("reversed_segment", where, f"[{start_sec}, {end_sec}] swapped")
        start_sec, end_sec = end_sec, start_sec
    if start_sec < -TIME_TOL_SEC:
        quirks.note("negative_start", where, f"start {start_sec} clipped to 0")
    if end_sec > duration_sec + TIME_TOL_SEC:
        quirks.note("past_end", where, f"end {end_sec} clipped to the duration {duration_sec}")
    start_sec = min(max(start_sec, 0.0), duration_sec)
    end_sec = min(max(end_sec, 0.0), duration_sec)
    if end_sec <= start_sec:
        quirks.note("empty_segment", where, f"[{start_sec}, {end_sec}] is empty after cleaning; dropped")
        return None
    return (start_sec, end_sec)


def clean_text(text: object, quirks: QuirkCounter, where: str, field: str = "sentence") -> str:
    """Strip surrounding whitespace (counted); an empty or non-string text is an error."""
    if not isinstance(text, str):
        quirks.fail(where, f"{field} must be a string, got {text!r}")
    stripped = text.strip()
    if not stripped:
        quirks.fail(where, f"{field} is empty")
    if stripped != text:
        quirks.note("untrimmed_text", where, f"{field} {text[:40]!r} stripped")
    return stripped
