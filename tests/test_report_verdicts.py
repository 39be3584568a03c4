"""unloc.study.report.verdicts and .forest on hand-made run directories: each verdict, the paper's cells, the forest plot."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from unloc.config import ExperimentConfig, save_config
from unloc.config.strict import from_dict
from unloc.study.report.effects import Effect
from unloc.study.report.forest import plot_forest
from unloc.study.report.io import collect_runs
from unloc.study.report.pooling import pool_split_runs
from unloc.study.report.verdicts import CLAIMS, Claim, claim_table, paper_claim, verdict

FX = Path(__file__).parent / "fixtures" / "eval"
GT = {"charades_mr": FX / "charades_sta_test_excerpt.txt", "anet_mr": FX / "anet_captions_val1_excerpt.json",
      "anet_tal": FX / "activitynet13_substitute_excerpt.json"}


def _write_run(root: Path, rel: str, task: str, items: list[float], prefix: str = "i") -> None:
    """A finished run scored on `task` whose per-item values are `items` (queries for MR, classes for TAL)."""
    run = root / rel
    run.mkdir(parents=True)
    kind, metric = ("tal", "mAP@0.5") if task == "anet_tal" else ("mr", "R1@0.5")
    split = {"split": "training"} if kind == "tal" else {}
    cfg = from_dict(ExperimentConfig, {"task": {"kind": kind}, "data": {"train": {"annotations": str(GT[task]),
                                                                                  **split}}}, where=rel)
    save_config(cfg, run / "config.yaml")
    (run / "metrics.json").write_text(json.dumps({metric: float(np.mean(items))}))
    ids = [f"{prefix}{k:03d}" for k in range(len(items))]
    (run / "item_metrics.json").write_text(json.dumps({"items": ids, "metrics": {metric: list(map(float, items))}}))


def _hits(rng: np.random.Generator, rate: float, n: int = 300) -> np.ndarray:
    return 100.0 * (rng.random(n) < rate)


def _claim(family: str, ablation: str) -> Claim:
    return next(c for c in CLAIMS if c.family == family and c.ablation == ablation)


@pytest.fixture
def runs(tmp_path):
    """TAL ablations against the TAL default: loss_l1 clearly better, loss_diou better by < 1 point, loss_l1_iou by
    ~2.5, pyramid_none clearly worse, pyramid_fpn clearly better, heads_3 identical to the default,
    towers_finetuned_frozen clearly worse; zero-shot over three splits."""
    rng = np.random.default_rng(0)
    for seed in range(3):
        base = _hits(rng, 0.3)
        flips = rng.random(base.size)
        _write_run(tmp_path, f"ablations/tal/default/seed{seed}", "anet_tal", base)
        _write_run(tmp_path, f"ablations/tal/loss_l1/seed{seed}", "anet_tal", np.where(flips < 0.25, 100.0, base))
        _write_run(tmp_path, f"ablations/tal/loss_diou/seed{seed}", "anet_tal", np.where(flips < 0.01, 100.0, base))
        _write_run(tmp_path, f"ablations/tal/loss_l1_iou/seed{seed}", "anet_tal",
                   np.where(flips < 0.036, 100.0, base))  # ~ +2.5: the interval straddles the margin
        _write_run(tmp_path, f"ablations/tal/pyramid_none/seed{seed}", "anet_tal", np.where(flips < 0.25, 0.0, base))
        _write_run(tmp_path, f"ablations/tal/pyramid_fpn/seed{seed}", "anet_tal", np.where(flips < 0.2, 100.0, base))
        _write_run(tmp_path, f"ablations/tal/heads_3/seed{seed}", "anet_tal", base)
        _write_run(tmp_path, f"ablations/tal/towers_finetuned_frozen/seed{seed}", "anet_tal",
                   base - rng.uniform(3, 6, base.size))
    for split in ("", "_split1", "_split2"):  # every split scores its own unseen classes
        _write_run(tmp_path, f"tal/zero_shot_75{split}", "anet_tal", rng.uniform(30, 50, 8), f"c75{split}_")
        _write_run(tmp_path, f"tal/zero_shot_50{split}", "anet_tal", rng.uniform(29, 49, 8), f"c50{split}_")
    return pool_split_runs(collect_runs(f"{tmp_path}/**/metrics.json"))


def test_verdict_rule():
    def effect(low, high):
        return Effect((low + high) / 2, low, high, 3, 100, "paired seeds x items")

    # directional claims (|paper delta| >= 1): our interval's side of zero
    assert verdict(effect(1.0, 3.0), 1.3) == "agrees"
    assert verdict(effect(-3.0, -1.0), 1.0) == "disagrees"
    assert verdict(effect(-3.0, -1.0), -7.4) == "agrees"
    assert verdict(effect(-1.0, 2.0), 1.3) == "inconclusive"
    assert verdict(effect(-0.5, 0.5), -7.4) == "inconclusive"  # an interval within the margin is no direction
    # no-difference claims (|paper delta| < 1): equivalence within +-2.5
    assert verdict(effect(-2.4, 2.2), 0.6) == "agrees"
    assert verdict(effect(1.0, 2.5), -0.1) == "agrees"  # a difference, but smaller than the margin
    assert verdict(effect(1.0, 3.0), 0.6) == "inconclusive"
    assert verdict(effect(-6.8, 1.0), -0.9) == "inconclusive"
    assert verdict(effect(2.6, 8.0), 0.6) == "disagrees"
    assert verdict(effect(-8.4, -2.6), -0.9) == "disagrees"
    assert verdict(effect(2.6, 8.0), 0.0) == "disagrees"
    assert verdict(effect(1.0, 3.0), 0.6, margin=3.0) == "agrees"
    assert verdict(effect(1.0, 3.0), 0.6, tie=0.5) == "agrees"  # +0.6 is then a direction, and ours excludes zero
    assert verdict(Effect(1.0, math.nan, math.nan, 1, 1, "paired seeds"), 0.6) == "inconclusive"
    assert [paper_claim(d) for d in (0.0, 0.99, -0.99, 1.0, -1.0)] == ["no difference"] * 3 + ["higher", "lower"]
    with pytest.raises(ValueError, match="not a number"):
        verdict(effect(1.0, 2.0), math.nan)


def test_every_verdict_on_hand_made_runs(runs):
    claims = [_claim("regression_loss", "ablations.tal.loss_l1"), _claim("regression_loss", "ablations.tal.loss_diou"),
              _claim("regression_loss", "ablations.tal.loss_l1_iou"), _claim("pyramid", "ablations.tal.pyramid_none"),
              _claim("pyramid", "ablations.tal.pyramid_fpn"), _claim("head_layers", "ablations.tal.heads_3"),
              _claim("towers", "ablations.tal.towers_finetuned_frozen"), _claim("fusion", "ablations.tal.fusion_late")]
    table = claim_table(runs, claims, n_resamples=2000).set_index("ablation")
    assert table["verdict"].to_dict() == {
        "ablations.tal.loss_l1": "disagrees",  # paper: L1 54.6 vs IoU 54.0, no difference; ours up by far more
        "ablations.tal.loss_diou": "agrees",  # paper: 54.1 vs 54.0; ours up by < 1 point, within the margin
        "ablations.tal.loss_l1_iou": "inconclusive",  # paper: 53.9 vs 54.0; ours ~ +2.5, straddling the margin
        "ablations.tal.pyramid_none": "agrees",  # paper: 47.3 < 54.7; ours clearly down
        "ablations.tal.pyramid_fpn": "disagrees",  # paper: 53.8 vs 54.7, no difference; ours clearly up
        "ablations.tal.heads_3": "inconclusive",  # identical runs: a zero-width interval at zero
        "ablations.tal.towers_finetuned_frozen": "disagrees",  # paper TAL: 54.7 > 53.2; ours down
        "ablations.tal.fusion_late": "not run"}
    l1 = table.loc["ablations.tal.loss_l1"]
    assert (l1["n_seeds"], l1["n_items"], l1["metric"], l1["design"]) == (3, 300, "mAP@0.5", "paired seeds x items")
    assert l1["paper_ablation"] == 54.6 and l1["paper_base"] == 54.0 and l1["paper_delta"] == 0.6
    assert l1["paper_claim"] == "no difference" and table.loc["ablations.tal.pyramid_none", "paper_claim"] == "lower"
    assert l1["same_task"] and l1["our_task"] == "ActivityNet TAL" and l1["paper_task"] == "ActivityNet TAL"
    assert l1["paper_source"] == "Table 1, losses: L1, ANet TAL mAP@0.5 vs Table 1, IoU, ANet TAL mAP@0.5"
    assert l1["ci_low"] > 0 and l1["half_width"] == pytest.approx((l1["ci_high"] - l1["ci_low"]) / 2)
    heads = table.loc["ablations.tal.heads_3"]
    assert heads["effect"] == heads["ci_low"] == heads["ci_high"] == 0.0
    towers = table.loc["ablations.tal.towers_finetuned_frozen"]
    assert towers["same_task"] and (towers["paper_ablation"], towers["paper_base"]) == (54.7, 53.2)
    assert towers["metric"] == "mAP@0.5" and towers["n_items"] == 300 and towers["ci_high"] < 0


def test_tables_2_to_4_read_the_column_of_our_task(tmp_path):
    for seed in range(2):
        _write_run(tmp_path, f"ablations/mr/default/seed{seed}", "anet_mr", [0.0, 100.0, 100.0, 0.0])
        _write_run(tmp_path, f"ablations/mr/towers_finetuned_frozen/seed{seed}", "anet_mr", [0.0, 0.0, 100.0, 0.0])
    row = claim_table(collect_runs(f"{tmp_path}/**/metrics.json"),
                      [_claim("towers", "ablations.mr.towers_finetuned_frozen")], n_resamples=500).iloc[0]
    assert (row["paper_ablation"], row["paper_base"], row["same_task"]) == (39.7, 43.4, True)  # Table 4, ANet MR
    assert row["paper_task"] == "ActivityNet-Captions MR" and row["effect"] == pytest.approx(-25.0)


def test_zero_shot_splits_compare_unpaired(runs):
    row = claim_table(runs, [_claim("zero_shot_split", "tal.zero_shot_75")], n_resamples=2000).iloc[0]
    assert row["design"] == "unpaired" and row["n_seeds"] == 6 and row["n_items"] == 48
    assert (row["paper_ablation"], row["paper_base"]) == (40.2, 36.9)
    assert row["ci_low"] < row["effect"] < row["ci_high"]


def test_the_claims_cover_every_family_and_resolve_in_the_paper():
    assert list(dict.fromkeys(c.family for c in CLAIMS)) == [
        "regression_loss", "pyramid", "head_layers", "text_encoder", "text_tokens", "fusion", "towers", "b_vs_l",
        "prompt_ensembling", "zero_shot_split"]
    table = claim_table(pd.DataFrame(columns=["stage", "seed", "path"]))
    assert len(table) == len(CLAIMS) and set(table["verdict"]) == {"not run"}
    assert table["paper_delta"].abs().min() > 0 and table["paper_ablation"].notna().all()
    b_vs_l = table[table.family == "b_vs_l"].set_index("ablation")
    assert b_vs_l.loc["mr.qvh_l", "paper_base"] == 64.5 and b_vs_l.loc["mr.qvh_l", "paper_ablation"] == 66.1


def test_forest_plot(runs, tmp_path):
    table = claim_table(runs, CLAIMS, n_resamples=500)
    fig = plot_forest(table, out_path=tmp_path / "forest.png")
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(CLAIMS) + table["family"].nunique()
    assert "tal.loss_l1 vs tal.default (mAP@0.5)" in labels and "regression loss" in labels
    assert (tmp_path / "forest.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="no claims"):
        plot_forest(table.iloc[:0])
