"""ActivityNet-1.3 detection mAP: hand-worked numbers, the official script's output, the loop reference, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_eval_reference import ref_anet_ap

from unloc.eval import EvalInputError, activitynet_detection_metrics, evaluate_temporal_localization

FX = Path(__file__).parent / "fixtures" / "eval"
GT_PATH = FX / "activitynet13_substitute_excerpt.json"
GT = json.loads(GT_PATH.read_text())
KEYS = ["0.5", "0.55", "0.6", "0.65", "0.7", "0.75", "0.8", "0.85", "0.9", "0.95"]


def _database():
    return {"taxonomy": [{"nodeName": "Archery"}, {"nodeName": "Ballet"}, {"nodeName": "Curling"}],
            "database": {
                "a": {"subset": "validation", "annotations": [{"segment": [0, 10], "label": "Archery"},
                                                              {"segment": [20, 30], "label": "Archery"}]},
                "b": {"subset": "validation", "annotations": [{"segment": [5, 15], "label": "Ballet"}]},
                "c": {"subset": "training", "annotations": [{"segment": [0, 5], "label": "Curling"}]}}}


def test_hand_worked_map():
    results = {"a": [{"label": "Archery", "score": 0.9, "segment": [0, 10]},     # TP everywhere
                     {"label": "Archery", "score": 0.8, "segment": [0, 9]},      # its GT is taken: FP
                     {"label": "Archery", "score": 0.7, "segment": [20, 26]}],   # IoU 0.6
               "b": [{"label": "Ballet", "score": 0.5, "segment": [5, 15]}]}
    m = activitynet_detection_metrics(_database(), {"results": results})
    # Archery: TP, FP, TP (up to 0.6) -> 1/2 + 1/2 * 2/3 = 5/6; above 0.6 -> 1/2. Ballet: 1 everywhere.
    archery = [5 / 6] * 3 + [0.5] * 7
    assert [m["per_class_AP"]["Archery"][k] / 100 for k in KEYS] == pytest.approx(archery)
    assert m["mAP@0.5"] == pytest.approx(100 * (5 / 6 + 1) / 2) and m["mAP@0.95"] == pytest.approx(75.0)
    assert m["mAP_avg"] == pytest.approx(100 * (np.mean(archery) + 1) / 2)
    assert m["num_classes"] == 2 and m["num_videos"] == 2
    assert m["input_quirks"] == {"pred.missing_submission_fields": {"count": 1, "examples": [
        "<predictions>: no ['version', 'external_data'] (the official script raises IOError)"]}}


def test_matches_official_script_output():
    m = evaluate_temporal_localization(GT_PATH, FX / "activitynet13_random_preds.json",
                                       blocked_path=FX / "activitynet13_blocked.txt")
    official = json.loads((FX / "official_outputs.json").read_text())["activitynet13_random_preds"]
    assert m["mAP_avg"] / 100 == pytest.approx(official["average_mAP"], abs=1e-6)
    assert [m[f"mAP@{k}"] / 100 for k in KEYS] == pytest.approx(official["mAP"], abs=1e-6)
    for name, aps in official["per_class_AP"].items():
        assert [m["per_class_AP"][name][k] / 100 for k in KEYS] == pytest.approx(aps, abs=1e-6)
    assert m["input_quirks"]["pred.unknown_id"]["count"] == 1
    assert m["input_quirks"]["pred.zero_length_match"]["count"] == 1
    assert m["input_quirks"]["pred.blocked_video"]["count"] > 0
    assert m["input_quirks"]["gt.empty_segment"]["count"] == 3  # zero-length ground truth, kept as given


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_loop_reference_on_real_annotations(seed):
    rng = np.random.default_rng(seed)
    val = [k for k, v in GT["database"].items() if v["subset"] == "validation"]
    labels = sorted({a["label"] for k in val for a in GT["database"][k]["annotations"]})
    results = {}
    for vid in val + ["unknown_video"]:
        anns = GT["database"].get(vid, {"annotations": [{"segment": [0, 30], "label": labels[0]}]})["annotations"]
        items = []
        for _ in range(int(rng.integers(1, 20))):
            ann = anns[rng.integers(len(anns))]
            s, e = np.sort(np.round(np.array(ann["segment"]) + rng.normal(0, 3, 2)))
            label = ann["label"] if rng.random() < 0.8 else labels[rng.integers(len(labels))]
            items.append({"label": label, "score": float(np.round(rng.random(), 1)), "segment": [float(s), float(e)]})
        results[vid] = items
    blocked = set(val[:2])
    m = activitynet_detection_metrics(GT, {"results": results}, blocked=blocked)
    ref = ref_anet_ap(GT["database"], results, blocked=blocked)
    for name, aps in ref.items():
        assert [m["per_class_AP"][name][k] / 100 for k in KEYS] == pytest.approx(aps, abs=1e-12)
    assert m["mAP_avg"] == pytest.approx(100 * np.mean(list(ref.values())), abs=1e-10)


def _evaluate(tmp_path, results, **kwargs):
    path = tmp_path / "pred.json"
    path.write_text(json.dumps({"results": results}))
    return evaluate_temporal_localization(GT_PATH, path, **kwargs)


@pytest.mark.parametrize("item,message", [
    ({"label": "Not a class", "score": 0.5, "segment": [0, 1]}, "label 'Not a class' is not in the ground-truth"),
    ({"label": "Archery", "score": float("nan"), "segment": [0, 1]}, "score must be finite"),
    ({"label": "Archery", "score": "0.5", "segment": [0, 1]}, "text and number scores in one class"),
    ({"label": "Archery", "score": None, "segment": [0, 1]}, "score must be a number, got None"),
    ({"label": "Archery", "score": 0.5, "segment": [0]}, "segment must be [start, end]"),
    ({"label": "Archery", "score": 0.5, "segment": "0 1"}, "segment must be [start, end]"),
    ({"label": "Archery", "score": 0.5, "segment": [0, "one"]}, "segment end 'one' is not a number"),
    ({"label": "Archery", "score": 0.5, "segment": [0, "inf"]}, "segment end must be finite"),
    ({"score": 0.5, "segment": [0, 1]}, "needs a 'label', a 'score' and a 'segment'"),
    ({"label": 3, "score": 0.5, "segment": [0, 1]}, "label must be a string, got 3"),
    ([0, 1, 0.5], "needs a 'label', a 'score' and a 'segment'"),
])
def test_bad_records_name_file_and_record(tmp_path, item, message):
    vid = next(k for k, v in GT["database"].items() if v["subset"] == "validation")
    label = GT["database"][vid]["annotations"][0]["label"]  # a class with ground truth in the subset
    good = {"label": label, "score": 0.1, "segment": [0, 1]}
    item = {**item, "label": label} if isinstance(item, dict) and item.get("label") == "Archery" else item
    with pytest.raises(EvalInputError, match="pred.json") as err:
        _evaluate(tmp_path, {vid: [good, item]})
    assert f"results['{vid}'][1]" in str(err.value) and message in str(err.value)


def test_tolerated_inputs_are_counted(tmp_path):
    val = [k for k, v in GT["database"].items() if v["subset"] == "validation"]
    train = next(k for k, v in GT["database"].items() if v["subset"] == "training")
    results = {"v_" + val[0]: [{"label": "Discus throw", "score": 0.5, "segment": [0, 1]}],
               train: [{"label": "Discus throw", "score": 0.5, "segment": [0, 1]}],
               val[1]: [{"label": "Applying sunscreen", "score": 0.5, "segment": [0, 1]}],  # taxonomy, no GT here
               val[2]: [{"label": "Discus throw", "score": 0.5, "segment": [0, 1]}]}
    blocked = tmp_path / "blocked.json"
    blocked.write_text(json.dumps([val[2]]))
    w = _evaluate(tmp_path, results, blocked_path=blocked)["input_quirks"]
    assert w["pred.unknown_id"]["count"] == 2
    assert f"the ground truth has '{val[0]}'" in w["pred.unknown_id"]["examples"][0]
    assert w["pred.label_without_ground_truth"]["count"] == 1
    assert w["pred.blocked_video"]["count"] == 1
    assert w["pred.missing_id"]["count"] == len(val) - 2  # all but val[1] (val[0] as 'v_...'), val[2] blocked


def test_structure_errors(tmp_path):
    bad = tmp_path / "gt.json"
    bad.write_text('{"database": {"a": {"subset": "validation", "annotations": [}}}')
    with pytest.raises(EvalInputError, match="gt.json: line 1 column"):
        evaluate_temporal_localization(bad, bad)
    with pytest.raises(EvalInputError, match="'results' object"):
        activitynet_detection_metrics(GT, {"version": "VERSION 1.3"})
    with pytest.raises(EvalInputError, match="no ground-truth segments in subset 'val_2'"):
        activitynet_detection_metrics(GT, {"results": {}}, split="val_2")
    alias = activitynet_detection_metrics(GT, {"results": {}}, split="val")  # the reader's alias of "validation"
    assert alias["num_videos"] == activitynet_detection_metrics(GT, {"results": {}})["num_videos"]
    no_preds = activitynet_detection_metrics(GT, {"results": {}})
    assert no_preds["mAP_avg"] == 0.0 and len(no_preds["per_class_AP"]) == no_preds["num_classes"]
