"""ActivityNet Captions: val_2 is the paper configs' test split, val_1 a further labelled evaluation of the same run.

`evaluate_on` re-scores a finished run: on the run's own evaluation file it must reproduce the run's metrics exactly,
on another file it writes that file's metrics beside the run."""

import json

import pytest
import yaml

from unloc.config import load_config
from unloc.config.paper import extra_eval_sets, load_paper_config
from unloc.run import paper_eval
from unloc.run.experiment import run_experiment
from unloc.run.paper_eval import evaluate_extra_sets, evaluate_on
from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES

TINY = {"tower": {"arch": {"embed_dim": 32, "vision_cfg": {"image_size": 32, "patch_size": 16, "layers": 1,
                                                            "width": 32, "head_width": 16},
                           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                                        "layers": 1}},
                  "pretrained": None, "freeze_text": False},
        "fusion": {"layers": 1, "width": 32, "heads": 2, "mlp_dim": 64}, "pyramid": {"num_levels": 2},
        "head": {"num_conv_layers": 1, "cls_bias_init": 0.0}}


def test_anet_captions_paper_configs_test_on_val_2_and_also_report_val_1():
    for name in ("anet_captions_b", "anet_captions_l"):
        cfg = load_paper_config(name, paper_root="/d")
        assert cfg.data.eval.annotations == "/d/activitynet_captions/val_2.json"
        assert extra_eval_sets(name, "/d") == {"val_1": "/d/activitynet_captions/val_1.json"}
    assert extra_eval_sets("charades_b") == {}
    assert extra_eval_sets("anet_captions_b") == {"val_1": "data/paper/activitynet_captions/val_1.json"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root, SIZES["tiny"], 0, only=("charades_sta",))
    doc = {"mr": {"model": TINY,
                  "task": {"kind": "mr", "regression_ranges": [[0, 4], [4, None]]},
                  "data": {"train": {"annotations": f"{root}/charades_sta/charades_sta_train.txt"},
                           "eval": {"annotations": f"{root}/charades_sta/charades_sta_test.txt"},
                           "video_root": f"{root}/charades_sta/videos", "image": {"crop_size": 32, "short_side": 32},
                           "sampling": {"num_frames": 16}},
                  "train": {"epochs": 1, "global_batch_size": 2, "optimizer": "adamw", "base_lr": 1.0e-3,
                            "warmup_epochs": 0.0}}}
    (root / "params.yaml").write_text(yaml.safe_dump(doc))
    run = root / "run"
    result = run_experiment(load_config("mr", root / "params.yaml"), run, progress=False)
    return root, run, result.metrics


def test_evaluating_the_runs_own_file_reproduces_its_metrics(finished_run):
    root, run, metrics = finished_run
    again = evaluate_on(run, root / "charades_sta/charades_sta_test.txt", "same", device="cpu")
    for key in ("R1@0.5", "R1@0.7", "R5@0.5", "R5@0.7", "mIoU"):
        assert again[key] == pytest.approx(metrics[key], abs=1e-9), key
    assert json.loads((run / "eval_same" / "metrics.json").read_text()) == again
    assert (run / "eval_same" / "predictions.jsonl").read_text() == (run / "predictions.jsonl").read_text()


def test_another_file_is_scored_under_its_label(finished_run, monkeypatch):
    root, run, _ = finished_run
    other = evaluate_on(run, root / "charades_sta/charades_sta_train.txt", "train_file", device="cpu")
    rows = (run / "eval_train_file" / "predictions.jsonl").read_text().splitlines()
    queries = (root / "charades_sta/charades_sta_train.txt").read_text().strip().splitlines()
    assert len(rows) == len(queries) and 0.0 <= other["R1@0.5"] <= 100.0
    monkeypatch.setattr(paper_eval, "extra_eval_sets",
                        lambda name, root_dir: {"val_1": str(root / "charades_sta/charades_sta_train.txt")})
    labelled = evaluate_extra_sets("anet_captions_b", run, device="cpu")
    assert labelled["val_1/R1@0.5"] == other["R1@0.5"] and all(k.startswith("val_1/") for k in labelled)


def test_only_moment_retrieval_runs(tmp_path, finished_run):
    _, run, _ = finished_run
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["task"]["kind"] = "tal"
    other = tmp_path / "tal_run"
    other.mkdir()
    (other / "config.yaml").write_text(yaml.safe_dump(config))
    (other / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="covers moment-retrieval runs"):
        evaluate_on(other, "x.json", "x", device="cpu")
