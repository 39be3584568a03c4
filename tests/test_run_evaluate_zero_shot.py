"""Zero-shot TAL scoring: only unseen classes with an instance in the *evaluated* subset can be scored."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from unloc.run.evaluate import evaluate_tal


def _cfg(gt: Path) -> SimpleNamespace:
    source = SimpleNamespace(annotations=str(gt), split="validation")
    return SimpleNamespace(data=SimpleNamespace(class_split="split.json", source=lambda which: source))


def _video(subset: str, label: str) -> dict:
    return {"subset": subset, "duration": 20.0, "url": "",
            "annotations": [{"segment": [2.0, 8.0], "label": label}]}


def test_unseen_class_only_in_training_videos_is_dropped_and_counted(tmp_path: Path) -> None:
    # "b" is an unseen class whose only instance is in a training video: it has no AP on the validation subset.
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"version": "VERSION 1.3", "database": {
        "v1": _video("validation", "a"), "v2": _video("training", "b"), "v3": _video("training", "c")}}))
    submission = {"version": "VERSION 1.3", "external_data": {}, "results": {
        "v1": [{"label": "a", "score": 0.9, "segment": [2.0, 8.0]},
               {"label": "b", "score": 0.8, "segment": [2.0, 8.0]},
               {"label": "b", "score": 0.7, "segment": [10.0, 12.0]}]}}
    metrics = evaluate_tal(_cfg(gt), submission, {"eval": ["a", "b"]}, tmp_path)
    assert metrics["detections_of_classes_absent_from_split"] == 2
    assert metrics["mAP@0.5"] == 100.0  # class "a" alone: one perfect detection
    kept = json.loads((tmp_path / "predictions_scored.json").read_text())["results"]["v1"]
    assert [d["label"] for d in kept] == ["a"]
    assert len(json.loads((tmp_path / "predictions.json").read_text())["results"]["v1"]) == 3  # nothing lost
