"""A notebook's closing sentence is computed from the numbers: headline metric, interval, ratio to the best baseline."""

import pytest

from unloc.study.findings import baseline_table, best_baseline, finding

OURS = {"R1@0.5": 31.2, "R1@0.7": 12.0, "mIoU": 30.0, "train_seconds": 9.0}
BASELINES = {"random windows": {"R1@0.5": 11.5, "R1@0.7": 3.0, "mIoU": 15.0},
             "whole video": {"R1@0.5": 9.4, "R1@0.7": 0.0, "mIoU": 21.5}}


def test_table_puts_the_headlines_first_and_keeps_shared_metrics():
    table = baseline_table(OURS, BASELINES)
    assert list(table.index) == ["R1@0.5", "R1@0.7", "mIoU"]  # train_seconds: ours only
    assert table.loc["mIoU", "whole video"] == 21.5


def test_sentence_with_interval_and_ratio():
    assert best_baseline(BASELINES, "R1@0.7") == ("random windows", 3.0)
    text = finding("mr.charades_b", OURS, BASELINES, interval=(28.94, 33.41))
    assert text == "mr.charades_b: R1@0.5 31.2 [28.9, 33.4], 2.7x the best trivial baseline (random windows, 11.5)"
    assert finding("s", OURS, {"zero": {"R1@0.5": 0.0}}).endswith(", against 0.0 for the best trivial baseline (zero)")
    assert finding("s", OURS, {}) == "s: R1@0.5 31.2 (no baseline scored)"
    with pytest.raises(ValueError, match="no headline metric"):
        finding("s", {"loss": 1.0}, BASELINES)
