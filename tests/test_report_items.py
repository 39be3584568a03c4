"""unloc.study.items: per-item metrics recomputed from a run directory average back to the evaluators' numbers."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from unloc.config import ExperimentConfig, save_config
from unloc.config.strict import from_dict
from unloc.eval import evaluate_moment_retrieval, evaluate_segmentation, evaluate_temporal_localization
from unloc.eval.segmentation_inputs import read_class_list, read_segmentation_ground_truth
from unloc.run.evaluate import _flat_numbers
from unloc.study.items import ITEM_FILE, load_item_metrics, write_item_metrics

FX = Path(__file__).parent / "fixtures" / "eval"


def _run(tmp_path: Path, config: dict, metrics: dict) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    save_config(from_dict(ExperimentConfig, config, where="test"), run / "config.yaml")
    (run / "metrics.json").write_text(json.dumps(_flat_numbers(metrics)))
    return run


def test_moment_retrieval_items_are_queries_and_average_to_the_metrics(tmp_path):
    gt, preds = FX / "qvhighlights_val_excerpt.jsonl", FX / "qvhighlights_random_preds.jsonl"  # ties, exact IoUs
    metrics = evaluate_moment_retrieval(gt, preds)
    run = _run(tmp_path, {"task": {"kind": "mr"}, "data": {"train": {"annotations": str(gt)},
                                                           "eval": {"annotations": str(gt)}}}, metrics)
    shutil.copy(preds, run / "predictions.jsonl")
    write_item_metrics(run)
    items = load_item_metrics(run)
    assert set(items) == {"R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7", "mIoU"}
    qids = [str(json.loads(line)["qid"]) for line in gt.read_text().splitlines()]
    assert sorted(items["R1@0.5"]) == sorted(qids) and len(qids) == 32
    for name, values in items.items():
        assert np.mean(list(values.values())) == pytest.approx(metrics[name], abs=1e-5), name
    assert set(items["R1@0.5"].values()) <= {0.0, 100.0}


def test_a_metric_the_items_do_not_reproduce_is_an_error(tmp_path):
    gt, preds = FX / "qvhighlights_val_excerpt.jsonl", FX / "qvhighlights_random_preds.jsonl"
    metrics = {**evaluate_moment_retrieval(gt, preds), "R1@0.5": 99.0}
    run = _run(tmp_path, {"task": {"kind": "mr"}, "data": {"train": {"annotations": str(gt)},
                                                           "eval": {"annotations": str(gt)}}}, metrics)
    shutil.copy(preds, run / "predictions.jsonl")
    with pytest.raises(ValueError, match="items of R1@0.5 .* metrics.json says 99.0"):
        write_item_metrics(run)
    assert not (run / ITEM_FILE).exists()


def test_temporal_localization_items_are_classes(tmp_path):
    gt, preds = FX / "activitynet13_substitute_excerpt.json", FX / "activitynet13_random_preds.json"
    metrics = evaluate_temporal_localization(gt, preds, split="validation")
    run = _run(tmp_path, {"task": {"kind": "tal"}, "data": {"train": {"annotations": str(gt), "split": "training"},
                                                            "eval": {"split": "validation"}}}, metrics)
    (run / "per_class_ap.json").write_text(json.dumps(metrics["per_class_AP"]))
    write_item_metrics(run)
    items = load_item_metrics(run)
    assert len(items["mAP@0.5"]) == metrics["num_classes"] > 1
    for name in ("mAP@0.5", "mAP@0.75", "mAP_avg"):
        assert np.mean(list(items[name].values())) == pytest.approx(metrics[name], abs=1e-5)


def test_segmentation_items_are_classes_with_a_positive_frame(tmp_path):
    world = tmp_path / "coin"
    world.mkdir()
    shutil.copy(FX / "coin_layout_excerpt.json", world / "COIN.json")
    shutil.copy(FX / "coin_taxonomy_excerpt.csv", world / "taxonomy_target_action_mapping.csv")
    classes = read_class_list(world / "taxonomy_target_action_mapping.csv")
    gt = read_segmentation_ground_truth(world / "COIN.json", fps=2.0, split="testing", classes=classes)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "predictions.npz", **{vid: rng.random((len(y), len(classes))).astype(np.float32)
                                               for vid, y in gt.labels.items()})
    metrics = evaluate_segmentation(world / "COIN.json", tmp_path / "predictions.npz", fps=2.0, split="testing",
                                    classes_path=world / "taxonomy_target_action_mapping.csv")
    run = _run(tmp_path, {"task": {"kind": "seg", "regression_ranges": [[0, None]]},
                          "model": {"pyramid": {"kind": "none", "num_levels": 1}, "head": {"task": "segmentation"}},
                          "data": {"train": {"annotations": str(world / "COIN.json"), "split": "training"},
                                   "eval": {"split": "testing"}, "sampling": {"fps": 2.0, "window": 16}}}, metrics)
    shutil.move(tmp_path / "predictions.npz", run / "predictions.npz")
    write_item_metrics(run)
    items = load_item_metrics(run)["mAP"]
    assert len(items) == metrics["num_classes_in_mAP"] >= 2
    assert np.mean(list(items.values())) == pytest.approx(metrics["mAP"], abs=1e-5)


def test_runs_without_items(tmp_path):
    assert load_item_metrics(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="config.yaml is missing"):
        write_item_metrics(tmp_path)
