"""The strongest non-learned TAL baseline (`class_prior_windows`): hand-worked windows, scores and mAP, from the
training segments alone."""

import json

import numpy as np
import pytest

from unloc.config import ExperimentConfig
from unloc.config.strict import from_dict
from unloc.study.baseline_windows import class_prior_windows, covering_windows, iou_1d, window_candidates
from unloc.study.baselines import BASELINES, baseline_metrics, baseline_predictions

TRAIN = {  # relative spans: "a" at [0, 0.5] twice, "b" at [0.75, 1] once
    "t1": {"subset": "training", "duration": 10.0, "annotations": [{"segment": [0.0, 5.0], "label": "a"}]},
    "t2": {"subset": "training", "duration": 20.0, "annotations": [
        {"segment": [0.0, 10.0], "label": "a"}, {"segment": [15.0, 20.0], "label": "b"}]},
}


def anet_cfg(tmp_path, validation: dict, name: str = "anet.json", **data) -> ExperimentConfig:
    path = tmp_path / name
    path.write_text(json.dumps({"version": "VERSION 1.3", "database": {**TRAIN, **validation}}))
    return from_dict(ExperimentConfig, {"name": "cpw", "task": {"kind": "tal"}, "data": {
        "train": {"annotations": str(path), "split": "training"}, "eval": {"split": "validation"}, **data}},
        where="test")


def best_fit(span) -> np.ndarray:
    """The candidate window with the highest IoU with `span` (what the tie rule picks among equal gains)."""
    candidates = window_candidates()
    return candidates[int(np.argmax([iou_1d(c, np.array([span]))[0] for c in candidates]))]


def test_covering_windows_hand_worked():
    candidates = np.array([[0.0, 0.5], [0.0, 0.4], [0.5, 1.0], [0.25, 0.75]])
    spans = np.array([[0.0, 0.45], [0.05, 0.5], [0.6, 1.0]])
    rows = covering_windows(candidates, spans, np.array([0.2, 0.3, 0.5]), 4)
    # [0.6, 1] alone weighs 0.5 = the two left spans together; [0, 0.5] fits them better (IoU 0.9 + 0.9) than
    # [0, 0.4] (0.89 + 0.7), and [0.25, 0.75] hits nothing: two windows in all, in order of gain then fit
    np.testing.assert_allclose(rows, [[0.0, 0.5, 0.5], [0.5, 1.0, 0.5]])
    assert covering_windows(candidates, spans, np.array([0.2, 0.3, 0.6]), 1)[0, :2].tolist() == [0.5, 1.0]


def test_window_candidates_span_the_video():
    c = window_candidates()
    assert (c[:, 0] >= 0).all() and (c[:, 1] <= 1.0 + 1e-9).all() and (c[:, 1] > c[:, 0]).all()
    lengths = np.unique(np.round(c[:, 1] - c[:, 0], 6))
    assert len(lengths) == 30 and lengths.min() == pytest.approx(0.01) and lengths.max() == pytest.approx(1.0)


def test_class_windows_and_scores_hand_worked():
    spans, labels = np.array([[0.0, 0.5], [0.0, 0.5], [0.75, 1.0]]), ["a", "a", "b"]
    out = class_prior_windows(spans, labels, ["a", "b", "u"], n_videos=2, shrinkage=10.0)
    left, right = best_fit([0.0, 0.5]), best_fit([0.75, 1.0])
    # "a": span weights (1 + 10/3) / 12 = 13/36 each, "b"'s 10/36; 2 segments in 2 videos -> 1 per video
    np.testing.assert_allclose(out["a"], [[*left, 26 / 36], [*right, 10 / 36]])
    # "b": its own span (1 + 10/3) / 11 = 13/33 loses to the two pooled "a" spans (20/33): shrinkage at work;
    # 1 segment in 2 videos -> 0.5 per video
    np.testing.assert_allclose(out["b"], [[*left, 0.5 * 20 / 33], [*right, 0.5 * 13 / 33]])
    # no training segment ("u", an unseen class): the pooled spans, at the mean rate of the training classes (3/2/2)
    np.testing.assert_allclose(out["u"], [[*left, 0.75 * 2 / 3], [*right, 0.75 / 3]])
    alone = class_prior_windows(spans, labels, ["b"], n_videos=2, shrinkage=0.0)
    np.testing.assert_allclose(alone["b"], [[*right, 0.5]])  # its own span only; nothing else gains
    with pytest.raises(ValueError, match="no training segment"):
        class_prior_windows(np.zeros((0, 2)), [], ["a"], n_videos=1)


def test_tal_class_prior_windows_map_hand_worked(tmp_path):
    validation = {"v1": {"subset": "validation", "duration": 40.0, "annotations": [
        {"segment": [0.0, 20.0], "label": "a"}, {"segment": [30.0, 40.0], "label": "b"}]}}
    cfg = anet_cfg(tmp_path, validation)
    assert "class_prior_windows" in BASELINES["tal"]
    rows = baseline_predictions(cfg)["class_prior_windows"]["results"]["v1"]
    left, right = best_fit([0.0, 0.5]) * 40, best_fit([0.75, 1.0]) * 40
    assert [r["label"] for r in rows] == ["a", "a", "b", "b"]
    np.testing.assert_allclose([r["segment"] for r in rows], [left, right, left, right])
    metrics = baseline_metrics(cfg, tmp_path / "out")["class_prior_windows"]
    # "a": its first window hits (AP 1); "b": its first window misses, its second hits (precision 1/2, AP 0.5)
    assert metrics["mAP@0.5"] == pytest.approx(75.0)
    assert json.loads((tmp_path / "out" / "class_prior_windows" / "metrics.json").read_text()) == metrics


def test_predictions_use_training_annotations_only(tmp_path):
    one = {"v1": {"subset": "validation", "duration": 40.0, "annotations": [
        {"segment": [0.0, 20.0], "label": "a"}, {"segment": [30.0, 40.0], "label": "b"}]},
           "v2": {"subset": "validation", "duration": 33.0, "annotations": [{"segment": [3.0, 4.0], "label": "a"}]}}
    moved = {"v1": {"subset": "validation", "duration": 40.0, "annotations": [
        {"segment": [11.0, 12.0], "label": "b"}, {"segment": [5.0, 39.0], "label": "a"},
        {"segment": [1.0, 2.0], "label": "a"}]},
             "v2": {"subset": "validation", "duration": 33.0, "annotations": [{"segment": [20.0, 33.0], "label": "b"}]}}
    first = baseline_predictions(anet_cfg(tmp_path, one, "one.json"))["class_prior_windows"]
    second = baseline_predictions(anet_cfg(tmp_path, moved, "moved.json"))["class_prior_windows"]
    assert first == second
    assert set(first["results"]) == {"v1", "v2"}


def test_zero_shot_never_reads_the_unseen_training_segments(tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"seen": ["a"], "unseen": ["b"]}))
    validation = {"v1": {"subset": "validation", "duration": 40.0, "annotations": [
        {"segment": [30.0, 40.0], "label": "b"}]}}
    cfg = anet_cfg(tmp_path, validation, class_split=str(split))
    rows = baseline_predictions(cfg)["class_prior_windows"]["results"]["v1"]
    # "b" takes the spans of the seen class "a" alone (two at [0, 0.5] in two videos): one window, score 1
    assert [(r["label"], r["score"]) for r in rows] == [("b", pytest.approx(1.0))]
    assert rows[0]["segment"] == pytest.approx(list(best_fit([0.0, 0.5]) * 40))
