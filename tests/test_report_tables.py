"""unloc.report.tables and .markdown: paper-vs-ours rows, ablation conclusions, and the markdown renderer."""

import math

import numpy as np
import pandas as pd
import pytest

from unloc.report.markdown import tables_to_markdown, to_markdown
from unloc.report.paper import HEADLINE_1, HEADLINE_2, NOT_PRINTED, PAPER_TABLES
from unloc.report.tables import conclusions, headline_metrics, paper_vs_ours

OURS = {
    "mr.qvh_l": {"MR-full-R1@0.5": 50.0, "MR-full-R1@0.7": 20.0, "R1@0.5": 49.0, "R5@0.5": 80.0},
    "tal.finetune": {"mAP@0.5": [30.0, 32.0, 34.0], "mAP_avg": [20.0, 21.0, 22.0]},
    "ablations.loss_l1": {"mAP@0.5": [10.0, 12.0], "mAP_avg": [5.0, 7.0]},
    "ablations.loss_iou": {"mAP@0.5": [11.5, 12.5], "mAP_avg": [6.0, 6.0]},
    "ablations.pyramid_fpn": {"R1@0.5": [40.0], "R1@0.7": [20.0]},
    "ablations.pyramid_vitdet": {"R1@0.5": [45.0], "R1@0.7": [25.0]},
}


def test_headline_metrics_tell_the_task():
    assert headline_metrics({"mAP@0.5": 1, "mAP_avg": 1}) == ("mAP@0.5", "mAP_avg")
    assert headline_metrics({"R1@0.5": 1, "MR-full-mAP": 2}) == ("R1@0.5", "R1@0.7")
    assert headline_metrics({"frame_accuracy": 1, "mAP": 2}) == ("frame_accuracy", "mAP")
    assert headline_metrics({"top1": 1, "mAP": 2}) == ("top1", "mAP")
    assert headline_metrics({"train_seconds": 3}) is None


def test_paper_vs_ours_rows():
    tables = paper_vs_ours(PAPER_TABLES, OURS)
    assert list(tables) == list(PAPER_TABLES)
    qvh = tables["mr_qvhighlights"].set_index(["setting", "metric"])
    row = qvh.loc[("UnLoc-L, QVHighlights", "MR-full-R1@0.5")]
    assert (row["paper"], row["ours"], row["paper_value"], row["ours_n"]) == ("66.1", "50.00", 66.1, 1)
    assert math.isnan(row["ours_std"])
    assert qvh.loc[("UnLoc-B, QVHighlights", "MR-full-R1@0.5"), "ours"] == "—"  # stage not run
    assert qvh.loc[("UnLoc-B, QVHighlights", "MR-full-R1@0.5"), "paper"] == "64.5"
    assert qvh.loc[("UnLoc-L, QVHighlights", "R5@0.7"), "paper"] == "—"
    tal = tables["tal_activitynet"].set_index(["our_stage", "metric"])
    # mAP@0.5 over seeds 30, 32, 34: mean 32, sample std 2
    assert tal.loc[("tal.finetune", "mAP@0.5"), "ours"] == "32.00 ± 2.00"
    assert tal.loc[("tal.finetune", "mAP@0.5"), "paper"] == "54.6"
    assert tal.loc[("tal.finetune", "mAP@0.5"), "source"] == "Table 6, finetuned, UnLoc-B (1st prompt)"
    assert tal.loc[("tal.finetune", "mAP_avg"), "source"] == NOT_PRINTED


def test_paper_vs_ours_ablation_rows_face_the_paper_column_of_our_metric():
    tables = paper_vs_ours(PAPER_TABLES, OURS)
    loss = tables["ablation_regression_loss"]
    assert loss["metric"].tolist() == ["mAP@0.5"] * 4  # Table 1 prints ANet TAL mAP@0.5 only
    assert loss["ours"].tolist() == ["11.00 ± 1.41", "12.00 ± 0.71", "—", "—"]
    assert loss["paper"].tolist() == ["54.6", "54", "53.9", "54.1"]
    pyramid = tables["ablation_pyramid"]
    assert pyramid["ours"].eq("—").all()  # our pyramid runs report R1@0.5, Table 1 only ANet TAL mAP@0.5


def test_paper_vs_ours_resolves_headline_metrics():
    registry = {"t": {"title": "t", "rows": [
        {"setting": s, "metric": m, "paper_value": None, "source": NOT_PRINTED, "our_stage": f"ablations.{s}",
         "our_metric": m} for s in ("loss_l1", "loss_diou") for m in (HEADLINE_1, HEADLINE_2)]},
        "u": {"title": "u", "rows": [{"setting": "heads_1", "metric": HEADLINE_1, "paper_value": None,
                                      "source": NOT_PRINTED, "our_stage": "ablations.heads_1",
                                      "our_metric": HEADLINE_1}]}}
    tables = paper_vs_ours(registry, OURS)
    assert tables["t"]["metric"].tolist() == ["mAP@0.5", "mAP_avg"] * 2  # unrun settings resolve from the table's runs
    assert tables["t"]["ours"].tolist() == ["11.00 ± 1.41", "6.00 ± 1.41", "—", "—"]
    assert tables["u"]["metric"].tolist() == [HEADLINE_1] and tables["u"]["ours_n"].eq(0).all()  # nothing ran


def test_conclusions_default_registry():
    text = conclusions(OURS)
    assert text["regression_loss"] == (
        "loss_iou best on mAP@0.5 (12.00 ± 0.71, n=2), 1.00 ahead of loss_l1 (within seed noise); "
        "not run: loss_l1_iou, loss_diou; paper's conclusion: loss_l1 (ours differs); official configs: loss_iou "
        "(ours agrees)")
    assert text["pyramid"].startswith("pyramid_vitdet best on R1@0.5 (45.00, n=1), 5.00 ahead of pyramid_fpn "
                                      "(single seed, spread unknown); not run: pyramid_none")
    assert text["pyramid"].endswith("paper's conclusion: pyramid_vitdet (ours agrees); "
                                    "official configs: pyramid_vitdet (ours agrees)")
    assert text["head_layers"] == "no runs of heads_1, heads_2, heads_3, heads_4"
    assert set(text) == {"regression_loss", "pyramid", "head_layers", "text_encoder", "text_tokens", "fusion",
                         "towers"}


def test_conclusions_recorded_paper_conclusion_and_direction():
    families = {"f": {"settings": ["a", "b"], "paper_conclusion": "a", "official": {"setting": None, "source": ""}}}
    ours = {"a": {"err": [1.0, 1.2]}, "ablations.b": {"err": [3.0, 3.1]}}
    high = conclusions(ours, families, metric="err")["f"]
    assert high.startswith("b best on err") and "beyond one std" in high
    assert "paper's conclusion: a (ours differs)" in high and high.endswith("official configs: no single choice")
    low = conclusions(ours, families, metric="err", higher_is_better=False)["f"]
    assert low.startswith("a best on err (1.10 ± 0.14, n=2)") and "paper's conclusion: a (ours agrees)" in low


def test_to_markdown_by_hand():
    frame = pd.DataFrame({"name": ["a|b", "line\nbreak", None], "value": [1.0, np.nan, 2.345], "n": [1, 2, 3]})
    assert to_markdown(frame) == (
        "| name | value | n |\n"
        "| --- | ---: | ---: |\n"
        "| a\\|b | 1.00 | 1 |\n"
        "| line<br>break | — | 2 |\n"
        "| — | 2.35 | 3 |\n")
    assert to_markdown(frame, ["n", "name"], na="n/a").splitlines()[-1] == "| 3 | n/a |"
    assert to_markdown(frame, ["value"], digits=1).splitlines()[2] == "| 1.0 |"
    with pytest.raises(KeyError, match="nope"):
        to_markdown(frame, ["nope"])


def test_tables_to_markdown_headings():
    tables = paper_vs_ours(PAPER_TABLES, OURS)
    shown = {k: tables[k] for k in ("tal_zero_shot", "seg_coin")}
    text = tables_to_markdown(shown, {k: PAPER_TABLES[k]["title"] for k in shown})
    blocks = text.split("\n\n")
    assert blocks[0] == "### " + PAPER_TABLES["tal_zero_shot"]["title"]
    assert blocks[1].splitlines()[0] == "| setting | metric | paper | ours | our_stage | source |"
    assert len(blocks[1].splitlines()) == 2 + 4 and "| 40.2 | — | tal.zero_shot_75 |" in blocks[1]
    assert blocks[2].startswith("### action segmentation on COIN") and "| frame_accuracy | 68 | — | seg.coin |" in text
    assert tables_to_markdown(shown, level=2).startswith("## tal_zero_shot\n")
