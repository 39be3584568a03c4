"""Per-stage figures of the study's notebooks: training curves, retrieval examples and class-prompt similarity
(two-tower pretraining), recall against IoU (moment retrieval) and mAP against tIoU (temporal localization). Every
function returns a matplotlib Figure (Agg canvas) and can save a PNG."""

from unloc.study.figures.classes import confusion_matrix, plot_confusion, plot_per_class_ap
from unloc.study.figures.curves import plot_training_curves, read_history
from unloc.study.figures.embedding import plot_caption_retrieval, plot_prompt_similarity
from unloc.study.figures.retrieval import (
    map_by_tiou,
    plot_map_vs_tiou,
    plot_recall_vs_iou,
    recall_by_length,
    recall_vs_iou,
)

__all__ = ["confusion_matrix", "map_by_tiou", "plot_caption_retrieval", "plot_confusion", "plot_map_vs_tiou",
           "plot_per_class_ap", "plot_prompt_similarity", "plot_recall_vs_iou", "plot_training_curves",
           "read_history", "recall_by_length", "recall_vs_iou"]
