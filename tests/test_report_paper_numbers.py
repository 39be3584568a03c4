"""unloc/resources/paper_tables.yaml against the paper's tables as published (tests/fixtures/paper_tables.md, a copy
of reference/paper-tables.md): every transcribed number sits in its table, row and column, and every number printed
in Tables 1-7 is transcribed."""

import re
from pathlib import Path

import pytest

from unloc.study.paper_numbers import paper_cite, paper_tables, paper_value

MARKDOWN = Path(__file__).parent / "fixtures" / "paper_tables.md"
_HEADING = re.compile(r"^#{2,3} Table (\d) ", re.MULTILINE)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _sections() -> dict[str, tuple[list[str], list[list[str]], str]]:
    """Table number -> (header cells, body rows of cells, the section's prose)."""
    text = MARKDOWN.read_text(encoding="utf-8")
    starts = [(m.group(1), m.start()) for m in _HEADING.finditer(text)]
    out = {}
    for i, (table, start) in enumerate(starts):
        body = text[start:starts[i + 1][1] if i + 1 < len(starts) else len(text)]
        lines = [line for line in body.splitlines() if line.startswith("|")]
        rows = [_cells(line) for line in lines if not re.fullmatch(r"\|[-| ]+\|", line.strip())]
        prose = "\n".join(line for line in body.splitlines() if not line.startswith("|"))
        out[table] = (rows[0], rows[1:], prose)
    return out


def _number(cell: str) -> float | None:
    return None if cell == "—" else float(cell)


def _markdown_cell(table: str, label: str, header: str) -> float | None:
    head, body, _ = _sections()[table]
    if table == "1":  # one row of values under the settings' header cells
        return _number(body[0][head.index(label)])
    lead = label.split(" | ")
    (row,) = [r for r in body if r[:len(lead)] == lead]
    return _number(row[head.index(header)])


def test_every_transcribed_number_is_in_its_cell():
    checked = 0
    for table, spec in paper_tables()["tables"].items():
        prose = _sections()[table][2]
        for key, row in spec["rows"].items():
            for column, header in spec["columns"].items():
                if column not in row:
                    continue
                if row.get("text"):  # stated in the paragraph under the table
                    assert f"{row[column]}" in prose, (table, key)
                else:
                    assert _markdown_cell(table, row["label"], header) == row[column], (table, key, column)
                checked += 1
    assert checked == 81  # Table 1: 11, 2: 12 + 3 in its text, 3: 6, 4: 12, 5: 20, 6: 9, 7: 8


def test_every_printed_number_is_transcribed():
    for table, (head, body, _) in _sections().items():
        spec = paper_tables()["tables"][table]
        by_header = {h: c for c, h in spec["columns"].items()}
        for cells in body:
            for header, cell in zip(head, cells):
                if not re.fullmatch(r"\d+(\.\d+)?", cell) or table == "1":
                    continue
                rows = [r for r in spec["rows"].values() if not r.get("text")
                        and cells[:len(r["label"].split(" | "))] == r["label"].split(" | ")]
                assert len(rows) == 1, (table, cells)
                assert rows[0][by_header[header]] == float(cell), (table, cells, header)
        if table == "1":
            assert [spec["rows"][k]["label"] for k in spec["rows"]] == head
            assert [spec["rows"][k]["anet_tal"] for k in spec["rows"]] == [float(c) for c in body[0]]


@pytest.mark.parametrize("table, row, column, value", [
    ("1", "pyramid_none", "anet_tal", 47.3),
    ("1", "heads_3", "anet_tal", 54.7),
    ("2", "text_paired", "anet_mr", 44.2),
    ("3", "text_one_token", "coin", 15.7),
    ("4", "towers_finetuned_frozen", "anet_mr", 39.7),
    ("5", "qvh_b", "R1@0.5", 64.5),
    ("5", "qvh_b", "R1@0.7", 48.8),
    ("6", "zero_shot_75", "l_ensemble", 48.8),
    ("7", "all_background", "mAP", 0.0),
])
def test_entries_by_hand(table, row, column, value):
    assert paper_value(table, row, column) == value


def test_empty_cells_citations_and_unknown_keys():
    assert paper_value("5", "qvh_l", "R5@0.5") is None  # "—" in the paper
    assert paper_cite("5", "qvh_b", "R1@0.5") == "Table 5, QVHighlights | UnLoc-B, R@1 0.5"
    assert paper_cite("2", "text_none", "anet_tal").endswith("ANet TAL (text)")
    with pytest.raises(KeyError, match="no Table '8'"):
        paper_value("8", "x", "y")
    with pytest.raises(KeyError, match="no row 'loss_smooth'"):
        paper_value("1", "loss_smooth", "anet_tal")
    with pytest.raises(KeyError, match="no column 'coin'"):
        paper_value("1", "loss_l1", "coin")
