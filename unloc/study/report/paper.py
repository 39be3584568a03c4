"""The paper's numbers beside ours: which printed number (table, row, column) each of our stages and metrics faces.

Every paper value comes from the transcription of the paper's Tables 1-7 (`unloc/resources/paper_tables.yaml`, read by
`unloc.study.paper_numbers`) and is cited by table, row and column; a cell the paper leaves empty, or a comparison it
does not print (e.g. prompt ensembling for UnLoc-B), shows "—" with the source "not printed in the paper". Rows whose
`our_stage` the study does not run (the L-size TAL and segmentation models) show "—" on our side. The ablation tables
(paper §4.2, Tables 1-4) list each setting once per column the paper reports: Table 1 only ANet TAL mAP@0.5, Tables
2-4 ANet TAL mAP@0.5, ANet-Captions MR R1@0.5 and COIN mAP; our number appears in the column of the metric our runs
report. `ABLATION_FAMILIES` records, per family, what the official configs use and the setting the paper prints as
best (None where its columns disagree).
"""

from __future__ import annotations

from typing import Any

from unloc.study.paper_numbers import paper_cite, paper_value

NOT_PRINTED = "not printed in the paper"
NOT_AVAILABLE = NOT_PRINTED  # the former name
# placeholders `unloc.study.report.tables` resolves to a stage's two headline metrics (kept for custom registries)
HEADLINE_1, HEADLINE_2 = "<headline 1>", "<headline 2>"
# the columns of Tables 1-4 and the key of the same metric in our metrics.json
ABLATION_COLUMNS = {"anet_tal": "mAP@0.5", "anet_mr": "R1@0.5", "coin": "mAP"}

_OFFICIAL = "reference/unloc-official.md"
# family -> title, its paper table, settings (our names = the row keys of that table), the official configs' choice;
ABLATION_FAMILIES: dict[str, dict[str, Any]] = {
    "regression_loss": {
        "title": "ablation of the regression loss (paper §4.2, Table 1)", "table": "1",
        "settings": ["loss_l1", "loss_iou", "loss_l1_iou", "loss_diou"],
        "official": {"setting": "loss_iou",
                     "source": f"{_OFFICIAL} §7 item 3 [code]: the box loss is 1 - IoU in every config"},
    },
    "pyramid": {
        "title": "ablation of the feature pyramid (paper §4.2, Table 1)", "table": "1",
        "settings": ["pyramid_none", "pyramid_fpn", "pyramid_vitdet"],
        "official": {"setting": "pyramid_vitdet",
                     "source": f"{_OFFICIAL} §1.5/§1.7 [code]: simple (ViTDet) pyramid in ANet TAL B/L, ANet-Cap-B, "
                               "QVH B/L; FPN in Charades-B and ANet-Cap-L"},
    },
    "head_layers": {
        "title": "ablation of the number of head conv layers (paper §4.2, Table 1)", "table": "1",
        "settings": ["heads_1", "heads_2", "heads_3", "heads_4"],
        "official": {"setting": None,
                     "source": f"{_OFFICIAL} §1.7 [code]: 4 layers in ANet TAL B/L and ANet-Cap-L, 3 in ANet-Cap-B, "
                               "Charades-B and QVH B/L"},
    },
    "text_encoder": {
        "title": "ablation of the text encoder (paper §4.2, Table 2; unpaired = T5-B; no text from its text)",
        "table": "2", "settings": ["text_paired", "text_unpaired", "text_none"],
        "official": {"setting": "text_paired",
                     "source": f"{_OFFICIAL} §1.1/§1.3 [code]: the CLIP text tower of the image tower's checkpoint"},
    },
    "text_tokens": {
        "title": "ablation of the text tokens fed to fusion (paper §4.2, Table 3)", "table": "3",
        "settings": ["text_one_token", "text_all_tokens"],
        "official": {"setting": "text_one_token",
                     "source": f"{_OFFICIAL} §7 item 5 [code]: one EOS token, use_all_text_tokens=False everywhere"},
    },
    "fusion": {
        "title": "ablation of where video and text are fused (paper §4.2, the text under Table 2)", "table": "2",
        "settings": ["fusion_mid", "fusion_late"],
        "official": {"setting": "fusion_mid",
                     "source": f"{_OFFICIAL} §1.1/§1.4 [code]: tower outputs are fused by a 6-layer transformer "
                               "before the pyramid and heads"},
    },
    "towers": {
        "title": "ablation of frozen vs finetuned towers, image_text (paper §4.2, Table 4)", "table": "4",
        "settings": ["towers_frozen_frozen", "towers_frozen_finetuned", "towers_finetuned_frozen",
                     "towers_finetuned_finetuned"],
        "official": {"setting": None,
                     "source": f"{_OFFICIAL} §7 item 7 [code]: differs by config (ANet-Cap-B freezes the video tower, "
                               "TAL-B the text tower)"},
    },
}
# settings whose paper row is not named like the setting
_PAPER_ROWS = {"fusion_mid": "text_reference"}
# the task our ablations of each paper column run on, and the settings each task's `default` stands for
_OUR_TASK = {"anet_tal": "tal", "anet_mr": "mr", "coin": "seg"}
DEFAULT_SETTINGS = ("loss_iou", "pyramid_vitdet", "heads_2", "text_paired", "text_one_token", "fusion_mid",
                    "towers_frozen_frozen")


def our_ablation_stage(setting: str, column: str) -> str:
    """Our stage for a setting in a paper column: `ablations.<task>.<setting>`, the task's default for a default."""
    return f"ablations.{_OUR_TASK[column]}.{'default' if setting in DEFAULT_SETTINGS else setting}"


def _row(setting: str, metric: str, cell: tuple[str, str, str] | None, our_stage: str,
         our_metric: str | None = None) -> dict[str, Any]:
    value = paper_value(*cell) if cell is not None else None
    return {"setting": setting, "metric": metric, "paper_value": value,
            "source": paper_cite(*cell) if value is not None else NOT_PRINTED,
            "our_stage": our_stage, "our_metric": our_metric or metric}


def _mr_rows(dataset: str, key: str, stage: str, size: str, qvh: bool = False) -> list[dict]:
    rows = []
    for metric in ("R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7"):
        our_metric = f"MR-full-{metric}" if qvh and metric.startswith("R1") else metric
        rows.append(_row(f"UnLoc-{size}, {dataset}", metric, ("5", f"{key}_{size.lower()}", metric),
                         f"{stage}_{size.lower()}", our_metric))
    return rows


def _ablation_table(family: str) -> dict[str, Any]:
    spec = ABLATION_FAMILIES[family]
    table = spec["table"]
    columns = ["anet_tal"] if table == "1" or family == "fusion" else list(ABLATION_COLUMNS)
    rows = []
    for setting in spec["settings"]:
        row = _PAPER_ROWS.get(setting, setting)
        for column in columns:
            cell = (table, row, column)
            printed = _printed(cell)
            rows.append(_row(setting, ABLATION_COLUMNS[column], cell if printed else None,
                             our_ablation_stage(setting, column)))
    return {"title": spec["title"], "family": family, "rows": rows}


def _printed(cell: tuple[str, str, str]) -> bool:
    try:
        return paper_value(*cell) is not None
    except KeyError:
        return False


def build_paper_tables() -> dict[str, dict[str, Any]]:
    """The registry: table id -> {title, rows, family (ablation tables only)}, in report order.

    Returns:
        Insertion-ordered dict; each row is {setting, metric, paper_value, source, our_stage, our_metric}.
    """
    t6 = "6"
    tables: dict[str, dict[str, Any]] = {
        "mr_qvhighlights": {"title": "moment retrieval on QVHighlights (Table 5; paper: test split; ours: the "
                                     "stage's eval split)",
                            "rows": _mr_rows("QVHighlights", "qvh", "mr.qvh", "L", qvh=True)
                            + _mr_rows("QVHighlights", "qvh", "mr.qvh", "B", qvh=True)},
        "mr_charades": {"title": "moment retrieval on Charades-STA (Table 5)",
                        "rows": _mr_rows("Charades-STA", "charades", "mr.charades", "L")
                        + _mr_rows("Charades-STA", "charades", "mr.charades", "B")},
        "mr_anet_captions": {"title": "moment retrieval on ActivityNet Captions (Table 5)",
                             "rows": _mr_rows("ActivityNet Captions", "anet_captions", "mr.anet_captions", "L")
                             + _mr_rows("ActivityNet Captions", "anet_captions", "mr.anet_captions", "B")},
        "tal_activitynet": {"title": "temporal action localization on ActivityNet-1.3 (Table 6; ours: B size only)",
                            "rows": [_row("UnLoc-B, first prompt", "mAP@0.5", (t6, "finetuned", "b_first"),
                                          "tal.finetune"),
                                     _row("UnLoc-B, first prompt", "mAP_avg", None, "tal.finetune"),
                                     _row("UnLoc-B, prompt ensembling (28 Kinetics templates)", "mAP@0.5", None,
                                          "tal.finetune_ensemble"),
                                     _row("UnLoc-L, first prompt", "mAP@0.5", (t6, "finetuned", "l_first"),
                                          "tal.finetune_l"),
                                     _row("UnLoc-L, prompt ensembling", "mAP@0.5", (t6, "finetuned", "l_ensemble"),
                                          "tal.finetune_l_ensemble")]},
        "tal_zero_shot": {"title": "zero-shot temporal action localization on ActivityNet-1.3, unseen classes "
                                   "(Table 6)",
                          "rows": [_row("UnLoc-B, 75% seen / 25% unseen", "mAP@0.5", (t6, "zero_shot_75", "b_first"),
                                        "tal.zero_shot_75"),
                                   _row("UnLoc-B, 50% seen / 50% unseen", "mAP@0.5", (t6, "zero_shot_50", "b_first"),
                                        "tal.zero_shot_50"),
                                   _row("UnLoc-L, 75% seen / 25% unseen", "mAP@0.5", (t6, "zero_shot_75", "l_first"),
                                        "tal.zero_shot_75_l"),
                                   _row("UnLoc-L, 50% seen / 50% unseen", "mAP@0.5", (t6, "zero_shot_50", "l_first"),
                                        "tal.zero_shot_50_l")]},
        "seg_coin": {"title": "action segmentation on COIN (Table 7; ours: B size only)",
                     "rows": [_row(label, metric, ("7", row, metric), stage)
                              for label, row, stage in (("predict all background", "all_background",
                                                         "seg.coin_all_background"),
                                                        ("UnLoc-B, first prompt", "b_first", "seg.coin"),
                                                        ("UnLoc-L, first prompt", "l_first", "seg.coin_l"))
                              for metric in ("frame_accuracy", "mAP")]},
        "pretrain_video": {"title": "video pretraining (Kinetics-style multi-label classification over class names; "
                                    "the paper prints no number for it)",
                           "rows": [_row("video pretraining", "top1", None, "pretrain.video"),
                                    _row("video pretraining", "mAP", None, "pretrain.video")]},
    }
    for family in ABLATION_FAMILIES:
        tables[f"ablation_{family}"] = _ablation_table(family)
    return tables


PAPER_TABLES = build_paper_tables()
