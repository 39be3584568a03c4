"""unloc.study.report.paper: the registry holds exactly the published numbers with a written source, and nothing else."""

import re

import pytest

from unloc.study.report.paper import (
    ABLATION_FAMILIES,
    HEADLINE_1,
    NOT_AVAILABLE,
    PAPER_TABLES,
    build_paper_tables,
)

# the published numbers of reference/peers.md §3 and reference/unloc-official.md §7 item 14, by (stage, metric)
SOURCED = {
    ("mr.qvh_l", "MR-full-R1@0.5"): 66.10, ("mr.qvh_l", "MR-full-R1@0.7"): 46.70,
    ("mr.charades_l", "R1@0.5"): 60.8, ("mr.charades_l", "R1@0.7"): 38.4,
    ("mr.anet_captions_l", "R1@0.5"): 48.3, ("mr.anet_captions_l", "R1@0.7"): 30.2,
    ("mr.anet_captions_b", "R1@0.5"): 48.0, ("mr.anet_captions_b", "R1@0.7"): 29.7,
    ("mr.anet_captions_b", "R5@0.5"): 81.5, ("mr.anet_captions_b", "R5@0.7"): 61.4,
    ("tal.finetune", "mAP@0.5"): 59.3,
}
ZERO_SHOT = {("UnLoc-B", "75%"): 40.2, ("UnLoc-B", "50%"): 36.9, ("UnLoc-L", "75%"): 47.4, ("UnLoc-L", "50%"): 43.2}
OUR_STAGES = {"mr.qvh_b", "mr.qvh_l", "mr.charades_b", "mr.charades_l", "mr.anet_captions_b", "mr.anet_captions_l",
              "tal.finetune", "tal.finetune_ensemble", "tal.zero_shot_75", "tal.zero_shot_50", "seg.coin",
              "pretrain.video"}
ABLATIONS = {"loss_l1", "loss_iou", "loss_l1_iou", "loss_diou", "pyramid_none", "pyramid_fpn", "pyramid_vitdet",
             "heads_1", "heads_2", "heads_3", "heads_4", "text_paired", "text_unpaired", "text_none", "text_one_token",
             "text_all_tokens", "fusion_late", "fusion_mid", "towers_frozen_frozen", "towers_frozen_finetuned",
             "towers_finetuned_frozen", "towers_finetuned_finetuned"}
REFERENCE = re.compile(r"(reference/(peers|unloc-official)\.md §)|(https?://)|(Table \d)")


def _rows():
    return [(table_id, row) for table_id, table in PAPER_TABLES.items() for row in table["rows"]]


def test_every_value_has_a_referenced_source_and_missing_ones_say_so():
    for table_id, row in _rows():
        assert set(row) == {"setting", "metric", "paper_value", "source", "our_stage", "our_metric"}
        if row["paper_value"] is None:
            assert row["source"] == NOT_AVAILABLE, (table_id, row)
        else:
            assert REFERENCE.search(row["source"]) and "[paper/lit, unverified]" in row["source"], (table_id, row)


def test_no_fabricated_numbers():
    """The non-None values are exactly the sourced list: none added, none lost, none altered."""
    found = {}
    for table_id, row in _rows():
        if row["paper_value"] is None:
            continue
        if table_id == "tal_zero_shot":
            size, split = row["setting"].split(",")[0], row["setting"].split(", ")[1].split()[0]
            assert ZERO_SHOT[(size, split)] == row["paper_value"]
            assert row["our_stage"] == f"tal.zero_shot_{split[:-1]}"
            continue
        key = (row["our_stage"], row["our_metric"])
        assert key not in found, key
        found[key] = row["paper_value"]
    assert found == SOURCED
    assert sum(r["paper_value"] is not None for _, r in _rows()) == len(SOURCED) + len(ZERO_SHOT)


def test_ablation_tables_are_all_unsourced_rows_of_our_ablation_names():
    ablation_tables = [t for t in PAPER_TABLES.values() if "family" in t]
    assert len(ablation_tables) == 7 == len(ABLATION_FAMILIES)
    settings = {row["setting"] for t in ablation_tables for row in t["rows"]}
    assert settings == ABLATIONS
    for table in ablation_tables:
        assert all(r["paper_value"] is None and r["our_stage"] == f"ablations.{r['setting']}" for r in table["rows"])
    for spec in ABLATION_FAMILIES.values():
        assert spec["paper_conclusion"] is None  # not recorded offline
        official = spec["official"]
        assert official["setting"] is None or official["setting"] in spec["settings"]
        assert official["source"].startswith("reference/unloc-official.md §") and "[code]" in official["source"]


def test_stage_names_and_titles():
    stages = {row["our_stage"] for _, row in _rows()}
    assert stages == OUR_STAGES | {f"ablations.{a}" for a in ABLATIONS}
    for table in PAPER_TABLES.values():
        assert table["title"] and not re.search(r"Table \d", table["title"])  # numbering is not verified


def test_build_paper_tables_ablation_metrics():
    tables = build_paper_tables(("mAP_avg",))
    rows = tables["ablation_pyramid"]["rows"]
    assert [(r["setting"], r["our_metric"]) for r in rows] == [
        ("pyramid_none", "mAP_avg"), ("pyramid_fpn", "mAP_avg"), ("pyramid_vitdet", "mAP_avg")]
    assert PAPER_TABLES["ablation_pyramid"]["rows"][0]["our_metric"] == HEADLINE_1
    assert list(tables) == list(PAPER_TABLES)


def test_a_value_without_source_is_refused():
    from unloc.study.report.paper import _row

    with pytest.raises(ValueError, match="needs its source"):
        _row("x", "R1@0.5", 1.0, NOT_AVAILABLE, "mr.qvh_b")
