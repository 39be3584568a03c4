"""The published UnLoc numbers we can source offline, and which of our stages and metrics each one is compared with.

Only numbers with a written source are filled in: the headline results collected in the project's reference notes
(reference/peers.md §3 and reference/unloc-official.md §7 item 14, both from the PapersWithCode page of the paper and
the UniTime paper, marked there "[paper/lit, unverified]"). Every other row of the paper's tables, in particular all
of its ablations (paper §4.2: regression loss, feature pyramid, head layers, text encoder, text tokens, fusion, frozen
towers), is listed with `paper_value` None and source "not available offline", so a rendered table shows "—" rather
than a number nobody can check. The paper's table numbering is not verified here, so tables are named by what they
compare. The paper's stated conclusion of each ablation is likewise unrecorded (None); what is recorded, from the
released code, is the setting the official configs use.
"""

from __future__ import annotations

from typing import Any

NOT_AVAILABLE = "not available offline"
UNVERIFIED = "[paper/lit, unverified]"
_PWC = ("PapersWithCode page of the paper (https://www.paperswithcode.com/paper/unloc-a-unified-framework-for-video), "
        "via reference/peers.md §3 and reference/unloc-official.md §7 item 14 " + UNVERIFIED)
_PWC_PEERS = ("PapersWithCode page of the paper (https://www.paperswithcode.com/paper/unloc-a-unified-framework-for-video), "
              "via reference/peers.md §3 " + UNVERIFIED)
_UNITIME = "UniTime paper Table 3 (secondary), via reference/peers.md §3 " + UNVERIFIED
_OFFICIAL_14 = "reference/unloc-official.md §7 item 14 (PapersWithCode) " + UNVERIFIED

# Ablation rows compare our ablation runs on the task their base stage trains; the metric is resolved per stage by
# `unloc.study.report.tables.headline_metrics` (TAL mAP@0.5/mAP_avg, MR R1@0.5/R1@0.7, segmentation frame accuracy/mAP).
HEADLINE_1, HEADLINE_2 = "<headline 1>", "<headline 2>"

# family id -> title, settings (our ablation names), what the official configs use ({setting or None, source}), and
# the paper's stated conclusion (the setting it finds best; None: not recorded offline).
_OFFICIAL = "reference/unloc-official.md"
ABLATION_FAMILIES: dict[str, dict[str, Any]] = {
    "regression_loss": {
        "title": "ablation of the regression loss (paper §4.2)",
        "settings": ["loss_l1", "loss_iou", "loss_l1_iou", "loss_diou"],
        "official": {"setting": "loss_iou",
                     "source": f"{_OFFICIAL} §7 item 3 [code]: the box loss is 1 - IoU in every config"},
        "paper_conclusion": None,
    },
    "pyramid": {
        "title": "ablation of the feature pyramid (paper §4.2)",
        "settings": ["pyramid_none", "pyramid_fpn", "pyramid_vitdet"],
        "official": {"setting": "pyramid_vitdet",
                     "source": f"{_OFFICIAL} §1.5/§1.7 [code]: simple (ViTDet) pyramid in ANet TAL B/L, ANet-Cap-B, "
                               "QVH B/L; FPN in Charades-B and ANet-Cap-L"},
        "paper_conclusion": None,
    },
    "head_layers": {
        "title": "ablation of the number of head conv layers (paper §4.2)",
        "settings": ["heads_1", "heads_2", "heads_3", "heads_4"],
        "official": {"setting": None,
                     "source": f"{_OFFICIAL} §1.7 [code]: 4 layers in ANet TAL B/L and ANet-Cap-L, 3 in ANet-Cap-B, "
                               "Charades-B and QVH B/L"},
        "paper_conclusion": None,
    },
    "text_encoder": {
        "title": "ablation of the text encoder (paper §4.2)",
        "settings": ["text_paired", "text_unpaired", "text_none"],
        "official": {"setting": "text_paired",
                     "source": f"{_OFFICIAL} §1.1/§1.3 [code]: the CLIP text tower of the image tower's checkpoint"},
        "paper_conclusion": None,
    },
    "text_tokens": {
        "title": "ablation of the text tokens fed to fusion (paper §4.2)",
        "settings": ["text_one_token", "text_all_tokens"],
        "official": {"setting": "text_one_token",
                     "source": f"{_OFFICIAL} §7 item 5 [code]: one EOS token, use_all_text_tokens=False everywhere"},
        "paper_conclusion": None,
    },
    "fusion": {
        "title": "ablation of where video and text are fused (paper §4.2)",
        "settings": ["fusion_mid", "fusion_late"],
        "official": {"setting": "fusion_mid",
                     "source": f"{_OFFICIAL} §1.1/§1.4 [code]: tower outputs are fused by a 6-layer transformer "
                               "before the pyramid and heads"},
        "paper_conclusion": None,
    },
    "towers": {
        "title": "ablation of frozen vs finetuned towers, image_text (paper §4.2)",
        "settings": ["towers_frozen_frozen", "towers_frozen_finetuned", "towers_finetuned_frozen",
                     "towers_finetuned_finetuned"],
        "official": {"setting": None,
                     "source": f"{_OFFICIAL} §7 item 7 [code]: differs by config (ANet-Cap-B freezes the video tower, "
                               "TAL-B the text tower)"},
        "paper_conclusion": None,
    },
}


def _row(setting: str, metric: str, paper_value: float | None, source: str, our_stage: str,
         our_metric: str | None = None) -> dict[str, Any]:
    if paper_value is not None and source == NOT_AVAILABLE:
        raise ValueError(f"{setting} {metric}: a published value needs its source")
    return {"setting": setting, "metric": metric, "paper_value": paper_value, "source": source,
            "our_stage": our_stage, "our_metric": our_metric or metric}


def _mr_rows(dataset: str, stage: str, size: str, values: dict[str, float | None], source: str) -> list[dict]:
    rows = []
    for metric in ("R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7"):
        value = values.get(metric)
        our_metric = f"MR-full-{metric}" if stage.startswith("mr.qvh") and metric.startswith("R1") else metric
        rows.append(_row(f"UnLoc-{size}, {dataset}", metric, value, source if value is not None else NOT_AVAILABLE,
                         f"{stage}_{size.lower()}", our_metric))
    return rows


def _ablation_table(family: str, metrics: tuple[str, ...]) -> dict[str, Any]:
    spec = ABLATION_FAMILIES[family]
    rows = [_row(setting, metric, None, NOT_AVAILABLE, f"ablations.{setting}")
            for setting in spec["settings"] for metric in metrics]
    return {"title": spec["title"], "family": family, "rows": rows}


def build_paper_tables(ablation_metrics: tuple[str, ...] = (HEADLINE_1, HEADLINE_2)) -> dict[str, dict[str, Any]]:
    """The registry: table id -> {title, rows, family (ablation tables only)}, in report order.

    Args:
        ablation_metrics: our metric keys for the ablation rows (default: the two headline metrics of each run's
            task, resolved when the table is built).

    Returns:
        Insertion-ordered dict; each row is {setting, metric, paper_value, source, our_stage, our_metric}.
    """
    tables: dict[str, dict[str, Any]] = {
        "mr_qvhighlights": {"title": "moment retrieval on QVHighlights (paper: test split; ours: the stage's eval split)",
                            "rows": _mr_rows("QVHighlights", "mr.qvh", "L", {"R1@0.5": 66.10, "R1@0.7": 46.70},
                                             _UNITIME)
                            + _mr_rows("QVHighlights", "mr.qvh", "B", {}, NOT_AVAILABLE)},
        "mr_charades": {"title": "moment retrieval on Charades-STA",
                        "rows": _mr_rows("Charades-STA", "mr.charades", "L", {"R1@0.5": 60.8, "R1@0.7": 38.4}, _PWC)
                        + _mr_rows("Charades-STA", "mr.charades", "B", {}, NOT_AVAILABLE)},
        "mr_anet_captions": {"title": "moment retrieval on ActivityNet Captions",
                             "rows": _mr_rows("ActivityNet Captions", "mr.anet_captions", "L",
                                              {"R1@0.5": 48.3, "R1@0.7": 30.2}, _PWC_PEERS)
                             + _mr_rows("ActivityNet Captions", "mr.anet_captions", "B",
                                        {"R1@0.5": 48.0, "R1@0.7": 29.7, "R5@0.5": 81.5, "R5@0.7": 61.4}, _PWC)},
        "tal_activitynet": {"title": "temporal action localization on ActivityNet-1.3",
                            "rows": [_row("UnLoc-L (ours: first prompt)", "mAP@0.5", 59.3, _OFFICIAL_14, "tal.finetune"),
                                     _row("UnLoc-L (ours: first prompt)", "mAP_avg", None, NOT_AVAILABLE, "tal.finetune"),
                                     _row("prompt ensemble (28 Kinetics templates)", "mAP@0.5", None, NOT_AVAILABLE,
                                          "tal.finetune_ensemble"),
                                     _row("prompt ensemble (28 Kinetics templates)", "mAP_avg", None, NOT_AVAILABLE,
                                          "tal.finetune_ensemble")]},
        "tal_zero_shot": {"title": "zero-shot temporal action localization on ActivityNet-1.3 (unseen classes)",
                          "rows": [_row("UnLoc-B, 75% seen / 25% unseen", "mAP@0.5", 40.2, _OFFICIAL_14,
                                        "tal.zero_shot_75"),
                                   _row("UnLoc-B, 50% seen / 50% unseen", "mAP@0.5", 36.9, _OFFICIAL_14,
                                        "tal.zero_shot_50"),
                                   _row("UnLoc-L, 75% seen / 25% unseen", "mAP@0.5", 47.4, _OFFICIAL_14,
                                        "tal.zero_shot_75"),
                                   _row("UnLoc-L, 50% seen / 50% unseen", "mAP@0.5", 43.2, _OFFICIAL_14,
                                        "tal.zero_shot_50")]},
        "seg_coin": {"title": "action segmentation on COIN (the paper reports it; the number is not verified offline)",
                     "rows": [_row("UnLoc-L", "frame_accuracy", None, NOT_AVAILABLE, "seg.coin"),
                              _row("UnLoc-L", "mAP", None, NOT_AVAILABLE, "seg.coin")]},
        "pretrain_video": {"title": "video pretraining (Kinetics-style multi-label classification over class names)",
                           "rows": [_row("video pretraining", "top1", None, NOT_AVAILABLE, "pretrain.video"),
                                    _row("video pretraining", "mAP", None, NOT_AVAILABLE, "pretrain.video")]},
    }
    for family in ABLATION_FAMILIES:
        tables[f"ablation_{family}"] = _ablation_table(family, ablation_metrics)
    return tables


PAPER_TABLES = build_paper_tables()
