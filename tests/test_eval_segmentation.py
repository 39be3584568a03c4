"""Action segmentation metrics and inputs: hand-worked numbers, MS-TCN-style loop references, COIN layout fixture."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_eval_reference import ref_edit, ref_f1_counts, ref_frame_ap, ref_segments

from unloc.eval import (
    EvalInputError,
    class_frame_ap,
    edit_score,
    evaluate_segmentation,
    f1_counts,
    label_segments,
    predicted_labels,
    read_segmentation_ground_truth,
    segmentation_metrics,
)
from unloc.eval.segmentation_inputs import read_class_list

FX = Path(__file__).parent / "fixtures" / "eval"
COIN = FX / "coin_layout_excerpt.json"


def test_predicted_labels_background_at_or_below_threshold():
    scores = np.array([[0.5, -1.0], [-0.2, -0.1], [0.0, -3.0], [1.0, 2.0]])  # (t=4, q=2)
    assert predicted_labels(scores).tolist() == [0, -1, -1, 1]
    assert predicted_labels(scores, background_threshold=0.7).tolist() == [-1, -1, -1, 1]


def test_label_segments_keep_ms_tcn_boundaries():
    starts_ends = label_segments(np.array([-1, 2, 2, -1, 3, 3]))
    assert [x.tolist() for x in starts_ends] == [[2, 3], [1, 4], [3, 5]]  # last run ends at t - 1, others exclusive
    assert ref_segments([-1, 2, 2, -1, 3, 3]) == [(2, 1, 3), (3, 4, 5)]


def test_hand_worked_video():
    gt = np.array([-1, 0, 0, 0, 1, 1, 1, -1])
    scores = np.full((8, 2), -1.0)
    scores[1:3, 0] = 1.0          # frames 1-2 -> class 0
    scores[3:7, 1] = 1.0          # frames 3-6 -> class 1 (frame 3 wrong)
    m = segmentation_metrics([gt], [scores])
    assert m["frame_accuracy"] == pytest.approx(100 * 7 / 8)
    assert m["edit"] == 100.0
    # segments: pred 0:[1,3) 1:[3,7); gt 0:[1,4) 1:[4,7). IoU over the hull 2/3 and 3/4: both hit up to 0.5
    assert (m["F1@10"], m["F1@25"], m["F1@50"]) == (100.0, 100.0, 100.0)
    assert f1_counts(predicted_labels(scores), gt, [0.7]).tolist() == [[1, 1, 1]]  # only 3/4 reaches 0.7
    # frame AP of class 0 (positive frames 1-3): frames 1, 2 rank first (1.0), then 6 tied frames (-1.0)
    # -> AP = 2/3 * 1 + 1/3 * 3/8
    assert class_frame_ap(gt, scores)[0] == pytest.approx(2 / 3 + 1 / 3 * 3 / 8)
    assert m["num_classes_in_mAP"] == 2


def test_edit_hand_worked():
    assert edit_score(np.array([0, 1, 2]), np.array([0, 2])) == pytest.approx((1 - 1 / 3) * 100)
    assert edit_score(np.array([-1, -1]), np.array([-1])) == 100.0
    assert edit_score(np.array([0]), np.array([-1])) == 0.0


def _runs(rng, t, q):
    labels = np.repeat(rng.integers(-1, q, 12), rng.integers(1, 8, 12))[:t]
    return np.pad(labels, (0, t - len(labels)), constant_values=-1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_loop_references(seed):
    rng = np.random.default_rng(seed)
    t, q = 40, 4
    labels = [_runs(rng, t, q) for _ in range(5)]
    scores = [np.round(rng.normal(size=(t, q)), 0) for _ in range(5)]  # ties in scores
    preds = [predicted_labels(s) for s in scores]
    for p, y in zip(preds, labels):
        assert edit_score(p, y) == pytest.approx(ref_edit(p.tolist(), y.tolist()))
        for overlap in (0.1, 0.25, 0.5):
            assert tuple(f1_counts(p, y, [overlap])[0]) == ref_f1_counts(p.tolist(), y.tolist(), overlap)
    all_y, all_s = np.concatenate(labels), np.concatenate(scores)
    ref = [ref_frame_ap((all_y == c).astype(int).tolist(), all_s[:, c].tolist()) for c in range(q)]
    np.testing.assert_allclose(class_frame_ap(all_y, all_s), ref, rtol=0, atol=1e-12)
    m = segmentation_metrics(labels, scores)
    assert m["frame_accuracy"] == pytest.approx(100 * np.mean(np.concatenate(preds) == all_y))
    assert m["mAP"] == pytest.approx(100 * np.nanmean(ref))


def test_coin_sampling_at_fps():
    classes = read_class_list(FX / "coin_taxonomy_excerpt.csv")
    gt = read_segmentation_ground_truth(COIN, fps=2.0, split="testing", classes=classes)
    assert gt.classes[:2] == ["203", "204"] and len(gt.classes) == 14  # numeric order of COIN step ids
    assert set(gt.labels) == {"coin_fx_tire1", "coin_fx_tire2", "coin_fx_fries", "coin_fx_ssd", "coin_fx_empty"}
    idx = {c: i for i, c in enumerate(gt.classes)}
    tire1 = gt.labels["coin_fx_tire1"]  # 12.45 s at 2 fps -> 24 frames at t = 0, 0.5, ...
    assert len(tire1) == 24
    assert tire1[:3].tolist() == [-1, -1, idx["259"]] and tire1[7].tolist() == idx["260"]  # [1.0, 3.5) then 3.5
    assert tire1[12:16].tolist() == [-1, -1, -1, idx["261"]]  # gap from 6.0 to 7.2 s (frames 12-14)
    tire2 = gt.labels["coin_fx_tire2"]
    assert set(tire2[8:].tolist()) == {idx["263"]}  # overlapping annotations of the same step
    fries = gt.labels["coin_fx_fries"]  # 9.99 s -> 19 frames; the 0.05 s step [2.25, 2.3) holds no frame time
    assert len(fries) == 19 and idx["204"] not in fries.tolist()
    assert gt.labels["coin_fx_empty"].tolist() == [-1] * 6


def test_coin_errors_and_default_classes(tmp_path):
    with pytest.raises(EvalInputError, match="needs a positive --fps"):
        read_segmentation_ground_truth(COIN)
    default = read_segmentation_ground_truth(COIN, fps=1.0)
    assert default.classes == sorted(default.classes, key=int) and "205" not in default.classes
    with pytest.raises(EvalInputError, match=r"video LtRSn-ntcLY annotation 0: step id 212 .* not in the class list"):
        read_segmentation_ground_truth(COIN, fps=1.0, classes=["259"])


def _scores_for(gt, rng):
    return {vid: rng.normal(size=(len(y), len(gt.classes))).astype(np.float32) for vid, y in gt.labels.items()}


def test_evaluate_coin_with_npz_and_json_predictions(tmp_path):
    rng = np.random.default_rng(0)
    gt = read_segmentation_ground_truth(COIN, fps=2.0, split="testing")
    scores = _scores_for(gt, rng)
    npz = tmp_path / "pred.npz"
    np.savez(npz, **scores)
    m = evaluate_segmentation(COIN, npz, fps=2.0, split="testing")
    want = segmentation_metrics(list(gt.labels.values()), [scores[v].astype(float) for v in gt.labels])
    assert {k: m[k] for k in want} == pytest.approx(want)
    # json with named, shuffled columns gives the same numbers
    perm = rng.permutation(len(gt.classes))
    js = tmp_path / "pred.json"
    js.write_text(json.dumps({"classes": [gt.classes[i] for i in perm],
                              "scores": {v: s[:, perm].tolist() for v, s in scores.items()}}))
    m2 = evaluate_segmentation(COIN, js, fps=2.0, split="testing")
    assert {k: m2[k] for k in want} == pytest.approx(want)


def test_label_arrays_missing_video_and_errors(tmp_path):
    labels = {"a": np.array([-1, 0, 0, 1]), "b": np.array([1, 1, -1])}
    gt = tmp_path / "gt.npz"
    np.savez(gt, **labels)
    pred = tmp_path / "pred.npz"
    np.savez(pred, a=np.array([[-1.0, -1.0], [2.0, 0.0], [2.0, 0.0], [0.0, 3.0]]))
    m = evaluate_segmentation(gt, pred)
    assert m["frame_accuracy"] == pytest.approx(100 * 5 / 7)  # video b missing: predicted all background
    assert m["input_quirks"]["pred.missing_id"]["count"] == 1
    np.savez(pred, a=np.zeros((4, 2)), c=np.zeros((2, 2)))
    with pytest.raises(EvalInputError, match="pred.npz: video 'c': is not in the ground truth"):
        evaluate_segmentation(gt, pred)
    np.savez(pred, a=np.array([[0.0, np.nan]] * 4))
    with pytest.raises(EvalInputError, match="video 'a' frame 0 class 1: score is NaN or infinite"):
        evaluate_segmentation(gt, pred)
    np.savez(pred, a=np.zeros((5, 2)))
    with pytest.raises(EvalInputError, match="5 frames of scores, the ground truth has 4"):
        evaluate_segmentation(gt, pred)
    np.savez(pred, a=np.zeros((4, 1)), b=np.zeros((3, 1)))
    with pytest.raises(EvalInputError, match="gt.npz: video 'a' frame 3: label 1 outside"):
        evaluate_segmentation(gt, pred)
