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
missing duration, duplicate id) always raises `AnnotationError`. Numbers in JSON must be JSON numbers (a string, a
boolean or null is malformed, never coerced); numbers in text formats (csv, Charades-STA txt) are parsed from the text.

With `as_given=True` (how `unloc.eval` reads ground truth: the official evaluators use every window exactly as the file
gives it) the segment quirks are still counted but not repaired: a reversed, out-of-range or zero-length window is kept
as it is, and no query is dropped.
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


def input_error(source: str | Path, where: str, what: str) -> AnnotationError:
    """An `AnnotationError` reading `"<source>: <where>: <what>"` (where = "line 12", "results['v'][3]", or empty)."""
    return AnnotationError(f"{source}: {where}: {what}" if where else f"{source}: {what}")


class QuirkCounter:
    """Counts quirks (or raises on them in strict mode) for one file.

    Args:
        path: the annotation file, named in every message.
        strict: raise `AnnotationError` on the first quirk instead of applying its policy.
    """

    def __init__(self, path: Path, *, strict: bool = False, as_given: bool = False):
        self.path = Path(path)
        self.strict = strict
        self.as_given = as_given
        self._counts: Counter[str] = Counter()
        self._examples: dict[str, list[str]] = {}

    def fail(self, where: str, message: str) -> NoReturn:
        """Raise an `AnnotationError` naming the file and the record `where`."""
        raise input_error(self.path, where, message)

    def note(self, name: str, where: str, detail: str) -> None:
        """Count one occurrence of quirk `name` at record `where`; in strict mode raise instead."""
        if name not in POLICIES:
            raise KeyError(f"unknown quirk {name!r}; add it to POLICIES")
        if self.strict:
            policy = "keep it as given" if self.as_given else POLICIES[name]
            self.fail(where, f"{detail} [{name}; strict mode, the policy would be: {policy}]")
        self._counts[name] += 1
        examples = self._examples.setdefault(name, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{self.path.name}: {where}: {detail}")

    def report(self) -> QuirkReport:
        """Freeze the counts and examples into a `QuirkReport`."""
        return QuirkReport(counts=dict(self._counts), examples={k: tuple(v) for k, v in self._examples.items()})


def is_number(value: object) -> bool:
    """A JSON number: int or float, not a boolean."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_number(value: object, source: str | Path, where: str, field: str) -> float:
    """`value` as a float: a finite JSON number (int or float; not a boolean, string or null), else an
    `AnnotationError` naming `source` and `where`."""
    if not is_number(value):
        raise input_error(source, where, f"{field} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float range
        number = math.inf
    if not math.isfinite(number):
        raise input_error(source, where, f"{field} must be finite, got {value!r}")
    return number


def parse_float(text: object, quirks: QuirkCounter, where: str, field: str) -> float:
    """A finite number written as text (csv cells, Charades-STA times), else an `AnnotationError` naming `where`."""
    try:
        number = float(text.strip()) if isinstance(text, str) else math.nan
    except ValueError:
        number = math.nan
    if not isinstance(text, str) or not math.isfinite(number):
        quirks.fail(where, f"{field} is not a finite number: {text!r}")
    return number


def to_duration(value: object, quirks: QuirkCounter, where: str, *, text: bool = False) -> float:
    """A video duration in seconds, which must be positive (a JSON number, or text with `text=True`)."""
    if text:
        duration_sec = parse_float(value, quirks, where, "duration")
    else:
        duration_sec = finite_number(value, quirks.path, where, "duration")
    if duration_sec <= 0:
        quirks.fail(where, f"duration must be positive, got {value!r}")
    return duration_sec


def optional_duration(entry: dict, key: str, quirks: QuirkCounter, where: str) -> float:
    """`entry[key]` as a duration; when reading as given (evaluation), a missing duration is NaN (unknown): the
    official evaluators never read it."""
    if key not in entry:
        if quirks.as_given:
            return math.nan
        quirks.fail(where, f"needs `{key}` (the video's duration in seconds)")
    return to_duration(entry[key], quirks, where)


def clean_window(pair: object, duration_sec: float, quirks: QuirkCounter, where: str) -> Window | None:
    """Apply the segment policies to one [start, end] pair in seconds.

    Order: swap a reversed pair, clip to [0, duration_sec], then drop what is empty. One record may count several
    quirks (a reversed pair that also runs past the end counts both). Reading as given, the same quirks are counted
    and the pair is returned unchanged.

    Args:
        pair: the raw [start, end] from the file (JSON numbers).
        duration_sec: the video's duration.
        quirks: counter for this file.
        where: record description used in counts and errors.

    Returns:
        (start_sec, end_sec) with 0 <= start_sec < end_sec <= duration_sec, or None when the segment is dropped
        (as given: the pair itself).
    """
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        quirks.fail(where, f"a segment must be [start, end], got {pair!r}")
    start_sec = finite_number(pair[0], quirks.path, where, "segment start")
    end_sec = finite_number(pair[1], quirks.path, where, "segment end")
    if quirks.as_given:
        return _count_as_given(start_sec, end_sec, duration_sec, quirks, where)
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


def _count_as_given(start_sec: float, end_sec: float, duration_sec: float, quirks: QuirkCounter,
                    where: str) -> Window:
    """The quirks of a pair kept as given (a NaN duration, unknown, never counts as past the end)."""
    pair = f"[{start_sec}, {end_sec}]"
    if start_sec > end_sec:
        quirks.note("reversed_segment", where, f"{pair} has end < start; kept as given")
    if min(start_sec, end_sec) < -TIME_TOL_SEC:
        quirks.note("negative_start", where, f"{pair} starts before 0; kept as given")
    if max(start_sec, end_sec) > duration_sec + TIME_TOL_SEC:
        quirks.note("past_end", where, f"{pair} ends after the duration {duration_sec}; kept as given")
    if start_sec == end_sec:
        quirks.note("empty_segment", where, f"{pair} has zero length; kept as given")
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
