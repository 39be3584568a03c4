"""Under `profile: paper` a stage notebook reads as the mini-world's does, with the real dataset's name and the paper's
numbers beside ours (issue 17, bar 4).

A real run, not a mock: papermill executes notebooks/20 and 21 (as `python -m unloc.study notebook` does for DVC) on
a data root in the paper layout (`paper_root`: real QVHighlights and ActivityNet-1.3 annotation rows, tiny synthetic
videos), through the paper configurations `qvh_b` and `anet_tal_b`; OpenAI CLIP cannot be downloaded here, so the
profile's last delta (`profiles.paper.all`) makes the towers tiny and random and the run one epoch long.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from paper_root import ROOT, write_activitynet13, write_paper_params, write_qvhighlights

from unloc.study.metrics import load_metrics
from unloc.study.notebook import run_notebook

pytestmark = pytest.mark.slow


class _Table(HTMLParser):
    """The rows of the first HTML table: [[cell text, ...], ...] (header row first)."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None


def _table(html: str) -> dict[str, dict[str, str]]:
    """{row label: {column: cell}} of a DataFrame's HTML."""
    parser = _Table()
    parser.feed(html)
    header, *rows = [r for r in parser.rows if r]
    return {row[0]: dict(zip(header[1:], row[1:])) for row in rows}


@pytest.fixture(scope="module")
def paper_root(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("paper")
    write_qvhighlights(root / "data")
    write_activitynet13(root / "data")
    return root, write_paper_params(root)


def _execute(notebook: str, stage: str, root: Path, params: Path) -> list[dict]:
    """Run `notebook` for `stage` under the paper profile (from the repository root, this checkout's code, offline);
    the executed code cells after the parameters (the set-up cell first)."""
    env = {"HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        out = run_notebook(ROOT / "notebooks" / notebook, root / "executed" / stage,
                           {"stage": stage, "profile": "paper", "params_file": str(params)}, cwd=ROOT)
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    return [c for c in cells if not {"parameters", "injected-parameters"} & set(c["metadata"].get("tags", []))]


def _text(cell: dict) -> str:
    return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for o in cell["outputs"])


def _common_checks(cells: list[dict], root: Path) -> None:
    """Every cell ran and printed no error, warning, absolute path or mini-world wording."""
    outputs = json.dumps([o for c in cells for o in c["outputs"]])
    assert all(c["execution_count"] for c in cells)
    assert '"output_type": "error"' not in outputs and "Warning" not in outputs
    assert str(root) not in outputs and str(ROOT) not in outputs
    assert "mini-world" not in outputs and "shaped" not in outputs


def test_the_moment_retrieval_notebook_on_qvhighlights(paper_root):
    root, params = paper_root
    cells = _execute("20_moment_retrieval.ipynb", "mr.qvh_b", root, params)
    _common_checks(cells, root)
    setup = _text(cells[0]).splitlines()
    assert setup[0].startswith("stage mr.qvh_b (mr), seed 0: fusion 1x32") and "16 frames, 1 epochs" in setup[0]
    # paper_root: the first 10 rows of the excerpt train, the other 8 evaluate; one video per query
    assert setup[1] == ("data: QVHighlights (the paper's qvh_b configuration), evaluated on highlight_val_release.jsonl "
                        "(8 queries on 8 videos, 8 of them under videos/), trained on highlight_train_release.jsonl "
                        "(10 queries on 10 videos, 10 of them under videos/)")
    ours = load_metrics(root / "reports" / "mr" / "qvh_b")
    table = _table("".join(cells[2]["outputs"][0]["data"]["text/html"]))
    assert list(table["R1@0.5"]) == ["UnLoc (ours)", "paper", "whole_video", "random_windows", "prior_windows"]
    assert float(table["R1@0.5"]["paper"]) == 64.5 and float(table["R1@0.7"]["paper"]) == 48.8  # Table 5, UnLoc-B
    assert float(table["MR-full-R1@0.5"]["paper"]) == 64.5  # the same metric by QVHighlights' own name
    assert table["mIoU"]["paper"] == "NaN"  # a metric the paper does not print
    for metric in ("R1@0.5", "R1@0.7", "mIoU"):
        assert float(table[metric]["UnLoc (ours)"]) == pytest.approx(ours[metric], abs=0.006)
    assert "image/png" in cells[3]["outputs"][0]["data"]  # recall against IoU
    by_length = _table("".join(cells[4]["outputs"][0]["data"]["text/html"]))
    assert sum(int(row["queries"]) for row in by_length.values()) == 8
    assert sum("image/png" in o.get("data", {}) for o in cells[5]["outputs"]) == 3  # three timelines
    finding = _text(cells[-1]).strip()
    assert finding.startswith(f"mr.qvh_b: R1@0.5 {ours['R1@0.5']:.1f}")
    assert finding.endswith("; the paper prints 64.5 (Table 5, QVHighlights | UnLoc-B, R@1 0.5)")


def test_the_temporal_localization_notebook_on_activitynet(paper_root):
    root, params = paper_root
    cells = _execute("21_temporal_localization.ipynb", "tal.finetune", root, params)
    _common_checks(cells, root)
    setup = _text(cells[0]).splitlines()
    assert setup[0].startswith("stage tal.finetune (tal), seed 0: fusion 1x32")
    # the fixture's 17 videos: 8 training (9 segments), 6 validation (12), 3 testing; the reader drops the
    # zero-length segments of H-yBxySDyTw (training; the video stays, without segments) and QhiKgeJV3k0 (validation)
    assert setup[1] == ("data: ActivityNet-1.3 (the paper's anet_tal_b configuration), evaluated on "
                        "activity_net.v1-3.min.json [validation] (11 segments in 6 videos, 6 of them under videos/), "
                        "trained on activity_net.v1-3.min.json [training] (8 segments in 8 videos, 8 of them under "
                        "videos/)")
    ours = load_metrics(root / "reports" / "tal" / "finetune")
    table = _table("".join(cells[2]["outputs"][0]["data"]["text/html"]))
    assert float(table["mAP@0.5"]["paper"]) == 54.6 and table["mAP_avg"]["paper"] == "NaN"  # Table 6: B, 1st prompt
    assert float(table["mAP@0.5"]["UnLoc (ours)"]) == pytest.approx(ours["mAP@0.5"], abs=0.006)
    assert "class_prior_windows" in table["mAP@0.5"]
    per_class = _table("".join(cells[4]["outputs"][0]["data"]["text/html"]))
    assert list(per_class) == ["seen in training"]  # no class split: every evaluated class is a training class
    ensemble = load_metrics(root / "reports" / "tal" / "finetune_ensemble")
    lines = _text(cells[-1]).strip().splitlines()
    assert lines[0].startswith(f"tal.finetune: mAP@0.5 {ours['mAP@0.5']:.1f}")
    assert (f"; the paper prints 54.6 (Table 6, finetuned, UnLoc-B (1st prompt)); prompt ensembling "
            f"{ensemble['mAP@0.5']:.1f} against {ours['mAP@0.5']:.1f} with the first prompt") in lines[0]
