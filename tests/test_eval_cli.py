"""`unloc eval {mr,tal,seg}`: JSON on stdout and in --out, exit code 2 on bad input, no network."""

import json
import socket
from pathlib import Path

import numpy as np
import pytest

import unloc.eval
from unloc.cli import main

FX = Path(__file__).parent / "fixtures" / "eval"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("evaluation must not open a network connection")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_mr_prints_and_writes_metrics(tmp_path, capsys, no_network):
    out = tmp_path / "sub" / "metrics.json"
    code, stdout, _ = _run(capsys, ["eval", "mr", "--gt", str(FX / "qvhighlights_val_excerpt.jsonl"),
                                    "--pred", str(FX / "qvhighlights_random_preds.jsonl"), "--out", str(out)])
    assert code == 0
    printed = json.loads(stdout)
    assert printed == json.loads(out.read_text())
    expected = json.loads((FX / "official_outputs.json").read_text())["qvhighlights_random_preds"]
    assert {k: printed[k] for k in expected} == expected and "R5@0.7" in printed


def test_tal_with_blocked_list(capsys, no_network):
    code, stdout, stderr = _run(capsys, ["eval", "tal", "--gt", str(FX / "activitynet13_substitute_excerpt.json"),
                                         "--pred", str(FX / "activitynet13_random_preds.json"),
                                         "--blocked", str(FX / "activitynet13_blocked.txt")])
    assert code == 0
    metrics = json.loads(stdout)
    official = json.loads((FX / "official_outputs.json").read_text())["activitynet13_random_preds"]
    assert metrics["mAP_avg"] / 100 == pytest.approx(official["average_mAP"], abs=1e-6)
    assert "input quirk: pred.unknown_id: 1 (e.g. activitynet13_random_preds.json: results[" in stderr
    assert metrics["input_quirks"]["pred.unknown_id"]["count"] == 1


def test_seg_on_coin_layout(tmp_path, capsys, no_network):
    gt = unloc.eval.read_segmentation_ground_truth(FX / "coin_layout_excerpt.json", fps=1.0, split="testing")
    pred = tmp_path / "scores.npz"
    rng = np.random.default_rng(0)
    np.savez(pred, **{v: rng.normal(size=(len(y), len(gt.classes))) for v, y in gt.labels.items()})
    code, stdout, _ = _run(capsys, ["eval", "seg", "--gt", str(FX / "coin_layout_excerpt.json"), "--pred", str(pred),
                                    "--fps", "1", "--split", "testing"])
    assert code == 0
    metrics = json.loads(stdout)
    assert set(metrics) >= {"frame_accuracy", "mAP", "edit", "F1@10", "F1@25", "F1@50"}
    assert metrics["num_videos"] == 5


def test_bad_input_exits_2_with_file_and_line(tmp_path, capsys):
    pred = tmp_path / "pred.jsonl"
    line = '{"qid": 2579, "pred_relevant_windows": [[0, 1, 0.5]]}\n'
    pred.write_text(line + '{"qid": 2579, "pred_relevant_windows": [[0, 1]]}\n')
    code, stdout, stderr = _run(capsys, ["eval", "mr", "--gt", str(FX / "qvhighlights_val_excerpt.jsonl"),
                                         "--pred", str(pred)])
    assert code == 2 and stdout == ""
    assert stderr == f"unloc eval mr: error: {pred}: line 2: window 0 must be [start, end, score], got [0, 1]\n"
    code, _, stderr = _run(capsys, ["eval", "tal", "--gt", str(tmp_path / "missing.json"), "--pred", str(pred)])
    assert code == 2 and "missing.json" in stderr


def test_package_exports_every_public_name():
    for name in unloc.eval.__all__:
        assert getattr(unloc.eval, name) is not None, name
    with pytest.raises(AttributeError):
        unloc.eval.no_such_name  # noqa: B018
