"""Temporal-localization input quirks: each one in a small submission, with the mAP the official ActivityNet
`eval_detection.py` algorithm gives, worked by hand; `--strict` turns each into an error naming the file and record."""

import json

import pytest
from test_eval_reference import ref_anet_ap

from unloc.eval import EvalInputError, evaluate_temporal_localization

DATABASE = {  # Archery: [0, 10] and [20, 30] in video a; Ballet: [5, 15] in video b; Curling only in training
    "a": {"subset": "validation", "duration": 40, "annotations": [{"segment": [0, 10], "label": "Archery"},
                                                                  {"segment": [20, 30], "label": "Archery"}]},
    "b": {"subset": "validation", "duration": 40, "annotations": [{"segment": [5, 15], "label": "Ballet"}]},
    "c": {"subset": "training", "duration": 40, "annotations": [{"segment": [0, 5], "label": "Curling"}]},
}
GT = {"version": "VERSION 1.3", "taxonomy": [{"nodeName": n} for n in ("Archery", "Ballet", "Curling")],
      "database": DATABASE}
A1, A2 = {"label": "Archery", "score": 0.8, "segment": [0, 10]}, {"label": "Archery", "score": 0.7, "segment": [20, 30]}
B = {"label": "Ballet", "score": 0.5, "segment": [5, 15]}
TWO_THIRDS = 100 * (2 / 3 + 1) / 2  # Archery: a miss ranked before its two hits (AP 2/3); Ballet: AP 1


@pytest.fixture
def gt(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(GT))
    return path


def _evaluate(gt, tmp_path, results, strict=False, text=None, **top):
    path = tmp_path / "pred.json"
    path.write_text(text or json.dumps({"version": "VERSION 1.3", "results": results, "external_data": {}, **top}))
    return evaluate_temporal_localization(gt, path, strict=strict)


def _counts(metrics):
    return {kind: info["count"] for kind, info in metrics["input_quirks"].items()}


@pytest.mark.parametrize(("segment", "kind"), [([8, 2], "pred.reversed_window"),  # IoU 0: union 10 - 6 = 4
                                               ([5, 5], "pred.zero_length_window"),  # IoU 0 with both
                                               ([-5, 5], "pred.negative_window")])  # IoU 5 / 15 < 0.5
def test_odd_windows_are_computed_as_given(gt, tmp_path, segment, kind):
    miss = {"label": "Archery", "score": 0.9, "segment": segment}
    results = {"a": [miss, A1, A2], "b": [B]}
    m = _evaluate(gt, tmp_path, results)
    assert m["mAP@0.5"] == pytest.approx(TWO_THIRDS) and m["mAP_avg"] == pytest.approx(TWO_THIRDS)
    assert _counts(m) == {kind: 1}
    shown = [float(x) for x in segment]
    assert m["input_quirks"][kind]["examples"][0].startswith(f"pred.json: results['a'][0]: segment {shown}")
    ref = ref_anet_ap(DATABASE, results)
    assert m["mAP_avg"] == pytest.approx(100 * (sum(ref["Archery"]) + sum(ref["Ballet"])) / 20)


def test_ids_missing_or_unknown_and_labels_without_ground_truth(gt, tmp_path):
    # video z is not in the ground truth: its Archery detection is a false positive ranked first (AP 2/3); video b
    # has no prediction (Ballet AP 0); Curling has no ground truth in validation: dropped (the official crashes)
    results = {"z": [{"label": "Archery", "score": 0.95, "segment": [0, 10]}], "a": [A1, A2, {**B, "label": "Curling"}]}
    m = _evaluate(gt, tmp_path, results)
    assert m["mAP_avg"] == pytest.approx(100 * (2 / 3 + 0) / 2)
    assert _counts(m) == {"pred.unknown_id": 1, "pred.missing_id": 1, "pred.label_without_ground_truth": 1}


def test_a_video_listed_twice_keeps_the_last_list(gt, tmp_path):
    text = ('{"version": "VERSION 1.3", "external_data": {}, "results": {\n'
            f'"a": {json.dumps([A1, A2])},\n"b": {json.dumps([B])},\n"a": {json.dumps([A1])}\n}}}}')
    m = _evaluate(gt, tmp_path, None, text=text)
    assert m["mAP_avg"] == pytest.approx(100 * (1 / 2 + 1) / 2)  # only [0, 10] of Archery: recall 1/2
    assert m["input_quirks"]["pred.duplicate_id"]["examples"] == [
        "pred.json: line 4: video 'a' listed twice; the last list is used, as by Python's json in the official script"]


def test_every_prediction_is_read(gt, tmp_path):
    # 149 misses above the two hits: precision 1/150 and 2/151 at the hits -> Archery AP 2/151 (no cut at 100)
    results = {"a": [{"label": "Archery", "score": 0.9, "segment": [50, 60]}] * 149 + [A1, A2], "b": [B]}
    assert _evaluate(gt, tmp_path, results)["mAP_avg"] == pytest.approx(100 * (2 / 151 + 1) / 2)


def test_text_scores_are_ranked_as_text_within_a_class(gt, tmp_path):
    # "9" > "10.5" > "10" as text: the miss ranks first, as in the official script (numbers would rank it last)
    results = {"a": [{"label": "Archery", "score": "9", "segment": [50, 60]}, {**A1, "score": "10"},
                     {**A2, "score": "10.5"}], "b": [{**B, "score": 3}]}
    m = _evaluate(gt, tmp_path, results)
    assert m["mAP_avg"] == pytest.approx(TWO_THIRDS) and _counts(m) == {"pred.score_as_string": 3}


def test_types_and_fields_the_official_script_accepts(gt, tmp_path):
    results = {"a": [{**A1, "segment": ["0", "10.0"], "note": 1}, {**A2, "score": True, "segment": [20, 30, 99]}],
               "b": [B], "c": []}
    path = tmp_path / "pred.json"
    path.write_text(json.dumps({"results": results, "model": "x"}))
    m = evaluate_temporal_localization(gt, path)
    assert m["mAP_avg"] == pytest.approx(100.0)
    assert _counts(m) == {"pred.number_as_string": 2, "pred.extra_keys": 2, "pred.bool_as_number": 1,
                          "pred.extra_values": 1, "pred.empty_window_list": 1, "pred.missing_submission_fields": 1}


@pytest.mark.parametrize(("results", "message"), [
    ({"a": [{**A1, "score": "0.8"}, A2]}, "results['a'][0]: text and number scores in one class"),
    ({"a": [{**A1, "label": "Archer"}]}, "results['a'][0]: label 'Archer' is not in the ground-truth taxonomy"),
    ({"a": [{**A1, "segment": [0, "ten"]}]}, "results['a'][0]: segment end 'ten' is not a number"),
    ({"a": {"label": "Archery"}}, "results['a']: must be a list"),
])
def test_what_the_official_script_fails_on_is_an_error(gt, tmp_path, results, message):
    with pytest.raises(EvalInputError, match="pred.json") as err:
        _evaluate(gt, tmp_path, results)
    assert message in str(err.value)


@pytest.mark.parametrize("results", [
    {"a": [{**A1, "segment": [10, 0]}, A2], "b": [B]},
    {"a": [A1, A2], "b": [B], "z": [A1]},
    {"a": [A1, A2]},
    {"a": [{**A1, "score": "1"}, {**A2, "score": "2"}], "b": [B]},
    {"a": [A1, {**A2, "extra": 1}], "b": [B]},
])
def test_strict_makes_each_quirk_an_error_naming_file_and_record(gt, tmp_path, results):
    assert _evaluate(gt, tmp_path, results)["input_quirks"]
    with pytest.raises(EvalInputError, match=r"pred\.json: .*\[pred\.\w+; an error with --strict"):
        _evaluate(gt, tmp_path, results, strict=True)
