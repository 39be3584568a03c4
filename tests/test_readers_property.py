"""Property: every reader and evaluator, fed a record with any field replaced, dropped or added (any JSON value), or
arbitrary bytes, either returns a result or raises an `AnnotationError` (`EvalInputError` is one) whose message names
the file; never another exception (#15)."""

import copy
import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unloc.data.formats import AnnotationError, read_annotations
from unloc.eval import evaluate_moment_retrieval, evaluate_segmentation, evaluate_temporal_localization

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIR = Path(tempfile.mkdtemp(prefix="unloc_property_"))
SCALARS = (st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                             max_size=3), max_leaves=8)

QVH_ROW = {"qid": 7, "query": "a dog", "duration": 20, "vid": "v_0.0_20.0", "relevant_windows": [[0, 10]],
           "relevant_clip_ids": [0, 1], "saliency_scores": [[1, 2, 3], [4, 4, 0]]}
ANET_VIDEO = {"subset": "validation", "duration": 40, "annotations": [{"segment": [0, 10], "label": "Archery"}]}
CAPTIONS_VIDEO = {"duration": 30, "timestamps": [[0, 5], [3, 9]], "sentences": ["a man runs", " he stops"]}
COIN_VIDEO = {"subset": "testing", "duration": 8, "class": "Task", "annotation": [{"id": "3", "segment": [0, 4],
                                                                                   "label": "step"}]}
MR_PRED = {"qid": 7, "vid": "v_0.0_20.0", "pred_relevant_windows": [[0, 10, 0.9], [2, 4, 0.5]],
           "pred_saliency_scores": [0.1] * 10}
TAL_PRED = {"label": "Archery", "score": 0.9, "segment": [0, 10]}


@st.composite
def mutated(draw, template):
    """`template` with one field somewhere inside it replaced, dropped or given a sibling."""
    record = copy.deepcopy(template)
    node = record
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return record
        key = draw(st.sampled_from(keys))
        if isinstance(node[key], (dict, list)) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            node[key] = draw(VALUES)
        elif action == "drop":
            del node[key]
        elif isinstance(node, dict):
            node[draw(st.text(max_size=4))] = draw(VALUES)
        else:
            node.append(draw(VALUES))
        return record


def _write(name: str, text: str | bytes) -> Path:
    path = DIR / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _clean(call, *paths: Path) -> None:
    """`call()` returns or raises an AnnotationError naming one of `paths`."""
    try:
        call()
    except AnnotationError as err:
        assert any(str(p) in str(err) for p in paths), str(err)


def _dumps(obj) -> str:
    return json.dumps(obj, allow_nan=True)


QVH_GT = _write("highlight_val_release.jsonl", _dumps(QVH_ROW) + "\n")
ANET_GT = _write("anet_gt.json", _dumps({"taxonomy": [{"nodeName": "Archery"}], "database": {"a": ANET_VIDEO}}))
COIN_GT = _write("COIN.json", _dumps({"database": {"c": COIN_VIDEO}}))


@SETTINGS
@given(mutated(QVH_ROW))
def test_qvhighlights_ground_truth(row):
    path = _write("highlight_mutated.jsonl", _dumps(QVH_ROW) + "\n" + _dumps(row) + "\n")
    _clean(lambda: read_annotations(path), path)
    _clean(lambda: evaluate_moment_retrieval(path, _write("p.jsonl", _dumps(MR_PRED))), path, DIR / "p.jsonl")


@SETTINGS
@given(mutated({"v_a": CAPTIONS_VIDEO, "v_b": CAPTIONS_VIDEO}))
def test_activitynet_captions(data):
    path = _write("val_1.json", _dumps(data))
    _clean(lambda: read_annotations(path), path)
    _clean(lambda: evaluate_moment_retrieval(path, _write("p.jsonl", _dumps({**MR_PRED, "qid": 0, "vid": "v_a"}))),
           path, DIR / "p.jsonl")


@SETTINGS
@given(st.lists(st.text(max_size=30), min_size=1, max_size=3))
def test_charades_sta_lines(lines):
    _write("Charades_v1_test.csv", "id,length\n3MSZA,40\n")
    path = _write("charades_sta_test.txt", "3MSZA 1 2##a person sits.\n" + "\n".join(lines) + "\n")
    _clean(lambda: read_annotations(path), path)
    _clean(lambda: read_annotations(path, "charades_sta", as_given=True), path)


@SETTINGS
@given(mutated({"taxonomy": [{"nodeName": "Archery"}], "database": {"a": ANET_VIDEO, "b": ANET_VIDEO}}))
def test_activitynet13_ground_truth(data):
    path = _write("anet_gt_mut.json", _dumps(data))
    pred = _write("tal.json", _dumps({"results": {"a": [TAL_PRED]}}))
    _clean(lambda: read_annotations(path, "activitynet13"), path)
    _clean(lambda: evaluate_temporal_localization(path, pred), path, pred)


@SETTINGS
@given(mutated({"version": "1.3", "results": {"a": [TAL_PRED, TAL_PRED], "b": [TAL_PRED]}, "external_data": {}}))
def test_activitynet13_submission(data):
    pred = _write("tal.json", _dumps(data))
    _clean(lambda: evaluate_temporal_localization(ANET_GT, pred), pred)
    _clean(lambda: evaluate_temporal_localization(ANET_GT, pred, strict=True), pred)


@SETTINGS
@given(st.lists(mutated(MR_PRED), min_size=1, max_size=2))
def test_moment_retrieval_submission(rows):
    pred = _write("p.jsonl", "".join(_dumps(r) + "\n" for r in rows))
    _clean(lambda: evaluate_moment_retrieval(QVH_GT, pred), pred)


@SETTINGS
@given(mutated({"database": {"c": COIN_VIDEO, "d": COIN_VIDEO}}))
def test_coin_ground_truth(data):
    path = _write("COIN_mut.json", _dumps(data))
    pred = _write("seg.json", _dumps({"scores": {"c": [[0.5]] * 16}}))
    _clean(lambda: read_annotations(path, "coin"), path)
    _clean(lambda: evaluate_segmentation(path, pred, fps=2.0), path, pred)


@SETTINGS
@given(mutated({"classes": ["3"], "scores": {"c": [[0.5]] * 8}}))
def test_segmentation_submission(data):
    pred = _write("seg.json", _dumps(data))
    _clean(lambda: evaluate_segmentation(COIN_GT, pred, fps=1.0), pred)


@SETTINGS
@given(st.lists(st.lists(st.text(max_size=8), max_size=6), max_size=3))
def test_kinetics_csv(rows):
    text = "label,youtube_id,time_start,time_end,split\nair drumming,abc,1,11,val\n"
    path = _write("kinetics-400_val.csv", text + "\n".join(",".join(r) for r in rows))
    _clean(lambda: read_annotations(path), path)


@SETTINGS
@given(st.binary(max_size=200), st.sampled_from(["fuzz.jsonl", "fuzz_1.json", "fuzz_gt.json", "fuzz.npz",
                                                 "charades_sta_fuzz.txt", "fuzz.csv"]))
def test_arbitrary_bytes(data, name):
    path = _write(name, data)
    if name == "fuzz.npz":
        _clean(lambda: evaluate_segmentation(COIN_GT, path, fps=1.0), path)
        return
    _clean(lambda: read_annotations(path), path)
    if name.endswith("jsonl"):
        _clean(lambda: evaluate_moment_retrieval(QVH_GT, path), path)
    if name == "fuzz_gt.json":
        _clean(lambda: evaluate_temporal_localization(ANET_GT, path), path)


def test_the_templates_themselves_evaluate():
    assert evaluate_moment_retrieval(QVH_GT, _write("p.jsonl", _dumps(MR_PRED)))["MR-full-mAP"] == 100.0
    pred = _write("tal.json", _dumps({"results": {"a": [TAL_PRED]}}))
    assert math.isclose(evaluate_temporal_localization(ANET_GT, pred)["mAP_avg"], 100.0)
    scores = _write("seg.json", _dumps({"scores": {"c": np.ones((8, 1)).tolist()}}))
    assert evaluate_segmentation(COIN_GT, scores, fps=1.0)["frame_accuracy"] == 50.0
