"""Evaluation with the official numbers for the three tasks: moment retrieval, temporal action localization and action
segmentation (paper §4). File-level `evaluate_*` functions back the `unloc eval` command; the array-level functions
are for training loops and notebooks. Ground truth is read by `unloc.data.formats` as given; each task's submission
format by one module (`mr_submission`, `tal_submission`, `seg_submission`); input quirks are counted (`quirks`).

Names are imported on first use (PEP 562), so `import unloc.eval.cli` stays as light as the standard library.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "unloc.eval.inputs": ("EvalInputError",),
    "unloc.eval.quirks": ("QUIRKS", "QuirkLog"),
    "unloc.eval.matching": ("greedy_match", "interpolated_ap", "match_groups", "segment_iou"),
    "unloc.eval.moment_retrieval": ("evaluate_moment_retrieval", "moment_recall_metrics", "moment_retrieval_metrics"),
    "unloc.eval.mr_inputs": ("MomentPrediction", "MomentQuery", "read_mr_ground_truth"),
    "unloc.eval.mr_submission": ("read_mr_predictions",),
    "unloc.eval.qvhighlights": ("mr_average_precision", "qvhighlights_metrics"),
    "unloc.eval.ranking": ("frame_ap", "saliency_ap"),
    "unloc.eval.segmentation": ("class_frame_ap", "edit_score", "evaluate_segmentation", "f1_counts",
                                "label_segments", "predicted_labels", "segmentation_metrics"),
    "unloc.eval.segmentation_inputs": ("FrameLabels", "read_segmentation_ground_truth"),
    "unloc.eval.seg_submission": ("read_segmentation_predictions",),
    "unloc.eval.tal_inputs": ("Detections", "read_anet_ground_truth"),
    "unloc.eval.tal_submission": ("read_anet_predictions",),
    "unloc.eval.temporal_localization": ("activitynet_detection_metrics", "detection_average_precision",
                                         "evaluate_temporal_localization"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "QUIRKS", "Detections", "EvalInputError", "FrameLabels", "MomentPrediction", "MomentQuery", "QuirkLog",
    "activitynet_detection_metrics", "class_frame_ap", "detection_average_precision", "edit_score",
    "evaluate_moment_retrieval", "evaluate_segmentation", "evaluate_temporal_localization", "f1_counts", "frame_ap",
    "greedy_match", "interpolated_ap", "label_segments", "match_groups", "moment_recall_metrics",
    "moment_retrieval_metrics", "mr_average_precision", "predicted_labels", "qvhighlights_metrics",
    "read_anet_ground_truth", "read_anet_predictions", "read_mr_ground_truth", "read_mr_predictions",
    "read_segmentation_ground_truth", "read_segmentation_predictions", "saliency_ap", "segment_iou",
    "segmentation_metrics",
]


def __getattr__(name: str) -> object:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'unloc.eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
