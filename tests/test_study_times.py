"""benchmarks/study_times.py: stage times read back from papermill metadata of executed notebooks."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "study_times.py"
_spec = importlib.util.spec_from_file_location("study_times", SCRIPT)
study_times = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study_times)


def _notebook(path: Path, seconds: float | None, start: str, end: str, exception: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"papermill": {"duration": seconds, "start_time": start, "end_time": end, "exception": exception}}
    path.write_text(json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))


def test_rows_groups_and_totals(tmp_path):
    _notebook(tmp_path / "pretrain/clip/notebook.ipynb", 60.0, "2026-01-01T10:00:00+00:00", "2026-01-01T10:01:00+00:00")
    _notebook(tmp_path / "ablations/base/seed0/notebook.ipynb", 30.0, "2026-01-01T10:01:00+00:00",
              "2026-01-01T10:01:30+00:00")
    _notebook(tmp_path / "ablations/base/seed1/notebook.ipynb", 45.0, "2026-01-01T10:01:30+00:00",
              "2026-01-01T10:02:15+00:00")
    _notebook(tmp_path / "mr/qvh_b/notebook.ipynb", 99.0, "2026-01-01T10:03:00+00:00", "2026-01-01T10:04:39+00:00",
              exception=True)  # failed: not a stage time
    _notebook(tmp_path / "tal/finetune/notebook.ipynb", None, "2026-01-01T10:05:00+00:00", "")  # never finished

    rows = study_times.notebook_times(tmp_path)
    assert [r["stage"] for r in rows] == ["ablations/base/seed0", "ablations/base/seed1", "pretrain/clip"]
    assert study_times.group_rows(rows) == [("ablations/base", 2, 75.0), ("pretrain/clip", 1, 60.0)]

    out = subprocess.run([sys.executable, str(SCRIPT), "--reports", str(tmp_path), "--json", str(tmp_path / "t.json")],
                         capture_output=True, text=True, check=True).stdout
    assert "| ablations/base | 2 | 1.2 |" in out and "| pretrain/clip | 1 | 1.0 |" in out
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["total_sec"] == 135.0 and saved["wall_sec"] == 135.0  # 10:00:00 -> 10:02:15


def test_no_notebooks_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--reports", str(tmp_path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0 and "no executed notebooks" in proc.stderr
