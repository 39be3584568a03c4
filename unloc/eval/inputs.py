"""Reading evaluation inputs: the error type, and file loading shared by the three evaluators' prediction readers.

Every evaluator reads files written by someone else, so a bad record stops the run with a message that names the file
and the line or record (`EvalInputError`, the `AnnotationError` of the ground-truth readers: one error for every bad
input file), and every input the official scripts tolerate is counted (`unloc.eval.quirks.QuirkLog`). Text and JSON
are read by the readers' own helpers (`unloc.data.formats.fileio`: UTF-8 in one piece, another encoding is one line
naming the file, the line and the byte); JSON keys repeated inside an object are found while parsing (Python's json
keeps the last value silently) and counted with their line; `.npz` archives are opened without pickle and any damage
is one line. Nothing is dropped silently (DESIGN.md, "Conventions").
"""

from __future__ import annotations

import gc
import json
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from unloc.data.formats.fileio import load_json_text, read_lines, read_text
from unloc.data.formats.quirks import AnnotationError, input_error

if TYPE_CHECKING:
    from unloc.eval.quirks import QuirkLog

EvalInputError = AnnotationError  # a ground-truth or prediction record that cannot be evaluated, named in the message


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


def _line_of_key(text: str, key: str, occurrence: int) -> int:
    """1-based line of the `occurrence`-th appearance of `"key":` in `text` (0 when not found)."""
    needle, pos = json.dumps(key), -1
    for _ in range(occurrence):
        pos = text.find(needle, pos + 1)
        if pos < 0:
            return 0
    return text.count("\n", 0, pos) + 1


def read_json(path: str | Path, log: QuirkLog | None = None, *, text: str | None = None,
              line_no: int | None = None) -> object:
    """Loads one JSON document; a syntax error names the file, line and column; repeated keys are counted in `log`
    (`pred.duplicate_key`, or `pred.duplicate_id` for the keys of a `results` / `scores` object) with their line.

    Args:
        path: the file (named in messages).
        log: where repeated keys are counted; None: not checked.
        text: the document when already read (one line of a JSON-lines file), else the file is read.
        line_no: the line `text` is on, for a line of a JSON-lines file.
    """
    text = read_text(path) if text is None else text
    if log is None:
        return load_json_text(text, path, line_no=line_no)
    repeated: list[tuple[str, dict]] = []  # (key, the object holding it)

    def hook(pairs: list[tuple[str, object]]) -> dict:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            repeated.extend((k, obj) for k, _ in pairs if k in seen or seen.add(k))
        return obj

    data = load_json_text(text, path, line_no=line_no, object_pairs_hook=hook)
    id_maps = [data[name] for name in ("results", "scores", "labels") if isinstance(data, dict) and name in data]
    for key, obj in repeated:
        if any(obj is ids for ids in id_maps):  # a video id: unique text, so its second appearance is the repeat
            line = line_no or _line_of_key(text, key, 2)
            log.add("pred.duplicate_id", path, f"line {line}" if line else "",
                    f"video {key!r} listed twice; the last list is used, as by Python's json in the official script")
        else:
            where = f"line {line_no}" if line_no else ""
            log.add("pred.duplicate_key", path, where, f"key {key!r} repeated in the object with keys {list(obj)[:4]}; "
                                                      "the last value is used, as by Python's json")
    return data


def iter_jsonl(path: str | Path, log: QuirkLog) -> Iterator[tuple[int, dict]]:
    """Yields `(line_number, object)` for every non-blank line of a JSON-lines file (1-based line numbers); blank
    lines are counted (`pred.blank_line`: the official loader crashes on them).

    Raises:
        EvalInputError: a line that is not valid JSON or not a JSON object.
    """
    for line_no, line in read_lines(path, blank=True):
        if not line.strip():
            log.add("pred.blank_line", path, f"line {line_no}", "blank line skipped")
            continue
        obj = read_json(path, log, text=line, line_no=line_no)
        if not isinstance(obj, dict):
            raise input_error(path, f"line {line_no}", f"expected a JSON object, got {type(obj).__name__}")
        yield line_no, obj


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an `.npz` archive, loaded without pickle; any damage is one `EvalInputError` naming the file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if not magic.startswith((b"PK", b"\x93NUMPY")):
            raise input_error(path, "", f"not an .npz archive (it starts with {magic!r}, not a zip header)")
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise input_error(path, "", "a single .npy array, not an .npz archive of named arrays")
        with loaded as npz:
            return {name: npz[name] for name in npz.files}
    except (FileNotFoundError, EvalInputError):
        raise
    except ValueError as err:
        reason = "holds object arrays (pickled data)" if "pickle" in str(err) else str(err)
        raise input_error(path, "", f"not a readable .npz archive: {reason}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as err:
        raise input_error(path, "", f"not a readable .npz archive ({type(err).__name__}: {err}); "
                                    f"truncated or not written by numpy.savez") from None
