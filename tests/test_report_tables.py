"""unloc.study.report.tables and .markdown: paper-vs-ours rows, ablation conclusions, and the markdown renderer."""

import math

import numpy as np
import pandas as pd
import pytest

from unloc.study.report.markdown import tables_to_markdown, to_markdown
from unloc.study.report.paper import HEADLINE_1, HEADLINE_2, NOT_PRINTED, PAPER_TABLES
from unloc.study.report.tables import headline_metrics, paper_vs_ours

OURS = {
    "mr.qvh_l": {"MR-full-R1@0.5": 50.0, "MR-full-R1@0.7": 20.0, "R1@0.5": 49.0, "R5@0.5": 80.0},
    "tal.finetune": {"mAP@0.5": [30.0, 32.0, 34.0], "mAP_avg": [20.0, 21.0, 22.0]},
    "ablations.tal.loss_l1": {"mAP@0.5": [10.0, 12.0], "mAP_avg": [5.0, 7.0]},
    "ablations.tal.default": {"mAP@0.5": [11.5, 12.5], "mAP_avg": [6.0, 6.0]},  # loss_iou: the TAL default
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
    assert loss["ours"].tolist() == ["11.00 ± 1.41", "12.00 ± 0.71", "—", "—"]  # L1, IoU (the default), L1+IoU, DIoU
    assert loss["paper"].tolist() == ["54.6", "54", "53.9", "54.1"]
    pyramid = tables["ablation_pyramid"]
    assert pyramid["ours"].tolist() == ["—", "—", "12.00 ± 0.71"]  # none, FPN not run; ViTDet = the TAL default


def test_paper_vs_ours_resolves_headline_metrics():
    registry = {"t": {"title": "t", "rows": [
        {"setting": s, "metric": m, "paper_value": None, "source": NOT_PRINTED, "our_stage": f"ablations.tal.{s}",
         "our_metric": m} for s in ("loss_l1", "loss_diou") for m in (HEADLINE_1, HEADLINE_2)]},
        "u": {"title": "u", "rows": [{"setting": "heads_1", "metric": HEADLINE_1, "paper_value": None,
                                      "source": NOT_PRINTED, "our_stage": "ablations.tal.heads_1",
                                      "our_metric": HEADLINE_1}]}}
    tables = paper_vs_ours(registry, OURS)
    assert tables["t"]["metric"].tolist() == ["mAP@0.5", "mAP_avg"] * 2  # unrun settings resolve from the table's runs
    assert tables["t"]["ours"].tolist() == ["11.00 ± 1.41", "6.00 ± 1.41", "—", "—"]
    assert tables["u"]["metric"].tolist() == [HEADLINE_1] and tables["u"]["ours_n"].eq(0).all()  # nothing ran


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
