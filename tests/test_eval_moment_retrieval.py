"""Moment retrieval evaluation: hand-worked metrics, loop references, official golden numbers, real-format fixtures."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_eval_reference import QVH_IOUS, ref_detection_ap, ref_recall, ref_saliency_ap

from unloc.eval import (
    EvalInputError,
    MomentPrediction,
    MomentQuery,
    evaluate_moment_retrieval,
    moment_recall_metrics,
    moment_retrieval_metrics,
    mr_average_precision,
    qvhighlights_metrics,
    read_mr_ground_truth,
    read_mr_predictions,
    saliency_ap,
)
from unloc.eval.mr_inputs import detect_mr_format

FX = Path(__file__).parent / "fixtures" / "eval"
QVH_GT = FX / "qvhighlights_val_excerpt.jsonl"
OFFICIAL = json.loads((FX / "official_outputs.json").read_text())


def _query(qid, windows, saliency=None):
    clips = None if saliency is None else np.array(saliency, float)
    return MomentQuery(qid, f"v{qid}", np.array(windows, float), clips, f"line {qid}")


def _pred(qid, windows, saliency=None):
    return MomentPrediction(qid, f"v{qid}", np.array(windows, float).reshape(-1, 3),
                            None if saliency is None else np.array(saliency, float), f"line {qid}")


def test_recall_hand_worked():
    gt = [np.array([[0.0, 10.0]]), np.array([[0.0, 10.0], [20.0, 30.0]]), np.array([[5.0, 6.0]])]
    preds = [np.array([[0.0, 4.0, 0.9], [0.0, 9.0, 0.5]]),  # top-1 IoU 0.4, second 0.9
             np.array([[20.0, 26.0, 0.2], [50.0, 60.0, 0.8]]),  # top-1 misses, second hits the 2nd GT with 0.6
             None]  # no prediction: a miss
    m = moment_recall_metrics(gt, preds)
    assert m["R1@0.3"] == pytest.approx(100 / 3) and m["R1@0.5"] == 0.0
    assert m["R5@0.5"] == pytest.approx(200 / 3) and m["R5@0.7"] == pytest.approx(100 / 3)
    assert m["mIoU"] == pytest.approx(100 * 0.4 / 3)


def test_qvhighlights_official_hand_worked():
    queries = [_query(1, [[0, 10]]), _query(2, [[0, 10], [20, 30]])]
    preds = [_pred(1, [[0, 10, 0.9], [20, 30, 0.8]]), _pred(2, [[20, 26, 0.5], [0, 10, 0.9]])]
    m = qvhighlights_metrics(queries, preds)
    # query 1: AP 1 everywhere. query 2: [0,10] TP, then [20,26] (IoU 0.6) TP up to 0.6, FP above -> AP 1 or 1/2
    assert m["MR-full-mAP"] == pytest.approx(100 * (1 + (3 * 1 + 7 * 0.5) / 10) / 2)
    assert m["MR-full-mAP@0.5"] == 100.0 and m["MR-full-mAP@0.75"] == 75.0
    # R1 uses the FIRST LISTED window: query 2's [20,26] against its best GT [20,30] -> IoU 0.6
    assert (m["MR-full-R1@0.5"], m["MR-full-R1@0.7"]) == (100.0, 50.0)
    assert m["MR-short-mAP"] == m["MR-full-mAP"] and m["MR-middle-mAP"] is None and m["MR-long-mAP"] is None
    assert moment_recall_metrics([q.windows_sec for q in queries], [p.windows for p in preds])["R1@0.7"] == 100.0


def test_highlight_hand_worked():
    saliency = [[4, 0, 2], [0, 0, 0], [2, 4, 4], [0, 0, 0]]  # 4 clips x 3 annotators
    m = qvhighlights_metrics([_query(1, [[0, 8]], saliency)], [_pred(1, [[0, 8, 1]], [0.1, 0.9, 0.5, 0.2])])
    # VeryGood: annotator 0 positive only on clip 0 (ranked 4th: AP 1/4), annotators 1-2 on clip 2 (2nd: AP 1/2)
    assert m["HL-min-VeryGood-mAP"] == pytest.approx(round(100 * (0.25 + 0.5 + 0.5) / 3, 2))
    assert m["HL-min-Fair-mAP"] == 50.0  # every annotator: positives ranked 2nd and 4th, or 2nd only -> 1/2
    assert m["HL-min-Fair-Hit1"] == 0.0  # the top clip (1) is negative for everyone


def test_qvhighlights_sample_excerpt_matches_official_script():
    queries = read_mr_ground_truth(QVH_GT)
    preds = read_mr_predictions(FX / "qvhighlights_sample_val_preds_excerpt.jsonl", queries)
    qids = {p.qid for p in preds}
    metrics = moment_retrieval_metrics([q for q in queries if q.qid in qids], preds, official_qvhighlights=True)
    expected = OFFICIAL["qvhighlights_sample_val_preds_excerpt"]
    assert {k: metrics[k] for k in expected} == expected


def test_qvhighlights_random_submission_matches_official_script():
    metrics = evaluate_moment_retrieval(QVH_GT, FX / "qvhighlights_random_preds.jsonl")
    expected = OFFICIAL["qvhighlights_random_preds"]
    assert {k: metrics[k] for k in expected} == expected
    assert metrics["format"] == "qvhighlights"
    counts = {kind: info["count"] for kind, info in metrics["input_quirks"].items()}
    assert counts == {"pred.negative_window": 6, "pred.saliency_length_mismatch": 28, "pred.windows_beyond_read": 7,
                      "pred.zero_length_window": 2}  # what the file holds; the official script took it all as well
    assert metrics["input_quirks"]["pred.windows_beyond_read"]["examples"][0].startswith(
        "qvhighlights_random_preds.jsonl: line 1: 12 windows")


def _random_grid_windows(rng, n, dur=60):
    s = np.sort(rng.integers(0, dur // 2, (n, 2)) * 2.0, axis=1)
    return np.column_stack([s, np.round(rng.random(n), 1)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recall_and_per_query_ap_match_references(seed):
    rng = np.random.default_rng(seed)
    gt = [_random_grid_windows(rng, int(rng.integers(1, 4)))[:, :2] for _ in range(40)]
    preds = [_random_grid_windows(rng, int(rng.integers(0, 12))) for _ in range(40)]
    got = moment_recall_metrics(gt, [p if len(p) else None for p in preds])
    want = ref_recall([g.tolist() for g in gt], [p.tolist() for p in preds])
    assert got == pytest.approx(want, abs=1e-9)
    ap = mr_average_precision(gt, preds)
    ref = [ref_detection_ap([(0, *w) for w in g.tolist()], [(0, *w) for w in p.tolist()], QVH_IOUS, False)
           for g, p in zip(gt, preds)]
    np.testing.assert_allclose(ap, ref, rtol=0, atol=1e-12)


def test_saliency_ap_matches_reference_with_ties():
    rng = np.random.default_rng(3)
    labels = (rng.random((30, 20)) < 0.3).astype(float)
    scores = np.round(rng.normal(size=(30, 20)), 0)  # heavy ties
    valid = np.arange(20)[None, :] < rng.integers(1, 21, 30)[:, None]
    got = saliency_ap(labels, scores, valid)
    want = [ref_saliency_ap(y[v].tolist(), s[v].tolist()) for y, s, v in zip(labels, scores, valid)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_real_formats_and_query_ids():
    assert detect_mr_format(QVH_GT) == "qvhighlights"
    qvh = read_mr_ground_truth(QVH_GT)
    assert len(qvh) == 32 and qvh[0].qid == 2579 and qvh[0].saliency.shape == (75, 3)
    assert max(len(q.windows_sec) for q in qvh) == 5
    charades = read_mr_ground_truth(FX / "charades_sta_test_excerpt.txt")
    assert [q.qid for q in charades] == list(range(30))  # 0-based line numbers
    assert charades[0].vid == "3MSZA" and charades[0].windows_sec.tolist() == [[24.3, 30.4]]
    captions = read_mr_ground_truth(FX / "anet_captions_val1_excerpt.json")
    assert detect_mr_format(FX / "anet_captions_val1_excerpt.json") == "activitynet_captions"
    assert len(captions) == 33 and captions[2].vid == "v_bXdq2zI1Ms0"  # 3rd sentence overall = 1st of video 2
    assert captions[2].windows_sec.tolist() == [[0, 10.23]]


def test_reversed_ground_truth_is_kept_and_counted(tmp_path):
    gt = FX / "anet_captions_train_quirks_excerpt.json"
    queries = read_mr_ground_truth(gt)
    reversed_q = [q for q in queries if q.windows_sec[0, 1] < q.windows_sec[0, 0]]
    assert len(reversed_q) == 2
    pred = tmp_path / "p.jsonl"
    pred.write_text("".join(json.dumps({"qid": q.qid, "vid": q.vid, "pred_relevant_windows": [[0, 5, 1.0]]}) + "\n"
                            for q in queries[:3]))
    metrics = evaluate_moment_retrieval(gt, pred)
    assert metrics["input_quirks"]["gt.reversed_segment"]["count"] == 2
    assert metrics["input_quirks"]["pred.missing_id"]["count"] == len(queries) - 3
    assert metrics["num_predicted"] == 3


def _write(tmp_path, lines):
    path = tmp_path / "pred.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("line,message", [
    ('{"qid": 2579, "pred_relevant_windows": [[0, 1, 0.5]]', "line 1: not valid JSON"),
    ('{"qid": 1, "pred_relevant_windows": [[0, 1, 0.5]]}', "line 1: qid 1 (int) is not in the ground truth"),
    ('{"qid": "2579", "pred_relevant_windows": []}', "qid '2579' (str) is not in the ground truth"),
    ('{"qid": 2579, "pred_relevant_windows": [[0, 1, NaN]]}', "window 0 score must be finite, got nan"),
    ('{"qid": 2579, "pred_relevant_windows": [[0, Infinity, 1]]}', "window 0 end must be finite"),
    ('{"qid": 2579, "pred_relevant_windows": [[0, 1]]}', "window 0 must be [start, end, score]"),
    ('{"qid": 2579, "pred_relevant_windows": [[0, 1, "high"]]}', "window 0 score must be a number, got 'high'"),
    ('{"qid": 2579, "pred_relevant_windows": [[0, null, 1]]}', "window 0 end must be a number, got None"),
    ('{"qid": 2579, "pred_relevant_windows": [{"start": 0}]}', "window 0 must be [start, end, score]"),
    ('{"qid": 2579, "pred_relevant_windows": "0 1 0.5"}', "'pred_relevant_windows' must be a list"),
    ('{"qid": 2579, "pred_relevant_windows": [], "pred_saliency_scores": [1, NaN]}', "saliency score 1 must be finite"),
    ('{"qid": 2579, "pred_relevant_windows": [], "pred_saliency_scores": []}', "non-empty list of numbers"),
    ('{"pred_relevant_windows": []}', "needs 'qid'"),
    ('[2579, []]', "expected a JSON object, got list"),
])
def test_bad_prediction_lines_name_file_and_line(tmp_path, line, message):
    path = _write(tmp_path, [line])
    with pytest.raises(EvalInputError, match="pred.jsonl") as err:
        evaluate_moment_retrieval(QVH_GT, path)
    assert message in str(err.value)


def test_a_later_line_without_a_part_of_the_first_is_an_error(tmp_path):
    ok = '{"qid": 2579, "pred_relevant_windows": [[0, 1, 0.5]], "pred_saliency_scores": [0.1]}'
    other = '{"qid": 5071, "pred_relevant_windows": [[0, 1, 0.5]]}'
    with pytest.raises(EvalInputError, match="line 2: no 'pred_saliency_scores' while line 1 has them"):
        evaluate_moment_retrieval(QVH_GT, _write(tmp_path, [ok, other]))


def test_qvhighlights_needs_every_query_and_counts_empty_lists_as_misses(tmp_path):
    lines = ['{"qid": 2579, "pred_relevant_windows": [[82, 150, 0.9]]}', '{"qid": 5071, "pred_relevant_windows": []}']
    with pytest.raises(EvalInputError, match="30 ground-truth queries have no line, e.g. qid 5342: the official"):
        evaluate_moment_retrieval(QVH_GT, _write(tmp_path, lines))
    queries = read_mr_ground_truth(QVH_GT)
    empty = [json.dumps({"qid": q.qid, "pred_relevant_windows": []}) for q in queries[2:]]
    metrics = evaluate_moment_retrieval(QVH_GT, _write(tmp_path, lines + empty))
    assert metrics["R1@0.7"] == pytest.approx(100 / 32)  # one exact hit out of 32 queries
    assert metrics["MR-full-R1@0.7"] == round(100 / 32, 2)
    assert metrics["input_quirks"]["pred.empty_window_list"]["count"] == 31
    assert "pred.missing_id" not in metrics["input_quirks"]


def test_other_formats_count_missing_queries_as_misses(tmp_path):
    gt = FX / "charades_sta_test_excerpt.txt"
    pred = _write(tmp_path, ['{"qid": 0, "vid": "3MSZA", "pred_relevant_windows": [[24.3, 30.4, 1]]}'])
    metrics = evaluate_moment_retrieval(gt, pred)
    assert metrics["R1@0.7"] == pytest.approx(100 / 30) and metrics["num_predicted"] == 1
    assert metrics["input_quirks"]["pred.missing_id"]["count"] == 29
    wrong_vid = _write(tmp_path, ['{"qid": 1, "vid": "3MSZA_", "pred_relevant_windows": [[0, 1, 1]]}'])
    with pytest.raises(EvalInputError, match="line 1: vid '3MSZA_', but qid 1 belongs to"):
        evaluate_moment_retrieval(gt, wrong_vid)


def test_ground_truth_errors(tmp_path):
    test_release = tmp_path / "test.jsonl"
    test_release.write_text('{"qid": 1, "query": "q", "duration": 150, "vid": "a"}\n')
    with pytest.raises(EvalInputError, match="test.jsonl: qid 1 .video a.: no ground-truth window"):
        read_mr_ground_truth(test_release)
    bad = tmp_path / "bad.txt"
    bad.write_text("3MSZA 24.3 30.4##ok\n3MSZA 24.3##missing end\n")
    with pytest.raises(EvalInputError, match="bad.txt: line 2: expected 'VIDEO_ID start end##sentence'"):
        read_mr_ground_truth(bad)
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"qid": 1, "query": "q", "duration": 150, "vid": "a", "relevant_windows": [[0, 2]]}\n' * 2)
    with pytest.raises(EvalInputError, match="line 2 .qid 1.: duplicate query id 1"):
        read_mr_ground_truth(dup)
