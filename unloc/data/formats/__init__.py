"""Readers of the six official annotation formats UnLoc is evaluated on, all returning an `AnnotationSet`.

`read_annotations(path)` detects the format (`detect_format`) and dispatches to one reader per format: QVHighlights
jsonl, Charades-STA txt, ActivityNet Captions json, ActivityNet-1.3 json (official or BSN layout), COIN json, Kinetics
csv. Each reader applies the quirk policies of `quirks.POLICIES` (counted in `AnnotationSet.quirks`; `strict=True`
raises instead; `as_given=True` counts them but keeps every window as the file gives it, for evaluation) and the record
conventions of `unloc.data.records`. A format given explicitly must agree with what the file looks like: a COIN file
read as ActivityNet-1.3 is an error, not an empty set.
"""

from __future__ import annotations

import csv
import inspect
import io
from collections.abc import Callable
from pathlib import Path

from unloc.data.formats.activitynet13 import read_activitynet13
from unloc.data.formats.activitynet_captions import read_activitynet_captions
from unloc.data.formats.charades_sta import read_charades_sta
from unloc.data.formats.coin import read_coin
from unloc.data.formats.fileio import read_head
from unloc.data.formats.kinetics import read_kinetics
from unloc.data.formats.quirks import ERRORS, POLICIES, AnnotationError
from unloc.data.formats.qvhighlights import read_qvhighlights
from unloc.data.records import AnnotationSet

READERS: dict[str, Callable[..., AnnotationSet]] = {
    "qvhighlights": read_qvhighlights,
    "charades_sta": read_charades_sta,
    "activitynet_captions": read_activitynet_captions,
    "activitynet13": read_activitynet13,
    "coin": read_coin,
    "kinetics": read_kinetics,
}
_SNIFF_CHARS = 1 << 20  # the markers sit in the first entries; 1 MiB clears the longest taxonomy header

__all__ = ["ERRORS", "POLICIES", "READERS", "AnnotationError", "detect_format", "read_annotations"]


def _detect_json(path: Path) -> str:
    head = read_head(path, _SNIFF_CHARS)
    if '"timestamps"' in head and '"sentences"' in head:
        return "activitynet_captions"
    if '"duration_second"' in head:
        return "activitynet13"  # BSN layout
    if '"database"' in head:
        if '"annotations"' in head:
            return "activitynet13"
        if '"annotation"' in head:
            return "coin"
    raise AnnotationError(f"{path}: cannot tell the annotation format from the first entries; pass --format "
                          f"(one of {sorted(READERS)})")


def _detect_csv(path: Path) -> str:
    first = io.StringIO(read_head(path, _SNIFF_CHARS), newline="")
    try:
        header = {name.strip() for name in next(csv.reader(first), [])}
    except csv.Error as err:
        raise AnnotationError(f"{path}: line 1: not a valid csv header: {err}") from None
    if {"youtube_id", "time_start", "time_end"} <= header:
        return "kinetics"
    if {"id", "length"} <= header:
        raise AnnotationError(f"{path}: this is Charades metadata; read the Charades-STA txt file instead "
                              f"(its durations are taken from this csv)")
    if {"video", "numFrame", "subset"} <= header:
        raise AnnotationError(f"{path}: this is BSN's ActivityNet video info; read anet_anno_action.json instead")
    raise AnnotationError(f"{path}: unknown csv header {sorted(header)}; only Kinetics csv lists are annotations")


def detect_format(path: Path) -> str:
    """Name of the format of an annotation file, from its extension and first contents.

    Args:
        path: an annotation file.

    Returns:
        A key of `READERS`. Raises `AnnotationError` when the file matches none.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "qvhighlights"
    if suffix == ".json":
        return _detect_json(path)
    if suffix == ".csv":
        return _detect_csv(path)
    if suffix == ".txt":
        first = next((line for line in read_head(path, _SNIFF_CHARS).splitlines() if line.strip()), "")
        if "##" in first:
            return "charades_sta"
    raise AnnotationError(f"{path}: not an annotation file of a known format ({sorted(READERS)})")


def read_annotations(path: Path, format: str | None = None, *, split: str | None = None, strict: bool = False,
                     as_given: bool = False, **options) -> AnnotationSet:
    """Read any supported annotation file.

    Args:
        path: the annotation file.
        format: a key of `READERS`; None detects it. Given explicitly, it must not contradict the detected format.
        split: keep only this split or subset.
        strict: raise `AnnotationError` on every quirk instead of applying its policy.
        as_given: count the window quirks but keep every window as given (the official evaluators' view).
        **options: reader-specific arguments (`durations` for Charades-STA, `classes` for ActivityNet-1.3 and
            Kinetics, `taxonomy` for COIN, `split_name` for the one-split files).

    Returns:
        The normalized `AnnotationSet`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such annotation file")
    if format is not None and format not in READERS:
        raise ValueError(f"unknown format {format!r}; choose one of {sorted(READERS)}")
    name = format or detect_format(path)
    if format is not None:
        try:
            detected = detect_format(path)
        except AnnotationError:  # no marker found: the explicit format decides
            detected = format
        if detected != format:
            raise AnnotationError(f"{path}: read as {format}, but the file looks like {detected}; pass --format "
                                  f"{detected} (or leave --format out)")
    reader = READERS[name]
    accepted = set(inspect.signature(reader).parameters) - {"path", "split", "strict", "as_given"}
    if set(options) - accepted:
        raise ValueError(f"{path}: the {name} reader takes no option {sorted(set(options) - accepted)}; "
                         f"it takes {sorted(accepted)}")
    return reader(path, split=split, strict=strict, as_given=as_given, **options)
