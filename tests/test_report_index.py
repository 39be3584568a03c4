"""reports/README.md: one row per stage with headline numbers computed from the metrics files, and notebook links."""

import json

from unloc.study.report import collect_runs
from unloc.study.report.index import stage_index, write_index


def _write(path, metrics):
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps(metrics))


def test_index_rows_headlines_and_links(tmp_path):
    _write(tmp_path / "mr" / "charades_b", {"R1@0.5": 30.0, "R1@0.7": 12.5, "mIoU": 28.0})
    (tmp_path / "mr" / "charades_b" / "notebook.ipynb").write_text("{}")
    _write(tmp_path / "ablations" / "tal" / "heads_1", {"seeds": {"0": {"mAP@0.5": 10.0, "mAP_avg": 4.0},
                                                                   "1": {"mAP@0.5": 14.0, "mAP_avg": 6.0}}})
    runs = collect_runs(f"{tmp_path}/**/metrics.json")
    index = stage_index(runs, tmp_path).set_index("stage")
    assert index.loc["mr.charades_b", "headline"] == "R1@0.5 30.00"
    assert index.loc["mr.charades_b", "notebook"] == "[notebook](mr/charades_b/notebook.ipynb)"
    # two seeds: mean 12, sd sqrt(8) = 2.83
    assert index.loc["ablations.tal.heads_1", "headline"] == "mAP@0.5 12.00 ± 2.83"
    assert index.loc["ablations.tal.heads_1", "second"] == "mAP_avg 5.00 ± 1.41"
    assert index.loc["ablations.tal.heads_1", "runs"] == 2 and index.loc["ablations.tal.heads_1", "notebook"] == "—"
    text = write_index(runs, tmp_path).read_text()
    assert "| mr.charades_b | R1@0.5 30.00 | R1@0.7 12.50 | 1 | [notebook](mr/charades_b/notebook.ipynb) |" in text
