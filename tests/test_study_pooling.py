"""The study's tables pool zero-shot runs over their class splits and repeat ablation bases under their aliases."""

import json

import pytest

from unloc.study import report


def _run(root, stage_path, **metrics):
    run = root.joinpath(*stage_path.split("/"))
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def runs(tmp_path):
    _run(tmp_path, "tal/finetune", **{"mAP@0.5": 15.0})
    _run(tmp_path, "tal/zero_shot_75", **{"mAP@0.5": 10.0})
    _run(tmp_path, "tal/zero_shot_75_split1", **{"mAP@0.5": 12.0})
    _run(tmp_path, "tal/zero_shot_75_split2", **{"mAP@0.5": 17.0})
    _run(tmp_path, "tal/zero_shot_50", **{"mAP@0.5": 4.0})
    _run(tmp_path, "ablations/base/seed0", **{"R1@0.5": 14.0})
    _run(tmp_path, "ablations/base/seed1", **{"R1@0.5": 16.0})
    return report.collect_runs(f"{tmp_path}/**/metrics.json")


def test_split_runs_join_their_base_stage(runs):
    pooled = report.pool_split_runs(runs)
    assert sorted(pooled.stage.unique()) == ["ablations.base", "tal.finetune", "tal.zero_shot_50", "tal.zero_shot_75"]
    assert set(pooled[pooled.stage == "tal.zero_shot_75"].name) == {"zero_shot_75"}
    ours = report.metrics_by_stage(pooled)
    assert sorted(ours["tal.zero_shot_75"]["mAP@0.5"]) == [10.0, 12.0, 17.0]
    assert ours["tal.zero_shot_50"]["mAP@0.5"] == [4.0] and ours["tal.finetune"]["mAP@0.5"] == [15.0]
    assert len(runs) == len(pooled) and list(runs.stage) != list(pooled.stage)  # renamed, nothing dropped


def test_the_zero_shot_table_shows_the_mean_over_splits(runs):
    ours = report.metrics_by_stage(report.pool_split_runs(runs))
    table = report.paper_vs_ours(report.PAPER_TABLES, ours)["tal_zero_shot"]
    row = table[(table.our_stage == "tal.zero_shot_75") & (table.metric == "mAP@0.5")].iloc[0]
    assert row.ours_mean == pytest.approx(13.0) and row.ours_n == 3
    assert row.ours_std == pytest.approx(3.6055512, rel=1e-6)  # sample std of 10, 12, 17
    assert row.ours == "13.00 ± 3.61"
