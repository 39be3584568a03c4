"""unloc.study.report.paper: every paper value of the registry is a cited cell of the transcribed Tables 1-7, nothing else."""

import re

from unloc.study.paper_numbers import paper_tables
from unloc.study.report.paper import ABLATION_FAMILIES, NOT_PRINTED, PAPER_TABLES, our_ablation_stage

OUR_STAGES = {"mr.qvh_b", "mr.qvh_l", "mr.charades_b", "mr.charades_l", "mr.anet_captions_b", "mr.anet_captions_l",
              "tal.finetune", "tal.finetune_ensemble", "tal.zero_shot_75", "tal.zero_shot_50", "seg.coin",
              "pretrain.video"}
NOT_IN_THE_STUDY = {"tal.finetune_l", "tal.finetune_l_ensemble", "tal.zero_shot_75_l", "tal.zero_shot_50_l",
                    "seg.coin_l", "seg.coin_all_background"}
ABLATIONS = {"loss_l1", "loss_iou", "loss_l1_iou", "loss_diou", "pyramid_none", "pyramid_fpn", "pyramid_vitdet",
             "heads_1", "heads_2", "heads_3", "heads_4", "text_paired", "text_unpaired", "text_none", "text_one_token",
             "text_all_tokens", "fusion_late", "fusion_mid", "towers_frozen_frozen", "towers_frozen_finetuned",
             "towers_finetuned_frozen", "towers_finetuned_finetuned"}
CITE = re.compile(r"^Table (\d), (.+?)(?:, ([^,]+?))?( \(text\))?$")


def _rows():
    return [(table_id, row) for table_id, table in PAPER_TABLES.items() for row in table["rows"]]


def test_every_paper_value_is_the_cell_it_cites():
    tables = paper_tables()["tables"]
    for table_id, row in _rows():
        assert set(row) == {"setting", "metric", "paper_value", "source", "our_stage", "our_metric"}
        if row["paper_value"] is None:
            assert row["source"] == NOT_PRINTED, (table_id, row)
            continue
        table, label, header, _ = CITE.match(row["source"]).groups()
        (cells,) = [r for r in tables[table]["rows"].values() if r["label"] == label]
        (column,) = [c for c, h in tables[table]["columns"].items() if h == header]
        assert cells[column] == row["paper_value"], (table_id, row)


def test_the_numbers_issue_16_names_are_there():
    qvh = {(r["setting"], r["metric"]): r for r in PAPER_TABLES["mr_qvhighlights"]["rows"]}
    assert qvh[("UnLoc-B, QVHighlights", "R1@0.5")]["paper_value"] == 64.5
    assert qvh[("UnLoc-B, QVHighlights", "R1@0.7")]["paper_value"] == 48.8
    assert qvh[("UnLoc-B, QVHighlights", "R1@0.5")]["our_metric"] == "MR-full-R1@0.5"
    assert qvh[("UnLoc-L, QVHighlights", "R5@0.5")]["paper_value"] is None  # "—" in Table 5
    tal = {(r["our_stage"], r["metric"]): r["paper_value"] for r in PAPER_TABLES["tal_activitynet"]["rows"]}
    assert tal[("tal.finetune", "mAP@0.5")] == 54.6 and tal[("tal.finetune_l_ensemble", "mAP@0.5")] == 59.3
    assert tal[("tal.finetune_ensemble", "mAP@0.5")] is None  # the paper ensembles prompts for L only
    seg = {(r["our_stage"], r["metric"]): r["paper_value"] for r in PAPER_TABLES["seg_coin"]["rows"]}
    assert seg[("seg.coin", "frame_accuracy")] == 68.0 and seg[("seg.coin_all_background", "frame_accuracy")] == 58.9
    printed = sum(r["paper_value"] is not None for _, r in _rows())
    assert printed == 71  # Table 5: 20, Table 6: 3 + 4, Table 7: 6, ablations: 11 + 7 + 6 + 2 + 12 (Tables 1-4)


def test_ablation_tables_list_each_setting_per_printed_column():
    ablation_tables = {t["family"]: t for t in PAPER_TABLES.values() if "family" in t}
    assert list(ablation_tables) == list(ABLATION_FAMILIES)
    assert {r["setting"] for t in ablation_tables.values() for r in t["rows"]} == ABLATIONS
    loss = ablation_tables["regression_loss"]["rows"]
    assert [(r["setting"], r["metric"], r["paper_value"]) for r in loss] == [
        ("loss_l1", "mAP@0.5", 54.6), ("loss_iou", "mAP@0.5", 54.0), ("loss_l1_iou", "mAP@0.5", 53.9),
        ("loss_diou", "mAP@0.5", 54.1)]
    tokens = {(r["setting"], r["metric"]): r["paper_value"] for r in ablation_tables["text_tokens"]["rows"]}
    assert tokens == {("text_one_token", "mAP@0.5"): 53.3, ("text_one_token", "R1@0.5"): 42.6,
                      ("text_one_token", "mAP"): 15.7, ("text_all_tokens", "mAP@0.5"): 53.7,
                      ("text_all_tokens", "R1@0.5"): 44.2, ("text_all_tokens", "mAP"): 16.4}
    fusion = {r["setting"]: (r["paper_value"], r["source"]) for r in ablation_tables["fusion"]["rows"]}
    assert fusion["fusion_late"] == (49.8, "Table 2, late fusion, ANet TAL (text)") and fusion["fusion_mid"][0] == 54.7
    # our stage: the setting on the task of the paper's column, or that task's default for the default setting
    stages = {(r["setting"], r["metric"]): r["our_stage"] for t in ablation_tables.values() for r in t["rows"]}
    assert stages[("loss_l1", "mAP@0.5")] == "ablations.tal.loss_l1"
    assert stages[("loss_iou", "mAP@0.5")] == "ablations.tal.default"
    assert stages[("text_all_tokens", "R1@0.5")] == "ablations.mr.text_all_tokens"
    assert stages[("towers_frozen_frozen", "mAP")] == "ablations.seg.default"


def test_official_choices_name_a_setting_and_the_code():
    for spec in ABLATION_FAMILIES.values():
        official = spec["official"]
        assert official["setting"] is None or official["setting"] in spec["settings"]
        assert official["source"].startswith("reference/unloc-official.md §") and "[code]" in official["source"]


def test_stage_names():
    stages = {row["our_stage"] for _, row in _rows()}
    ours = {our_ablation_stage(a, c) for a in ABLATIONS for c in ("anet_tal", "anet_mr", "coin")}
    assert stages - OUR_STAGES - NOT_IN_THE_STUDY <= ours and any(s.startswith("ablations.seg.") for s in stages)
