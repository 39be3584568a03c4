"""The paper's printed numbers (Tables 1-7), read from the packaged transcription `unloc/resources/paper_tables.yaml`.

Every number carries its table, row and column, so a report cites it as "Table 5, QVHighlights | UnLoc-B, R@1 0.5"
instead of a secondary source. Row keys of the ablation tables (1-4) are the study's setting names. Outside
`unloc.study.report` because the stage notebooks quote these numbers too (under the paper profile,
`unloc.study.paper_profile`) and a task stage does not depend on the report's code.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml

RESOURCE = "paper_tables.yaml"


@functools.cache
def paper_tables() -> dict[str, Any]:
    """The whole transcription: {"source", "tables": {table: {title, columns, rows}}} (cached; do not mutate)."""
    text = resources.files("unloc").joinpath("resources", RESOURCE).read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for table, spec in data["tables"].items():
        for row, values in spec["rows"].items():
            unknown = set(values) - set(spec["columns"]) - {"label", "text"}
            if unknown:
                raise ValueError(f"{RESOURCE}: Table {table}, row {row!r}: values in unknown columns {sorted(unknown)}")
    return data


def _entry(table: str, row: str) -> tuple[dict[str, Any], dict[str, Any]]:
    tables = paper_tables()["tables"]
    if table not in tables:
        raise KeyError(f"the paper has no Table {table!r} in {RESOURCE} (tables: {', '.join(tables)})")
    spec = tables[table]
    if row not in spec["rows"]:
        raise KeyError(f"Table {table} has no row {row!r} in {RESOURCE} (rows: {', '.join(spec['rows'])})")
    return spec, spec["rows"][row]


def paper_value(table: str, row: str, column: str) -> float | None:
    """The number the paper prints in Table `table`, row `row`, column `column`; None where the cell is empty ("—").

    Raises:
        KeyError: no such table, row or column (naming it and the known ones).
    """
    spec, values = _entry(table, row)
    if column not in spec["columns"]:
        raise KeyError(f"Table {table} has no column {column!r} (columns: {', '.join(spec['columns'])})")
    value = values.get(column)
    return None if value is None else float(value)


def paper_cite(table: str, row: str, column: str | None = None) -> str:
    """'Table 5, QVHighlights | UnLoc-B, R@1 0.5' (with ', text' for a number stated in the paragraph under it)."""
    spec, values = _entry(table, row)
    cite = f"Table {table}, {values['label']}"
    if column is not None:
        cite += f", {spec['columns'][column]}"
    return cite + (" (text)" if values.get("text") else "")
