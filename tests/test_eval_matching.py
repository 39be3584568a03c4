"""tIoU, greedy matching and interpolated AP (unloc.eval.matching): hand-worked numbers and the loop reference."""

import numpy as np
import pytest
from test_eval_reference import ANET_IOUS, ref_detection_ap, ref_interpolated_ap

from unloc.eval import matching
from unloc.eval.matching import greedy_match, interpolated_ap, match_groups, segment_iou, stack_padded
from unloc.eval.tal_inputs import Detections
from unloc.eval.temporal_localization import TIOU_THRESHOLDS, detection_average_precision


def test_segment_iou_hand_worked():
    pred = np.array([[0.0, 10.0], [5.0, 15.0], [20.0, 30.0], [3.0, 3.0]])
    gt = np.array([0.0, 10.0])
    np.testing.assert_allclose(segment_iou(pred, gt), [1.0, 5 / 15, 0.0, 0.0])
    # a zero-length prediction against a zero-length ground truth: 0 normally, +inf (the official 0/0) on request
    assert segment_iou(np.array([4.0, 4.0]), np.array([7.0, 7.0])) == 0.0
    assert segment_iou(np.array([4.0, 4.0]), np.array([7.0, 7.0]), official=True) == np.inf


def test_official_thresholds_are_linspace():
    assert np.array_equal(TIOU_THRESHOLDS, np.linspace(0.5, 0.95, 10))
    assert TIOU_THRESHOLDS.tolist() == ANET_IOUS


def test_greedy_match_takes_highest_unmatched_and_later_gt_on_ties():
    # one group, three predictions in rank order, two ground truths
    tiou = np.array([[[0.6, 0.6],    # tie: the later ground truth (index 1) is taken
                      [0.7, 0.6],    # best is gt 0 (free) -> hit
                      [0.55, 0.9]]])  # best is gt 1, already taken; official then tries gt 0: taken too -> miss
    tp = greedy_match(tiou, np.array([0.5]))
    assert tp[0, 0].tolist() == [True, True, False]
    # at 0.65 the first prediction reaches nothing, the second takes gt 0, the third takes gt 1
    assert greedy_match(tiou, np.array([0.65]))[0, 0].tolist() == [False, True, True]


def test_interpolated_ap_hand_worked_and_padding():
    tp = np.array([[True, False, True, False]])
    valid = np.array([[True, True, True, False]])
    # TP, FP, TP over 3 ground truths: 1/3 * 1 + 1/3 * 2/3 = 5/9 (the padded slot changes nothing)
    assert interpolated_ap(tp, valid, np.array([3]))[0] == pytest.approx(5 / 9)
    assert interpolated_ap(tp, valid, np.array([3]))[0] == pytest.approx(ref_interpolated_ap([True, False, True], 3))
    assert interpolated_ap(np.zeros((1, 2), bool), np.zeros((1, 2), bool), np.array([2]))[0] == 0.0


def test_stack_padded():
    padded, valid = stack_padded([np.array([[1.0, 2.0]]), np.zeros((0, 2)), np.array([[3.0, 4.0], [5.0, 6.0]])])
    assert padded.shape == (3, 2, 2) and valid.tolist() == [[True, False], [False, False], [True, True]]
    assert padded[2, 1].tolist() == [5.0, 6.0] and np.isnan(padded[1]).all()


def _random_detections(rng, n_videos, n_classes, n_gt, n_pred, grid):
    def segments(n, dur=40.0):
        s = rng.uniform(0, dur, (n, 2))
        if grid:  # integer seconds and 1-decimal scores: many exact ties and exact thresholds
            s = np.round(s)
        return np.sort(s, axis=1)
    gt = Detections(rng.integers(0, n_videos, n_gt), rng.integers(0, n_classes, n_gt), segments(n_gt))
    scores = np.round(rng.random(n_pred), 1 if grid else 6)
    pred_video = rng.integers(0, n_videos + 1, n_pred)  # the extra video has no ground truth
    pred = Detections(pred_video, rng.integers(0, n_classes, n_pred), segments(n_pred), scores)
    return gt, pred


def _reference_ap(gt, pred, n_classes):
    out = np.full((len(ANET_IOUS), n_classes), np.nan)
    for c in range(n_classes):
        g = [(int(v), *s) for v, k, s in zip(gt.video_idx, gt.class_idx, gt.segments_sec.tolist()) if k == c]
        p = [(int(v), *s, sc) for v, k, s, sc in zip(pred.video_idx, pred.class_idx, pred.segments_sec.tolist(),
                                                     pred.scores) if k == c]
        if g:
            out[:, c] = ref_detection_ap(g, p, ANET_IOUS, later_first_on_score_ties=True)
    return out


@pytest.mark.parametrize("seed,grid", [(0, True), (1, True), (2, False), (3, True), (4, False)])
def test_detection_ap_matches_loop_reference(seed, grid):
    rng = np.random.default_rng(seed)
    gt, pred = _random_detections(rng, n_videos=6, n_classes=4, n_gt=30, n_pred=150, grid=grid)
    np.testing.assert_allclose(detection_average_precision(gt, pred, 4), _reference_ap(gt, pred, 4),
                               rtol=0, atol=1e-12)


def test_detection_ap_small_chunks_give_the_same_result(monkeypatch):
    rng = np.random.default_rng(5)
    gt, pred = _random_detections(rng, n_videos=3, n_classes=2, n_gt=25, n_pred=200, grid=True)
    expected = detection_average_precision(gt, pred, 2)
    monkeypatch.setattr(matching, "_CHUNK_ELEMENTS", 8)  # forces one group per chunk
    np.testing.assert_array_equal(detection_average_precision(gt, pred, 2), expected)


def test_zero_length_pair_is_a_match_at_every_threshold_as_official():
    gt = Detections(np.array([0, 0]), np.array([0, 0]), np.array([[5.0, 5.0], [10.0, 20.0]]))
    pred = Detections(np.array([0]), np.array([0]), np.array([[30.0, 30.0]]), np.array([0.5]))
    ref = [(0, 5.0, 5.0), (0, 10.0, 20.0)]
    expected = ref_detection_ap(ref, [(0, 30.0, 30.0, 0.5)], ANET_IOUS, True)
    assert expected == [0.5] * 10  # 0/0 tIoU matches the zero-length ground truth: recall 1/2 at precision 1
    np.testing.assert_allclose(detection_average_precision(gt, pred, 1)[:, 0], expected)
    assert matching.zero_over_zero(np.array([0]), pred.segments_sec, np.array([0, 0]), gt.segments_sec).tolist() == [0]


def test_a_reversed_window_mirroring_a_ground_truth_is_a_match_as_official():
    # [10, 0] against [0, 10]: no overlap, union 10 + (-10) - 0 = 0 -> 0/0, which the official walk takes as a match
    gt = Detections(np.array([0]), np.array([0]), np.array([[0.0, 10.0]]))
    pred = Detections(np.array([0, 0]), np.array([0, 0]), np.array([[10.0, 0.0], [3.0, 1.0]]), np.array([0.9, 0.8]))
    expected = ref_detection_ap([(0, 0.0, 10.0)], [(0, 10.0, 0.0, 0.9), (0, 3.0, 1.0, 0.8)], ANET_IOUS, True)
    assert expected == [1.0] * 10
    np.testing.assert_allclose(detection_average_precision(gt, pred, 1)[:, 0], expected)
    assert matching.zero_over_zero(pred.class_idx, pred.segments_sec, gt.class_idx, gt.segments_sec).tolist() == [0]


def test_match_groups_without_any_ground_truth_is_all_false_positive():
    tp = match_groups(np.array([3, 4]), np.array([[0.0, 1.0], [1.0, 2.0]]), np.zeros(0, int), np.zeros((0, 2)),
                      np.array([0.5]))
    assert tp.tolist() == [[False, False]]
