"""Seen against unseen classes of a zero-shot TAL stage: the per-class split, its table and finding, by hand."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from unloc.study.seen_unseen import SeenUnseen, per_class_ap, score_seen_unseen


def _write_aps(run: Path, aps: dict[str, float]) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "per_class_ap.json").write_text(json.dumps({k: {"0.5": v, "0.75": v / 2, "avg": v / 3}
                                                      for k, v in aps.items()}))


def test_table_and_finding_by_hand():
    split = SeenUnseen(seen={"a": 40.0, "b": 20.0, "c": 60.0}, unseen={"d": 30.0, "e": 10.0})
    table = split.table()
    assert table.loc["seen in training", "mAP@0.5"] == pytest.approx(40.0)
    assert table.loc["unseen (held out)", "mAP@0.5"] == pytest.approx(20.0)
    assert table.loc["unseen (held out)", "median AP"] == pytest.approx(20.0)
    assert table.loc["seen in training", "classes"] == 3 and table.loc["seen in training", "max AP"] == 60.0
    text = split.finding("tal.zs")
    # U of the unseen side = 1 (30 beats 20 only); over the C(5, 2) = 10 rankings P(U <= 1) = 2/10, two-sided 0.4
    assert text == ("tal.zs: unseen classes AP@0.5 20.0 over 2 classes against 40.0 over 3 seen classes of the same "
                    "model (0.50x); 0 of 2 unseen classes at or above the seen median (40.0); rank test p = 0.40")
    assert split.per_class == {"a": 40.0, "b": 20.0, "c": 60.0, "d": 30.0, "e": 10.0}


def test_a_stage_without_class_split_has_only_seen_classes(tmp_path):
    _write_aps(tmp_path, {"a": 12.0, "b": 30.0})
    cfg = SimpleNamespace(data=SimpleNamespace(class_split=None))
    split = score_seen_unseen(tmp_path, cfg)
    assert split.seen == {"a": 12.0, "b": 30.0} and split.unseen == {}
    assert split.finding("tal.finetune") == "tal.finetune: all 2 classes are seen in training (no zero-shot class split)"
    assert list(split.table().index) == ["seen in training"]
    assert score_seen_unseen(tmp_path, cfg, tiou="0.75").seen == {"a": 6.0, "b": 15.0}


def test_per_class_ap_names_the_file_it_lacks(tmp_path):
    with pytest.raises(FileNotFoundError, match="per_class_ap.json"):
        per_class_ap(tmp_path)
    _write_aps(tmp_path, {"a": 1.0})
    with pytest.raises(ValueError, match="'a' has no AP at tIoU 0.95"):
        per_class_ap(tmp_path, "0.95")


def test_reevaluate_refuses_eval_classes_without_a_class_split(tmp_path):
    from unloc.study.stages import reevaluate

    run = tmp_path / "run"
    cfg = SimpleNamespace(name="tal.finetune", data=SimpleNamespace(class_split=None), task=SimpleNamespace())
    with pytest.raises(ValueError, match="tal.finetune: eval_classes re-scores a zero-shot stage"):
        reevaluate(run, cfg, tmp_path / "out", eval_classes=["a"])


def test_finding_counts_one_class_in_the_singular():
    text = SeenUnseen(seen={"a": 10.0}, unseen={"b": 0.0}).finding("s")
    assert text.startswith("s: unseen classes AP@0.5 0.0 over 1 class against 10.0 over 1 seen class of the same model")
    assert "(0.00x); 0 of 1 unseen classes at or above the seen median (10.0)" in text
