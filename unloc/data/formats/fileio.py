"""Small file helpers shared by the readers: JSON and CSV loading whose errors name the file and the line.

CSV rows come back with their 1-based line number in the file (the header is line 1), so a bad value can be reported
where a person would look for it. Quoted fields spanning several lines are counted by the line they start on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from unloc.data.formats.quirks import AnnotationError


def read_json(path: Path) -> object:
    """Parse a JSON file; a syntax error names the file, line and column."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise AnnotationError(f"{path}: line {err.lineno} column {err.colno}: not valid JSON: {err.msg}") from None


def require_mapping(value: object, path: Path, where: str) -> dict:
    """Return `value` if it is a JSON object, else raise naming `where`."""
    if not isinstance(value, dict):
        raise AnnotationError(f"{path}: {where}: expected a JSON object, got {type(value).__name__}")
    return value


def read_csv(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for each data row of a CSV file with a header.

    Args:
        path: the CSV file (UTF-8, optional BOM, any newline convention).
        required: columns that must be in the header.

    Yields:
        (1-based line number where the row starts, {column: value}).
    """
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [name.strip() for name in reader.fieldnames or ()]
        missing = [c for c in required if c not in header]
        if missing:
            raise AnnotationError(f"{path}: line 1: missing column(s) {missing}; header is {header}")
        reader.fieldnames = header
        line_no = reader.line_num + 1
        for row in reader:
            if None in row or any(row.get(c) is None for c in required):
                raise AnnotationError(f"{path}: line {line_no}: the row does not have the {len(header)} fields of the "
                                      f"header {header}")
            yield line_no, row
            line_no = reader.line_num + 1


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) for each non-blank line of a text file."""
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield line_no, line
