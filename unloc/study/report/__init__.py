"""The study's report across stages: run directories -> metrics tables, seed summaries, ablation bars, and the
paper-vs-ours comparison (paper §4). The tables notebook calls these functions and holds no logic of its own; every
figure function returns a matplotlib Figure (Agg canvas) and can save a PNG. Per-stage figures live in
`unloc.study.figures`, so that an edit here reruns only the tables stage.
"""

from unloc.study.paper_numbers import paper_cite, paper_value
from unloc.study.report.effects import Effect, paired_effect, unpaired_effect
from unloc.study.report.forest import plot_forest
from unloc.study.report.index import write_index
from unloc.study.report.io import collect_runs, format_mean_std, metrics_by_stage, seed_summary
from unloc.study.report.markdown import tables_to_markdown, to_markdown
from unloc.study.report.paper import ABLATION_FAMILIES, NOT_AVAILABLE, NOT_PRINTED, PAPER_TABLES, build_paper_tables
from unloc.study.report.pooling import pool_split_runs
from unloc.study.report.tables import paper_vs_ours
from unloc.study.report.verdicts import CLAIMS, MARGIN, PAPER_TIE, Claim, claim_table

__all__ = [
    "ABLATION_FAMILIES", "CLAIMS", "MARGIN", "NOT_AVAILABLE", "NOT_PRINTED", "PAPER_TABLES", "PAPER_TIE", "Claim",
    "Effect", "build_paper_tables", "claim_table", "collect_runs", "default_families",
    "format_mean_std", "metrics_by_stage", "paired_effect", "paper_cite", "paper_value", "paper_vs_ours",
    "plot_forest", "pool_split_runs", "seed_summary", "tables_to_markdown", "to_markdown",
    "unpaired_effect", "write_index",
]
