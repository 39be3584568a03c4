"""Evaluation with the official numbers for the three tasks: moment retrieval, temporal action localization and action
segmentation (paper §4). File-level `evaluate_*` functions back the `unloc eval` command; the array-level functions
are for training loops and notebooks."""

from unloc.eval.inputs import EvalInputError, WarningLog
from unloc.eval.matching import greedy_match, interpolated_ap, match_groups, segment_iou
from unloc.eval.moment_retrieval import evaluate_moment_retrieval, moment_recall_metrics, moment_retrieval_metrics
from unloc.eval.mr_inputs import MomentPrediction, MomentQuery, read_mr_ground_truth, read_mr_predictions
from unloc.eval.qvhighlights import mr_average_precision, qvhighlights_metrics
from unloc.eval.ranking import frame_ap, saliency_ap
from unloc.eval.segmentation import (
    class_frame_ap,
    edit_score,
    evaluate_segmentation,
    f1_counts,
    label_segments,
    predicted_labels,
    segmentation_metrics,
)
from unloc.eval.segmentation_inputs import FrameLabels, read_segmentation_ground_truth, read_segmentation_predictions
from unloc.eval.tal_inputs import Detections, read_anet_ground_truth, read_anet_predictions
from unloc.eval.temporal_localization import (
    activitynet_detection_metrics,
    detection_average_precision,
    evaluate_temporal_localization,
)

__all__ = [
    "Detections", "EvalInputError", "FrameLabels", "MomentPrediction", "MomentQuery", "WarningLog",
    "activitynet_detection_metrics", "class_frame_ap", "detection_average_precision", "edit_score",
    "evaluate_moment_retrieval", "evaluate_segmentation", "evaluate_temporal_localization", "f1_counts", "frame_ap",
    "greedy_match", "interpolated_ap", "label_segments", "match_groups", "moment_recall_metrics",
    "moment_retrieval_metrics", "mr_average_precision", "predicted_labels", "qvhighlights_metrics",
    "read_anet_ground_truth", "read_anet_predictions", "read_mr_ground_truth", "read_mr_predictions",
    "read_segmentation_ground_truth", "read_segmentation_predictions",
    "saliency_ap", "segment_iou", "segmentation_metrics",
]
