"""Per-item metrics of a finished run: the evaluation items whose mean is the run's metric, for paired bootstraps.

`metrics.json` holds a run's means; confidence intervals over evaluation items (`unloc.study.report.effects`) need the
items themselves. They are recomputed from the files a run directory already holds, with the evaluators' own
functions, and written beside `metrics.json` as `item_metrics.json`:

- moment retrieval: one item per query (its qid): 100 x hit for R1/R5 at IoU 0.5 / 0.7 and the top-1 IoU (mIoU),
  from `predictions.jsonl` scored query by query with `unloc.eval.moment_recall_metrics`;
- temporal localization: one item per evaluated class: its AP at each tIoU and averaged (`per_class_ap.json`), so the
  mean over classes is mAP@x / mAP_avg;
- segmentation: one item per class with a positive frame: its frame AP (`class_frame_ap`), whose mean is the mAP.

`write_item_metrics` checks that every item mean reproduces the run's metric before it writes (a mismatch is a bug,
raised naming the run and metric). Layout: {"items": [ids], "metrics": {name: [value per item]}}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from unloc.config import ExperimentConfig, load_run_config
from unloc.eval import moment_recall_metrics
from unloc.eval.mr_inputs import detect_mr_format, read_mr_ground_truth
from unloc.eval.mr_submission import read_mr_predictions
from unloc.eval.quirks import QuirkLog
from unloc.eval.seg_submission import read_segmentation_predictions
from unloc.eval.segmentation import class_frame_ap
from unloc.eval.segmentation_inputs import read_class_list, read_segmentation_ground_truth
from unloc.study.metrics import load_metrics
from unloc.train.atomic import atomic_write

ITEM_FILE = "item_metrics.json"
MR_METRICS = ("R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7", "mIoU")
ItemMetrics = dict[str, dict[str, float]]  # metric -> {item id -> value}


def _run_config(run: Path) -> ExperimentConfig:
    path = run / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{run} is not a finished unloc run: config.yaml is missing")
    return load_run_config(path)


def mr_items(gt_path: str | Path, pred_path: str | Path) -> ItemMetrics:
    """Per query (qid): R1/R5 at IoU 0.5 / 0.7 (0 or 100) and mIoU, as `moment_recall_metrics` scores it alone."""
    queries = read_mr_ground_truth(gt_path)
    by_qid = {p.qid: p for p in read_mr_predictions(pred_path, queries)}
    out: ItemMetrics = {m: {} for m in MR_METRICS}
    for query in queries:
        pred = by_qid.get(query.qid)
        scores = moment_recall_metrics([query.windows_sec], [None if pred is None else pred.windows])
        for m in MR_METRICS:
            out[m][str(query.qid)] = scores[m]
    return out


def tal_items(per_class_ap_path: str | Path) -> ItemMetrics:
    """Per evaluated class: AP at every tIoU (`mAP@0.5` ...) and averaged (`mAP_avg`), from `per_class_ap.json`."""
    per_class = json.loads(Path(per_class_ap_path).read_text())
    out: ItemMetrics = {}
    for label, aps in per_class.items():
        for key, value in aps.items():
            out.setdefault("mAP_avg" if key == "avg" else f"mAP@{key}", {})[label] = float(value)
    return out


def seg_items(cfg: ExperimentConfig, pred_path: str | Path) -> ItemMetrics:
    """Per class with a positive frame (its index in the class list): frame AP, whose mean is the run's `mAP`."""
    source = cfg.data.source("eval")
    gt_path, split = Path(source.annotations), source.split
    taxonomy = gt_path.parent / "taxonomy_target_action_mapping.csv"
    classes = read_class_list(taxonomy) if taxonomy.is_file() else None
    gt = read_segmentation_ground_truth(gt_path, fps=cfg.data.sampling.fps, split=split, classes=classes)
    scores = read_segmentation_predictions(pred_path, gt, QuirkLog())
    ap = class_frame_ap(np.concatenate(list(gt.labels.values())), np.concatenate(scores, axis=0))
    return {"mAP": {str(c): 100.0 * float(ap[c]) for c in np.flatnonzero(np.isfinite(ap))}}


_MR_TASKS = {"qvhighlights": "qvh_mr", "charades_sta": "charades_mr", "anet_captions": "anet_mr",
             "activitynet_captions": "anet_mr"}


def run_task(run_dir: str | Path) -> str:
    """What a run was scored on: 'anet_tal', 'charades_mr', 'anet_mr', 'qvh_mr', 'coin' or 'pretrain'."""
    cfg = _run_config(Path(run_dir))
    kind = cfg.task.kind
    if kind == "mr":
        return _MR_TASKS[detect_mr_format(cfg.data.source("eval").annotations)]
    return {"tal": "anet_tal", "seg": "coin"}.get(kind, "pretrain")


def item_metrics(run_dir: str | Path) -> ItemMetrics:
    """The per-item metrics of a finished run directory (empty for video pretraining, which has none yet)."""
    run = Path(run_dir)
    cfg = _run_config(run)
    kind = cfg.task.kind
    if kind == "mr":
        return mr_items(cfg.data.source("eval").annotations, run / "predictions.jsonl")
    if kind == "tal":
        return tal_items(run / "per_class_ap.json")
    if kind == "seg":
        return seg_items(cfg, run / "predictions.npz")
    return {}


def write_item_metrics(run_dir: str | Path) -> Path | None:
    """Compute, check against `metrics.json` and write `run_dir/item_metrics.json` (atomically); None when the task
    has no per-item metrics.

    Raises:
        ValueError: an item mean differs from the run's metric (naming run and metric), or items differ per metric.
    """
    run = Path(run_dir)
    items = item_metrics(run)
    if not items:
        return None
    metrics = load_metrics(run)
    ids = sorted(next(iter(items.values())))
    for name, values in items.items():
        if sorted(values) != ids:
            raise ValueError(f"{run}: metric {name} has other items than the others")
        if name in metrics and not np.isclose(np.mean(list(values.values())), metrics[name], rtol=1e-9, atol=1e-9):
            raise ValueError(f"{run}: the mean of the {len(values)} items of {name} is "
                             f"{np.mean(list(values.values()))}, metrics.json says {metrics[name]}")
    doc = {"items": ids, "metrics": {name: [round(values[i], 6) for i in ids] for name, values in sorted(items.items())}}
    text = json.dumps(doc, separators=(",", ":")) + "\n"
    return atomic_write(run / ITEM_FILE, lambda tmp: tmp.write_text(text))


def load_item_metrics(run_dir: str | Path) -> ItemMetrics | None:
    """`item_metrics.json` of a run as {metric: {item: value}}, or None when the run has none."""
    path = Path(run_dir) / ITEM_FILE
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    return {name: dict(zip(doc["items"], values, strict=True)) for name, values in doc["metrics"].items()}
