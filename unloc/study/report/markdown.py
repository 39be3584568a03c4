"""A small GitHub-markdown table renderer for DataFrames (pandas' `to_markdown` needs `tabulate`, which the project does
not depend on). Used by the paper-tables notebook to print the paper-vs-ours comparison (paper §4 tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

TABLE_COLUMNS = ("setting", "metric", "paper", "ours", "our_stage", "source")


def _cell(value: object, digits: int, na: str) -> str:
    if value is None or (not isinstance(value, (str, list, tuple, dict)) and pd.isna(value)):
        return na
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.{digits}f}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def to_markdown(df: pd.DataFrame, columns: Sequence[str] | None = None, *, digits: int = 2, na: str = "—") -> str:
    """Renders `df` as a markdown pipe table.

    Args:
        df: the table.
        columns: columns to show, in order (default: all); unknown names are an error.
        digits: decimals for float cells.
        na: text for None / NaN cells.

    Returns:
        The table, one line per row plus header and alignment lines (numeric columns right-aligned), ending with a
        newline. `|` inside a cell is escaped and line breaks become `<br>`.
    """
    columns = list(df.columns) if columns is None else list(columns)
    unknown = [c for c in columns if c not in df.columns]
    if unknown:
        raise KeyError(f"columns {unknown} not in the table (columns: {list(df.columns)})")
    if not columns:
        raise ValueError("a markdown table needs at least one column")
    header = [_cell(str(c), digits, na) for c in columns]
    align = ["---:" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) else "---"
             for c in columns]
    body = [[_cell(v, digits, na) for v in row] for row in df[columns].itertuples(index=False, name=None)]
    return "".join("| " + " | ".join(cells) + " |\n" for cells in [header, align, *body])


def tables_to_markdown(tables: Mapping[str, pd.DataFrame], titles: Mapping[str, str] | None = None,
                       columns: Sequence[str] = TABLE_COLUMNS, *, level: int = 3, digits: int = 2) -> str:
    """Several tables, each under a heading (its title, or its id), separated by blank lines.

    Args:
        tables: table id -> frame (e.g. the output of `unloc.study.report.tables.paper_vs_ours`).
        titles: table id -> heading text (e.g. from `PAPER_TABLES[id]["title"]`).
        columns: columns shown; those a frame lacks are skipped for that frame.
        level: heading level (number of `#`).
        digits: decimals for float cells.
    """
    parts = []
    for table_id, frame in tables.items():
        heading = (titles or {}).get(table_id, table_id)
        shown = [c for c in columns if c in frame.columns] or list(frame.columns)
        parts.append(f"{'#' * level} {heading}\n\n{to_markdown(frame, shown, digits=digits)}")
    return "\n".join(parts)
