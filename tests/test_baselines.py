"""Trivial baselines go through the run's evaluator and earn the hand-worked numbers of their definitions."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from unloc.config import ExperimentConfig
from unloc.config.strict import from_dict
from unloc.eval import evaluate_temporal_localization
from unloc.run.evaluate import _flat_numbers
from unloc.study.baseline_windows import iou_1d, prior_positions, random_windows
from unloc.study.baselines import BASELINES, baseline_metrics, baseline_predictions, run_classes
from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES


def make_cfg(kind: str, data: dict, **task) -> ExperimentConfig:
    return from_dict(ExperimentConfig, {"name": f"baseline_{kind}", "task": {"kind": kind, **task}, "data": data},
                     where="test")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root, SIZES["tiny"], 0, only=("anet13", "charades_sta", "coin", "kinetics", "qvhighlights"))
    return root


@pytest.fixture
def charades(tmp_path):
    """Two videos (10 s, 20 s); the whole-video window has IoU 1.0, 0.5, 0.49 and 0.6 with the four queries."""
    (tmp_path / "Charades_v1_test.csv").write_text("id,length\nAAAAA,10.00\nBBBBB,20.00\n")
    (tmp_path / "charades_sta_test.txt").write_text(
        "AAAAA 0.0 10.0##a person opens a door.\nAAAAA 2.0 7.0##a person sits down.\n"
        "AAAAA 0.0 4.9##a person drinks.\nBBBBB 0.0 12.0##a person runs.\n")
    return make_cfg("mr", {"train": {"annotations": str(tmp_path / "charades_sta_test.txt")}})


def test_mr_whole_video_hand_computed(charades, tmp_path):
    metrics = baseline_metrics(charades, tmp_path / "base")
    whole = metrics["whole_video"]
    assert whole["R1@0.3"] == pytest.approx(100.0)
    assert whole["R1@0.5"] == pytest.approx(75.0)  # IoU 0.49 misses
    assert whole["R1@0.7"] == pytest.approx(25.0)
    assert whole["R5@0.5"] == pytest.approx(75.0)  # a single window: R5 = R1
    assert whole["mIoU"] == pytest.approx(100 * (1.0 + 0.5 + 0.49 + 0.6) / 4)
    lines = (tmp_path / "base" / "whole_video" / "predictions.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["qid"] for r in rows] == [0, 1, 2, 3]
    assert rows[3]["pred_relevant_windows"] == [[0.0, 20.0, 1.0]]
    assert "pred_saliency_scores" not in rows[0]  # Charades has no saliency ground truth
    saved = json.loads((tmp_path / "base" / "random_windows" / "metrics.json").read_text())
    assert saved == metrics["random_windows"]


def test_prior_positions_hand_worked():
    spans = np.array([[0.0, 0.2], [0.0, 0.2], [0.8, 1.0]])  # mean length 0.2
    windows = prior_positions(spans, 3)
    # [0, 0.2] hits two spans; then the first centre that hits [0.8, 1]: IoU (c - 0.7) / (1.1 - c) >= 0.5 from
    # c = 0.8333, so centre 0.84; then the window with most hits in all: [0.01, 0.21] (IoU 0.905 with two spans)
    np.testing.assert_allclose(windows, [[0.0, 0.2], [0.74, 0.94], [0.01, 0.21]], atol=1e-9)
    np.testing.assert_allclose(iou_1d(np.array([0.0, 0.4]), np.array([[0.2, 0.6], [0.5, 0.9]])), [1 / 3, 0.0])
    with pytest.raises(ValueError, match="no training window"):
        prior_positions(np.zeros((0, 2)))


def test_mr_prior_windows_hand_computed(charades, tmp_path):
    # relative training windows [0, 1], [0.2, 0.7], [0, 0.49], [0, 0.6]: mean length 0.6475, kept inside [0, 1]
    rows = baseline_predictions(charades)["prior_windows"]
    first = np.array(rows[0]["pred_relevant_windows"])
    length = (1.0 + 0.5 + 0.49 + 0.6) / 4
    assert first.shape == (4, 3) or first.shape[1] == 3
    assert first[:, 1] - first[:, 0] == pytest.approx(np.full(len(first), 10 * length))
    assert list(first[:, 2]) == sorted(first[:, 2], reverse=True)
    # the best centre hits all four training windows at IoU >= 0.5: [0, 0.6475] hits 1.0 (0.65), [0.2, 0.7] (0.69),
    # [0, 0.49] (0.76) and [0, 0.6] (0.93) -- and no centre further right hits [0, 0.49]
    assert first[0, :2] == pytest.approx([0.0, 10 * length])
    metrics = baseline_metrics(charades, tmp_path)["prior_windows"]
    assert metrics["R1@0.5"] == pytest.approx(100.0)


def test_mr_random_windows_are_seeded_and_valid(charades, tmp_path):
    first = baseline_predictions(charades, seed=3)["random_windows"]
    assert first == baseline_predictions(charades, seed=3)["random_windows"]
    assert first != baseline_predictions(charades, seed=4)["random_windows"]
    for row, duration in zip(first, (10.0, 10.0, 10.0, 20.0)):
        windows = np.asarray(row["pred_relevant_windows"])  # (10, 3)
        assert windows.shape == (10, 3)
        assert (windows[:, 0] >= 0).all() and (windows[:, 1] <= duration + 1e-9).all()
        assert (windows[:, 1] > windows[:, 0]).all()
        assert (np.diff(windows[:, 2]) <= 0).all()  # best first
    a = baseline_metrics(charades, tmp_path / "a", seed=3)["random_windows"]
    assert a == baseline_metrics(charades, tmp_path / "b", seed=3)["random_windows"]


def test_random_windows_cover_the_length_range():
    rows = random_windows(np.random.default_rng(0), 8.0, 4000)
    lengths = rows[:, 1] - rows[:, 0]
    assert lengths.min() > 0 and lengths.max() <= 8.0
    assert lengths.mean() == pytest.approx(4.0, abs=0.2)  # uniform on (0, 8]
    assert (rows[:, 0] >= 0).all() and (rows[:, 1] <= 8.0).all()


def test_mr_qvhighlights_gets_highlight_keys(world, tmp_path):
    gt = world / "qvhighlights" / "highlight_val_release.jsonl"
    cfg = make_cfg("mr", {"train": {"annotations": str(gt)}})
    metrics = baseline_metrics(cfg, tmp_path)
    for name in BASELINES["mr"]:
        assert {"MR-full-mAP", "HL-min-VeryGood-mAP", "HL-min-Fair-Hit1"} <= set(metrics[name])
    durations = {json.loads(line)["qid"]: json.loads(line)["duration"] for line in gt.read_text().splitlines()}
    for line in (tmp_path / "whole_video" / "predictions.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["pred_saliency_scores"] == [1.0] * int(durations[row["qid"]] / 2)


@pytest.fixture
def anet(tmp_path):
    """One validation video (10 s) whose whole-video window has IoU 0.92 (a), 0.62 (b) and 0.2 (c)."""
    database = {
        "t1": {"subset": "training", "duration": 10.0, "annotations": [
            {"segment": [0.0, 2.0], "label": "a"}, {"segment": [3.0, 4.0], "label": "a"},
            {"segment": [5.0, 6.0], "label": "a"}, {"segment": [1.0, 2.0], "label": "b"}]},
        "v1": {"subset": "validation", "duration": 10.0, "annotations": [
            {"segment": [0.0, 9.2], "label": "a"}, {"segment": [0.0, 6.2], "label": "b"},
            {"segment": [2.0, 4.0], "label": "c"}]},
    }
    path = tmp_path / "anet.json"
    path.write_text(json.dumps({"version": "VERSION 1.3", "database": database}))
    return make_cfg("tal", {"train": {"annotations": str(path), "split": "training"}, "eval": {"split": "validation"}})


def test_tal_whole_video_hand_computed(anet, tmp_path):
    metrics = baseline_metrics(anet, tmp_path)
    whole = metrics["whole_video"]
    assert whole["mAP@0.5"] == pytest.approx(100 * 2 / 3)
    assert whole["mAP@0.95"] == pytest.approx(0.0)
    assert whole["mAP_avg"] == pytest.approx(100 * (9 + 3 + 0) / 30)  # a hits at 0.5..0.9, b at 0.5..0.6
    pred = tmp_path / "whole_video" / "predictions.json"
    gt = anet.data.source("eval").annotations
    assert whole == _flat_numbers(evaluate_temporal_localization(gt, pred, split="validation"))
    scores = {d["label"]: d["score"] for d in json.loads(pred.read_text())["results"]["v1"]}
    assert scores == pytest.approx({"a": 0.75, "b": 0.25})  # the training class prior; the run knows only a, b
    given = baseline_predictions(anet, {"train": ["a", "b"], "eval": ["c", "a", "d"]})["whole_video"]
    scores = {d["label"]: d["score"] for d in given["results"]["v1"]}
    assert scores == pytest.approx({"c": 0.0, "a": 0.75})  # d labels nothing in the split: not predicted


def test_tal_prior_windows_use_the_training_segments(anet, tmp_path):
    preds = baseline_predictions(anet)["prior_windows"]["results"]
    train = anet.data.source("train")
    database = json.loads(Path(train.annotations).read_text())["database"]
    spans = np.array([[s / v["duration"] for s in a["segment"]] for v in database.values() if v["subset"] == "training"
                      for a in v["annotations"]])
    positions = prior_positions(spans)
    for video_id, rows in preds.items():
        duration = database[video_id]["duration"]
        by_label = {}
        for r in rows:
            by_label.setdefault(r["label"], []).append(r)
        for dets in by_label.values():
            np.testing.assert_allclose([d["segment"] for d in dets], positions * duration)
            assert [d["score"] for d in dets] == sorted((d["score"] for d in dets), reverse=True)


def test_tal_random_detections(anet, tmp_path):
    preds = baseline_predictions(anet, seed=1)["random_windows"]
    assert preds == baseline_predictions(anet, seed=1)["random_windows"]
    detections = preds["results"]["v1"]
    assert list(preds["results"]) == ["v1"] and len(detections) == 20
    assert {d["label"] for d in detections} <= {"a", "b", "c"}
    assert all(0 <= d["segment"][0] < d["segment"][1] <= 10.0 for d in detections)
    only_a = baseline_predictions(anet, {"train": ["a", "b", "c"], "eval": ["a"]}, seed=1)["random_windows"]
    assert {d["label"] for d in only_a["results"]["v1"]} == {"a"}


def test_tal_zero_shot_scores_the_unseen_classes(world, tmp_path):
    split_file = world / "anet13" / "splits" / "zero_shot_50_50_0.json"
    cfg = make_cfg("tal", {"train": {"annotations": str(world / "anet13" / "activity_net.v1-3.min.json"),
                                     "split": "training"},
                           "eval": {"split": "validation"}, "class_split": str(split_file)})
    classes = run_classes(cfg)
    assert classes["eval"] == json.loads(split_file.read_text())["unseen"]
    metrics = baseline_metrics(cfg, tmp_path)
    for name in BASELINES["tal"]:
        assert 0.0 <= metrics[name]["mAP_avg"] <= 100.0
        assert (tmp_path / name / "ground_truth_eval_classes.json").is_file()
    database = json.loads((world / "anet13" / "activity_net.v1-3.min.json").read_text())["database"]
    in_split = {a["label"] for v in database.values() if v["subset"] == "validation" for a in v["annotations"]}
    expected = in_split & set(classes["eval"])
    assert expected  # the mini-world's validation classes include unseen ones
    for name in BASELINES["tal"]:
        results = json.loads((tmp_path / name / "predictions.json").read_text())["results"]
        assert {d["label"] for ds in results.values() for d in ds} <= expected
    results = json.loads((tmp_path / "whole_video" / "predictions.json").read_text())["results"]
    assert {d["label"] for ds in results.values() for d in ds} == expected


def coin_frames(coin_json, split: str, fps: float) -> dict[str, list[int]]:
    """Per evaluated video, the step id of every frame i / fps (-1 background), by the COIN rule written out."""
    out = {}
    for vid, video in json.loads(coin_json.read_text())["database"].items():
        if video["subset"] != split:
            continue
        frames = []
        for i in range(int(np.floor(video["duration"] * fps))):
            step = -1
            for ann in video["annotation"]:
                if ann["segment"][0] <= i / fps < ann["segment"][1]:
                    step = int(ann["id"])
            frames.append(step)
        out[vid] = frames
    return out


def test_segmentation_baselines_hand_computed(world, tmp_path):
    coin = world / "coin" / "COIN.json"
    cfg = make_cfg("seg", {"train": {"annotations": str(coin), "split": "training"}, "eval": {"split": "testing"},
                           "sampling": {"fps": 2.0, "window": 16}})
    metrics = baseline_metrics(cfg, tmp_path)
    frames = [s for f in coin_frames(coin, "testing", 2.0).values() for s in f]
    background = frames.count(-1) / len(frames)
    assert 0 < background < 1
    assert metrics["all_background"]["frame_accuracy"] == pytest.approx(100 * background)
    steps = sorted({s for s in frames if s >= 0})
    majority = max(steps, key=frames.count)  # ties: the lowest step id, i.e. the first column
    assert metrics["majority_class"]["frame_accuracy"] == pytest.approx(100 * frames.count(majority) / len(frames))
    with np.load(tmp_path / "majority_class" / "predictions.npz") as npz:
        scores = npz[next(iter(npz.files))]
    assert scores.shape[1] == len(run_classes(cfg)["eval"])
    assert (scores.argmax(1) == majority).all()  # miniworld step ids are the column indices (0..n-1)


def test_segmentation_respects_the_background_threshold(world):
    cfg = make_cfg("seg", {"train": {"annotations": str(world / "coin" / "COIN.json"), "split": "training"},
                           "eval": {"split": "testing"}, "sampling": {"fps": 2.0}}, background_threshold=0.7)
    preds = baseline_predictions(cfg)
    for video in preds["all_background"].values():
        assert (video["scores"] <= 0.7).all()
        assert np.allclose(np.diff(video["timestamps_sec"]), 0.5)
    for video in preds["majority_class"].values():
        assert (video["scores"].max(1) > 0.7).all()


def csv_labels(path) -> list[str]:
    return [row["label"] for row in csv.DictReader(path.read_text().splitlines())]


def test_video_pretraining_class_prior(world, tmp_path):
    kin = world / "kinetics"
    cfg = make_cfg("video_pretrain", {"train": {"annotations": str(kin / "kinetics_train.csv")},
                                      "eval": {"annotations": str(kin / "kinetics_val.csv")},
                                      "classes_file": str(kin / "label_map.txt")})
    metrics = baseline_metrics(cfg, tmp_path)["class_prior"]
    names = [line.strip() for line in (kin / "label_map.txt").read_text().splitlines() if line.strip()]
    train = csv_labels(kin / "kinetics_train.csv")
    top = max(names, key=train.count)  # ties: the first in label_map order
    val = csv_labels(kin / "kinetics_val.csv")
    assert metrics["top1"] == pytest.approx(100 * val.count(top) / len(val))
    assert metrics["num_clips"] == len(val)
    rows = json.loads((tmp_path / "class_prior" / "predictions.json").read_text())
    assert {r["label"] for r in rows} == {top}


def test_video_pretraining_prior_hand_computed(tmp_path):
    head = "label,youtube_id,time_start,time_end,split\n"
    (tmp_path / "train.csv").write_text(head + "jump,aaaaaaaaaaa,0,10,train\njump,bbbbbbbbbbb,5,15,train\n"
                                        "swim,ccccccccccc,0,10,train\n")
    (tmp_path / "val.csv").write_text(head + "swim,ddddddddddd,0,10,val\njump,eeeeeeeeeee,0,10,val\n"
                                      "jump,fffffffffff,3,13,val\n")
    cfg = make_cfg("video_pretrain", {"train": {"annotations": str(tmp_path / "train.csv")},
                                      "eval": {"annotations": str(tmp_path / "val.csv")}})
    assert run_classes(cfg) == {"train": ["jump", "swim"], "eval": ["jump", "swim"]}
    (row, *_), = baseline_predictions(cfg).values()
    assert np.allclose(row["scores"], [2 / 3, 1 / 3]) and row["label"] == "jump"
    metrics = baseline_metrics(cfg, tmp_path / "out")["class_prior"]
    assert metrics["top1"] == pytest.approx(100 * 2 / 3)
    assert metrics["num_clips"] == 3
