"""unloc.study.report.io: metrics files, run collection from synthetic run directories, seed summaries worked by hand."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from unloc.study.report.io import (
    collect_runs,
    format_mean_std,
    load_metrics,
    metrics_by_stage,
    save_metrics,
    seed_summary,
)


def _study(root):
    """reports/ablations/<name>/seed<k>/ and reports/mr/qvh_b/ with known numbers."""
    values = {"loss_l1": [1.0, 2.0, 4.0], "loss_iou": [10.0]}
    for name, runs in values.items():
        for seed, value in enumerate(runs):
            save_metrics(root / "ablations" / name / f"seed{seed}", {"R1@0.5": value, "train_seconds": 3.0 + seed})
    save_metrics(root / "mr" / "qvh_b", {"R1@0.5": 50.0, "MR-full-mAP": 30.0, "warnings": {"x": 1}})
    return values


def test_save_metrics_rounds_sorts_and_converts(tmp_path):
    path = save_metrics(tmp_path / "run", {"b": np.float32(0.123456789), "a": np.int64(3), "c": {"z": 1 / 3},
                                           "d": None, "e": [0.555555, 2]})
    text = path.read_text()
    assert path == tmp_path / "run" / "metrics.json"
    assert list(json.loads(text)) == ["a", "b", "c", "d", "e"]
    assert json.loads(text) == {"a": 3, "b": 0.1235, "c": {"z": 0.3333}, "d": None, "e": [0.5556, 2]}
    assert load_metrics(tmp_path / "run") == load_metrics(path) == json.loads(text)
    assert not [p for p in (tmp_path / "run").iterdir() if p.name != "metrics.json"]  # no temporary left


def test_save_metrics_rejects_non_finite_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match="'metrics.mAP@0.5' is nan"):
        save_metrics(tmp_path, {"mAP@0.5": float("nan")})
    assert not (tmp_path / "metrics.json").exists()


def test_load_metrics_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no metrics file"):
        load_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text('{"a": 1,\n oops}')
    with pytest.raises(ValueError, match=r"metrics.json: line 2 column 2"):
        load_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(TypeError, match="expected a JSON object"):
        load_metrics(tmp_path / "metrics.json")


def test_collect_runs_parses_stage_name_and_seed(tmp_path):
    _study(tmp_path / "reports")
    runs = collect_runs(str(tmp_path / "reports" / "**" / "metrics.json"))
    assert list(runs.columns[:4]) == ["stage", "name", "seed", "path"]
    assert sorted(runs.columns[4:]) == list(runs.columns[4:]) == ["MR-full-mAP", "R1@0.5", "train_seconds"]
    assert "warnings" not in runs.columns  # nested values are not columns
    by_path = runs.set_index("path")
    row = by_path.loc[str(tmp_path / "reports" / "ablations" / "loss_l1" / "seed2")]
    assert (row["stage"], row["name"], row["seed"], row["R1@0.5"]) == ("ablations.loss_l1", "loss_l1", 2, 4.0)
    mr = runs[runs["stage"] == "mr.qvh_b"].iloc[0]
    assert mr["name"] == "qvh_b" and pd.isna(mr["seed"]) and mr["MR-full-mAP"] == 30.0
    assert len(runs) == 5 and str(runs["seed"].dtype) == "Int64"


def test_collect_runs_root_and_directory_globs(tmp_path):
    _study(tmp_path)
    runs = collect_runs(str(tmp_path / "ablations" / "*" / "seed*"))
    assert sorted(runs["stage"].unique()) == ["loss_iou", "loss_l1"]  # relative to the glob's literal root
    runs = collect_runs(str(tmp_path / "ablations" / "*" / "seed*"), root=tmp_path)
    assert sorted(runs["stage"].unique()) == ["ablations.loss_iou", "ablations.loss_l1"]


def test_collect_runs_errors(tmp_path):
    with pytest.raises(ValueError, match="no run directory"):
        collect_runs(str(tmp_path / "*" / "metrics.json"))
    (tmp_path / "pending" / "seed0").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="pending/seed0/metrics.json"):
        collect_runs(str(tmp_path / "*" / "seed*"))
    save_metrics(tmp_path / "bad", {"seed": 1})
    with pytest.raises(ValueError, match="clash"):
        collect_runs(str(tmp_path / "bad"))


def test_seed_summary_by_hand(tmp_path):
    _study(tmp_path)
    runs = collect_runs(str(tmp_path / "**" / "metrics.json"))
    summary = seed_summary(runs, "name").set_index("name")
    # loss_l1: values 1, 2, 4 -> mean 7/3, sample variance ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3
    assert summary.loc["loss_l1", "n"] == 3
    assert summary.loc["loss_l1", "R1@0.5_mean"] == pytest.approx(7 / 3)
    assert summary.loc["loss_l1", "R1@0.5_std"] == pytest.approx(math.sqrt(7 / 3))
    assert summary.loc["loss_l1", "train_seconds_mean"] == pytest.approx(4.0)
    assert summary.loc["loss_l1", "train_seconds_std"] == pytest.approx(1.0)
    assert summary.loc["loss_iou", "R1@0.5_mean"] == 10.0 and np.isnan(summary.loc["loss_iou", "R1@0.5_std"])
    assert summary.loc["loss_iou", "R1@0.5_n"] == 1
    assert "seed_mean" not in summary.columns and "MR-full-mAP_mean" in summary.columns  # all-NaN metric kept
    assert summary.loc["loss_iou", "MR-full-mAP_n"] == 0 and np.isnan(summary.loc["loss_iou", "MR-full-mAP_mean"])
    assert summary.loc["qvh_b", "MR-full-mAP_mean"] == 30.0 and summary.loc["qvh_b", "n"] == 1


def test_seed_summary_counts_missing_values_per_metric():
    runs = pd.DataFrame({"name": ["a", "a", "a"], "m": [1.0, np.nan, 3.0]})
    row = seed_summary(runs, "name", metrics=["m"]).iloc[0]
    assert (row["n"], row["m_n"], row["m_mean"]) == (3, 2, 2.0)
    assert row["m_std"] == pytest.approx(math.sqrt(2.0))
    with pytest.raises(KeyError, match="group column"):
        seed_summary(runs, "stage")
    with pytest.raises(KeyError, match="metric"):
        seed_summary(runs, "name", metrics=["nope"])


def test_metrics_by_stage_lists_seed_values(tmp_path):
    _study(tmp_path)
    stages = metrics_by_stage(collect_runs(str(tmp_path / "**" / "metrics.json")))
    assert stages["ablations.loss_l1"]["R1@0.5"] == [1.0, 2.0, 4.0]
    assert stages["mr.qvh_b"] == {"R1@0.5": [50.0], "MR-full-mAP": [30.0]}
    assert "MR-full-mAP" not in stages["ablations.loss_l1"]


def test_format_mean_std():
    assert format_mean_std(61.234, 0.456, 3) == "61.23 ± 0.46"
    assert format_mean_std(61.234, np.nan, 1) == "61.23"
    assert format_mean_std(61.234, 0.5, 1) == "61.23"
    assert format_mean_std(np.nan) == "—" and format_mean_std(None, na="n/a") == "n/a"
    assert format_mean_std(2.0, 1.0, 2, digits=1) == "2.0 ± 1.0"
