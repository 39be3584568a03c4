"""Damaged and hostile files at `unloc eval`: one line on stderr naming the file, exit code 2; and segmentation's
counted quirks. Covers #15: a class named twice, broken .npz, other encodings, repeated JSON keys."""

import json
from pathlib import Path

import numpy as np
import pytest

from unloc.cli import main
from unloc.eval import EvalInputError, evaluate_segmentation

FX = Path(__file__).parent / "fixtures" / "eval"
LABELS = {"a": np.array([-1, 0, 0, 1]), "b": np.array([1, 1, -1])}


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def labels_gt(tmp_path):
    path = tmp_path / "gt.npz"
    np.savez(path, **LABELS, __classes__=np.array(["x", "y"]))
    return path


def test_a_class_named_twice_is_an_error(tmp_path, labels_gt, capsys):
    pred = tmp_path / "pred.npz"
    np.savez(pred, a=np.zeros((4, 2)), b=np.zeros((3, 2)), __classes__=np.array(["x", "x"]))
    code, out, err = _run(capsys, ["eval", "seg", "--gt", str(labels_gt), "--pred", str(pred)])
    assert code == 2 and out == "" and err == (f"unloc eval seg: error: {pred}: __classes__: class 'x' is listed twice: its columns "
                                               f"would overwrite each other\n")
    js = tmp_path / "pred.json"
    js.write_text(json.dumps({"classes": ["y", "y"], "scores": {"a": [[0, 0]] * 4}}))
    with pytest.raises(EvalInputError, match="pred.json: classes: class 'y' is listed twice"):
        evaluate_segmentation(labels_gt, js)


@pytest.mark.parametrize("damage", ["truncated", "text", "object", "single_npy"])
def test_a_damaged_npz_is_one_line_naming_the_file(tmp_path, labels_gt, capsys, damage):
    pred = tmp_path / "pred.npz"
    if damage == "object":
        np.savez(pred, a=np.array([{"x": 1}, None], dtype=object), b=np.zeros((3, 2)))
    elif damage == "single_npy":
        with open(pred, "wb") as f:
            np.save(f, np.zeros((4, 2)))
    else:
        np.savez(pred, a=np.zeros((4, 2)), b=np.zeros((3, 2)))
        data = pred.read_bytes()
        pred.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"frame,score\n0,1\n")
    code, out, err = _run(capsys, ["eval", "seg", "--gt", str(labels_gt), "--pred", str(pred)])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"unloc eval seg: error: {pred}: ")


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_files_that_are_not_utf8_are_one_line(tmp_path, capsys, encoding):
    pred = tmp_path / "pred.jsonl"
    pred.write_bytes('{"qid": 2579, "query": "caf\u00e9", "pred_relevant_windows": []}\n'.encode(encoding))
    code, _, err = _run(capsys, ["eval", "mr", "--gt", str(FX / "qvhighlights_val_excerpt.jsonl"), "--pred",
                                 str(pred)])
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{pred}: line 1: not UTF-8 text" in err
    gt = tmp_path / "gt.json"
    gt.write_bytes((FX / "activitynet13_substitute_excerpt.json").read_text().replace(
        "Archery", "Arch\u00e9ry").encode(encoding))
    code, _, err = _run(capsys, ["eval", "tal", "--gt", str(gt), "--pred", str(FX / "activitynet13_random_preds.json")])
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{gt}: line " in err and "not UTF-8 text" in err


def test_a_directory_for_a_file_is_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, ["eval", "tal", "--gt", str(tmp_path), "--pred", str(tmp_path)])
    assert code == 2 and err.startswith(f"unloc eval tal: error: {tmp_path}: cannot read the file")


def test_segmentation_quirks_are_counted_and_strict(tmp_path, labels_gt):
    pred = tmp_path / "pred.json"
    pred.write_text('{"model": "x", "scores": {"a": [[0, 1], [2, 0], [2, 0], [0, 3]], "a": [[-1, -1], [2, 0], [2, 0], '
                    '[0, 3]]}}')
    m = evaluate_segmentation(labels_gt, pred)
    # the last "a" is used: frames 0-3 -> background, 0, 0, 1 (all right); b has no scores: all background (1 of 3)
    assert m["frame_accuracy"] == pytest.approx(100 * 5 / 7)
    assert {k: v["count"] for k, v in m["input_quirks"].items()} == {
        "pred.duplicate_id": 1, "pred.extra_keys": 1, "pred.missing_id": 1}
    assert m["input_quirks"]["pred.duplicate_id"]["examples"][0].startswith("pred.json: line 1: video 'a' listed")
    with pytest.raises(EvalInputError, match=r"pred.json: .*\[pred\.\w+; an error with --strict"):
        evaluate_segmentation(labels_gt, pred, strict=True)


@pytest.mark.parametrize(("scores", "message"), [
    ({"a": [["0", 1]] * 4}, "scores must be a (frames, classes) list of lists of numbers"),
    ({"a": [[True, 1]] * 4}, "scores must be a (frames, classes) list of lists of numbers"),
    ({"a": [[0, None]] * 4}, "scores must be a (frames, classes) list of lists of numbers"),
    ({"a": [[0, 1], [0]] * 2}, "scores must be (frames, classes)"),
])
def test_json_scores_are_never_coerced(tmp_path, labels_gt, scores, message):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"scores": scores}))
    with pytest.raises(EvalInputError, match="pred.json: video 'a'") as err:
        evaluate_segmentation(labels_gt, pred)
    assert message in str(err.value)
