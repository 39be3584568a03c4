"""Small file helpers shared by the readers: text, JSON and CSV loading whose errors name the file and the line.

Every file is decoded as UTF-8 in one piece, so a file in another encoding (Latin-1, UTF-16) fails with one line naming
the file, the line and the offending byte instead of a `UnicodeDecodeError`; a directory or unreadable path fails the
same way. CSV rows come back with their 1-based line number in the file (the header is line 1), so a bad value can be
reported where a person would look for it. Quoted fields spanning several lines are counted by the line they start on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from unloc.data.formats.quirks import AnnotationError


def _read_bytes(path: Path, num_bytes: int = -1) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(num_bytes)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise AnnotationError(f"{path}: cannot read the file: {err.strerror or err}") from None


def _decode(data: bytes, path: Path, encoding: str, *, cut: bool = False) -> str:
    """`data` decoded; `cut`: the bytes end mid-file, so a character cut at the end is left out."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        if cut and err.reason == "unexpected end of data":
            return data[:err.start].decode(encoding)
        line = data.count(b"\n", 0, err.start) + 1
        raise AnnotationError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
                              f"{err.start}); save the file as UTF-8") from None


def read_text(path: Path, *, bom: bool = False) -> str:
    """The whole file decoded as UTF-8 (`bom=True` also accepts a leading byte-order mark).

    Raises:
        AnnotationError naming the file: not UTF-8 (with the line and byte), or unreadable.
    """
    return _decode(_read_bytes(path), Path(path), "utf-8-sig" if bom else "utf-8")


def read_head(path: Path, num_bytes: int) -> str:
    """The first `num_bytes` of a file as UTF-8 text (a character cut at the end is left out), for sniffing."""
    data = _read_bytes(path, num_bytes)
    return _decode(data, Path(path), "utf-8-sig", cut=len(data) == num_bytes)


def load_json_text(text: str, path: Path, *, line_no: int | None = None,
                   object_pairs_hook: Callable | None = None) -> object:
    """Parse JSON text read from `path` (`line_no`: the line it is, in a JSON-lines file); a syntax error names the
    file and the line (and column, for a whole file)."""
    where = f"line {line_no}: " if line_no else ""
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as err:
        where = where or f"line {err.lineno} column {err.colno}: "
        raise AnnotationError(f"{path}: {where}not valid JSON: {err.msg}") from None
    except RecursionError:
        raise AnnotationError(f"{path}: {where}JSON nested too deeply") from None


def read_json(path: Path) -> object:
    """Parse a JSON file; a syntax or encoding error names the file and the line."""
    return load_json_text(read_text(path), Path(path))


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
    reader = csv.DictReader(io.StringIO(read_text(path, bom=True), newline=""))
    try:
        header = [name.strip() for name in reader.fieldnames or ()]
    except csv.Error as err:
        raise AnnotationError(f"{path}: line 1: not a valid csv header: {err}") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise AnnotationError(f"{path}: line 1: missing column(s) {missing}; header is {header}")
    reader.fieldnames = header
    line_no = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise AnnotationError(f"{path}: line {line_no}: not valid csv: {err}") from None
        if None in row or any(row.get(c) is None for c in required):
            raise AnnotationError(f"{path}: line {line_no}: the row does not have the {len(header)} fields of the "
                                  f"header {header}")
        yield line_no, row
        line_no = reader.line_num + 1


def read_lines(path: Path, *, blank: bool = False) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) for each non-blank line of a text file (`blank=True`:
    for every line)."""
    for line_no, line in enumerate(io.StringIO(read_text(path), newline=None), start=1):  # universal newlines
        line = line.rstrip("\n")
        if blank or line.strip():
            yield line_no, line


def read_names(path: Path) -> list[str]:
    """Names, one a line (class names, video ids): blank lines and `#` comments skipped.

    Raises:
        AnnotationError naming the file (and the line): a name listed twice, or no name at all.
    """
    names: list[str] = []
    for line_no, line in read_lines(path):
        name = line.split("#", 1)[0].strip()
        if name in names:
            raise AnnotationError(f"{path}: line {line_no}: {name!r} is listed twice")
        if name:
            names.append(name)
    if not names:
        raise AnnotationError(f"{path}: no names (one a line)")
    return names
