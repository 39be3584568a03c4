"""benchmarks/study_times.py: stage times split into kernel start, imports, features, setup, training, evaluation."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "study_times.py"
_spec = importlib.util.spec_from_file_location("study_times", SCRIPT)
study_times = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(study_times)

T0 = "2026-01-01T10:00:"


def _cell(source: str, start: int, seconds: float) -> dict:
    meta = {"papermill": {"start_time": f"{T0}{start:02d}+00:00", "end_time": f"{T0}{start + 1:02d}+00:00",
                          "duration": seconds}}
    return {"cell_type": "code", "source": source, "metadata": meta, "outputs": []}


def _notebook(path: Path, seconds: float | None, start: str, end: str, cells=(), exception: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"papermill": {"duration": seconds, "start_time": start, "end_time": end, "exception": exception}}
    path.write_text(json.dumps({"cells": list(cells), "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))


def _stage_notebook(path: Path, start: int, times: dict | None, metrics: dict | None = None) -> None:
    """A notebook started at second `start`: kernel 4 s, imports 3 s, the stage cell 20 s, a figure 2 s."""
    cells = [_cell('stage = "x"', start + 4, 0.01),
             _cell("from unloc import report, study\nroot = study.enter_repo()", start + 4, 3.0),
             _cell("result = study.run_stage(stage, params_file, profile, seed)", start + 7, 20.0),
             _cell("report.plot_training_curves(...)", start + 27, 2.0)]
    _notebook(path, 30.0, f"{T0}{start:02d}+00:00", f"{T0}{start + 30:02d}+00:00", cells)
    if times is not None:
        (path.parent / "times.json").write_text(json.dumps(times))
    if metrics is not None:
        (path.parent / "metrics.json").write_text(json.dumps(metrics))


def test_parts_of_a_stage(tmp_path):
    _stage_notebook(tmp_path / "ablations/base/seed0/notebook.ipynb", 0,
                    {"extract": 5.0, "train": 10.0, "predict": 1.5, "eval": 0.5})
    _stage_notebook(tmp_path / "ablations/base/seed1/notebook.ipynb", 30,
                    None, {"train_seconds": 12.0, "eval_seconds": 3.0})  # an older run: no times.json
    _notebook(tmp_path / "mr/qvh_b/notebook.ipynb", 99.0, f"{T0}00+00:00", f"{T0}59+00:00", exception=True)
    _notebook(tmp_path / "tal/finetune/notebook.ipynb", None, f"{T0}00+00:00", "")  # never finished

    rows = study_times.notebook_times(tmp_path)
    assert [r["stage"] for r in rows] == ["ablations/base/seed0", "ablations/base/seed1"]
    first, second = rows
    assert first["kernel"] == 4.0 and first["imports"] == 3.0 and first["other"] == pytest.approx(2.01)
    assert (first["features"], first["train"], first["eval"], first["setup"]) == (5.0, 10.0, 2.0, 3.0)
    assert (second["features"], second["train"], second["eval"], second["setup"]) == (0.0, 12.0, 3.0, 5.0)
    (group,) = study_times.group_rows(rows)
    assert group["group"] == "ablations/base" and group["runs"] == 2 and group["seconds"] == 60.0
    # one kernel for both seeds: the second seed's kernel start and imports (4 + 3 s) are saved
    assert study_times.savings([group]) == {"notebooks_removed": 1, "one_notebook_per_ablation": pytest.approx(7.0)}
    assert study_times.savings([group], per_notebook=11.0)["one_notebook_per_ablation"] == 11.0


def test_a_second_stage_call_is_evaluation(tmp_path):
    path = tmp_path / "tal/finetune/notebook.ipynb"
    _stage_notebook(path, 0, {"extract": 1.0, "train": 2.0, "predict": 3.0, "eval": 4.0})
    nb = json.loads(path.read_text())
    nb["cells"].append(_cell("study.reevaluate(result.out_dir, cfg, out, prompt_mode='ensemble')", 29, 6.0))
    path.write_text(json.dumps(nb))
    (row,) = study_times.notebook_times(tmp_path)
    assert row["eval"] == 7.0 + 6.0 and row["train"] == 2.0


def test_cli_prints_the_table_and_totals(tmp_path):
    _stage_notebook(tmp_path / "pretrain/video/notebook.ipynb", 0,
                    {"extract": 5.0, "train": 10.0, "predict": 1.5, "eval": 0.5})
    out = subprocess.run([sys.executable, str(SCRIPT), "--reports", str(tmp_path), "--json", str(tmp_path / "t.json")],
                         capture_output=True, text=True, check=True).stdout
    assert "| pretrain/video | 1 | 0.5 | 4 | 3 | 5 | 3 | 10 | 2 | 2 |" in out
    assert "sum of stage times: 0.5 min over 1 notebooks; first start to last end: 0.5 min" in out
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["total_sec"] == 30.0 and saved["parts_sec"]["train"] == 10.0


def test_no_notebooks_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--reports", str(tmp_path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0 and "no executed notebooks" in proc.stderr


def test_an_ablation_notebook_sums_its_seeds_run_directories(tmp_path):
    """One notebook runs every seed (`run_seeds`); each seed's times.json lies in `<runs>/<stage>/seed<k>/`."""
    reports, runs = tmp_path / "reports", tmp_path / "runs"
    cells = [_cell('stage = "ablations.tal.heads_1"', 4, 0.01),
             _cell("from unloc.study import ablation", 4, 3.0),
             _cell("runs = ablation.run_seeds(stage, params_file, profile, seeds)", 7, 50.0),
             _cell("per_seed.round(2)", 57, 1.0)]
    _notebook(reports / "ablations/tal/heads_1/notebook.ipynb", 60.0, f"{T0}00+00:00", f"{T0}59+00:00", cells)
    for seed, train in ((0, 20.0), (1, 22.0)):
        (runs / "ablations/tal/heads_1" / f"seed{seed}").mkdir(parents=True)
        (runs / "ablations/tal/heads_1" / f"seed{seed}" / "times.json").write_text(
            json.dumps({"extract": 1.0, "train": train, "predict": 0.5, "eval": 0.25}))
    (row,) = study_times.notebook_times(reports, runs)
    assert row["stage"] == "ablations/tal/heads_1"
    assert (row["features"], row["train"], row["eval"]) == (2.0, 42.0, 1.5)
    assert row["setup"] == pytest.approx(50.0 - 45.5) and row["imports"] == 3.0
    assert row["other"] == pytest.approx(1.01)  # the parameters cell and the table


def test_seeds_that_ran_at_once_share_the_cell_wall_time(tmp_path):
    """Two seeds of 40 s each trained side by side (`seed_workers` 2) in a 50 s cell: 80 seed-seconds scaled to 50."""
    reports, runs = tmp_path / "reports", tmp_path / "runs"
    cells = [_cell("from unloc.study import ablation", 4, 3.0),
             _cell("runs = ablation.run_seeds(stage, params_file, profile, seeds)", 7, 50.0)]
    _notebook(reports / "ablations/mr/default/notebook.ipynb", 58.0, f"{T0}00+00:00", f"{T0}58+00:00", cells)
    for seed in (0, 1):
        (runs / "ablations/mr/default" / f"seed{seed}").mkdir(parents=True)
        (runs / "ablations/mr/default" / f"seed{seed}" / "times.json").write_text(
            json.dumps({"extract": 0.0, "train": 30.0, "predict": 6.0, "eval": 4.0}))
    (row,) = study_times.notebook_times(reports, runs)
    assert row["train"] == pytest.approx(37.5) and row["eval"] == pytest.approx(12.5)  # 60 : 20 of 50 s
    assert row["setup"] == 0.0 and row["train"] + row["eval"] + row["features"] == pytest.approx(50.0)
