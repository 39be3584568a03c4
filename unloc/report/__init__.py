"""Figures and tables of the study's report: run directories -> metrics tables, seed summaries, training curves,
ablation bars, recall/mAP-vs-overlap curves, the paper-vs-ours comparison (paper §4), paired effects with confidence
intervals, a computed verdict per claim of the paper and their forest plot. The notebooks call these functions and
hold no logic of their own; every figure function returns a matplotlib Figure (Agg canvas) and can save a PNG.
"""

from unloc.report.ablations import default_families, plot_ablation_bars
from unloc.report.curves import plot_training_curves, read_history
from unloc.report.effects import Effect, paired_effect, unpaired_effect
from unloc.report.forest import plot_forest
from unloc.report.io import (
    collect_runs,
    format_mean_std,
    load_metrics,
    metrics_by_stage,
    save_metrics,
    seed_summary,
)
from unloc.report.items import load_item_metrics, write_item_metrics
from unloc.report.markdown import tables_to_markdown, to_markdown
from unloc.report.paper import ABLATION_FAMILIES, NOT_AVAILABLE, NOT_PRINTED, PAPER_TABLES, build_paper_tables
from unloc.report.paper_numbers import paper_cite, paper_value
from unloc.report.retrieval import map_by_tiou, plot_map_vs_tiou, plot_recall_vs_iou, recall_vs_iou
from unloc.report.tables import conclusions, headline_metrics, paper_vs_ours
from unloc.report.verdicts import CLAIMS, Claim, claim_table

__all__ = [
    "ABLATION_FAMILIES", "CLAIMS", "NOT_AVAILABLE", "NOT_PRINTED", "PAPER_TABLES", "Claim", "Effect",
    "build_paper_tables", "claim_table", "collect_runs", "conclusions", "default_families", "format_mean_std",
    "headline_metrics", "load_item_metrics", "load_metrics", "map_by_tiou", "metrics_by_stage", "paired_effect",
    "paper_cite", "paper_value", "paper_vs_ours", "plot_ablation_bars", "plot_forest", "plot_map_vs_tiou",
    "plot_recall_vs_iou", "plot_training_curves", "read_history", "recall_vs_iou", "save_metrics", "seed_summary",
    "tables_to_markdown", "to_markdown", "unpaired_effect", "write_item_metrics",
]
