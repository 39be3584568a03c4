"""End to end on a tiny generated mini-world: each task trains, predicts, and is scored by the official evaluators."""

import json

import pytest
import torch
import yaml

from unloc.config import load_config
from unloc.run.experiment import load_run, run_experiment
from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES

TINY_MODEL = {
    "tower": {"arch": {"embed_dim": 32,
                       "vision_cfg": {"image_size": 32, "patch_size": 16, "layers": 1, "width": 32, "head_width": 16},
                       "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}},
              "pretrained": None, "freeze_text": False},
    "fusion": {"layers": 1, "width": 32, "heads": 2, "mlp_dim": 64},
    "pyramid": {"num_levels": 2},
    "head": {"num_conv_layers": 1},
}


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root, SIZES["tiny"], 0, only=("anet13", "charades_sta", "coin", "kinetics"))
    ranges2 = [[0, 4], [4, None]]
    doc = {
        "common": {"model": TINY_MODEL, "data": {"image": {"crop_size": 32, "short_side": 32},
                                                 "sampling": {"num_frames": 16}},
                   "train": {"epochs": 1, "global_batch_size": 2, "optimizer": "adamw", "base_lr": 1.0e-3,
                             "warmup_epochs": 0.0}},
        "tal": {"task": {"kind": "tal", "regression_ranges": ranges2, "prompt_mode": "first"},
                "data": {"train": {"annotations": f"{root}/anet13/activity_net.v1-3.min.json", "split": "training"},
                         "eval": {"split": "validation"}, "video_root": f"{root}/anet13/videos"}},
        "mr": {"task": {"kind": "mr", "regression_ranges": ranges2},
               "model": {"head": {"cls_bias_init": 0.0}},
               "data": {"train": {"annotations": f"{root}/charades_sta/charades_sta_train.txt"},
                        "eval": {"annotations": f"{root}/charades_sta/charades_sta_test.txt"},
                        "video_root": f"{root}/charades_sta/videos"}},
        "seg": {"task": {"kind": "seg", "regression_ranges": [[0, None]], "prompt_mode": "first"},
                "model": {"pyramid": {"kind": "none", "num_levels": 1},
                          "head": {"task": "segmentation", "num_conv_layers": 0, "cls_bias_init": -3.0}},
                "data": {"train": {"annotations": f"{root}/coin/COIN.json", "split": "training"},
                         "eval": {"split": "testing"}, "video_root": f"{root}/coin/videos",
                         "sampling": {"fps": 2.0, "window": 16}}},
    }
    # a frozen image tower with fixed weights reads the feature cache, filled by the stage itself
    from safetensors.torch import save_file

    from unloc.model.clip_loader import create_clip
    from unloc.model.config import TowerConfig

    clip = create_clip(TowerConfig(**{**TINY_MODEL["tower"], "pretrained": None}))
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, root / "tiny_clip.safetensors")
    doc["tal_cached"] = {"base": "tal", "data": {"feature_cache": f"{root}/features"},
                         "model": {"tower": {"pretrained": f"{root}/tiny_clip.safetensors", "freeze_image": True}}}
    doc["tal_no_text"] = {"base": "tal", "model": {"fusion": {"mode": "no_text"}}}  # class count from the data
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("stage, keys", [
    ("tal", ("mAP@0.5", "mAP_avg")),
    ("mr", ("R1@0.5", "R5@0.7", "mIoU")),
    ("seg", ("frame_accuracy", "edit", "F1@50")),
    ("tal_cached", ("mAP@0.5",)),
    ("tal_no_text", ("mAP@0.5",)),
])
def test_stage_runs_end_to_end(params, tmp_path, stage, keys):
    cfg = load_config(stage, params)
    result = run_experiment(cfg, tmp_path / stage, progress=False)
    saved = json.loads((tmp_path / stage / "metrics.json").read_text())
    assert saved == result.metrics
    for key in keys:
        assert 0.0 <= saved[key] <= 100.0
    assert saved["train_seconds"] > 0
    history = (tmp_path / stage / "train" / "history.jsonl").read_text().splitlines()
    assert history and "loss" in json.loads(history[0])
    # the run directory reloads into the same weights
    cfg2, model, classes = load_run(tmp_path / stage)
    assert cfg2.task == cfg.task
    trained = {k: v for k, v in model.state_dict().items()}
    assert all(torch.isfinite(v).all() for v in trained.values() if v.is_floating_point())
    if stage != "mr":
        assert classes["train"] and classes["eval"]
    if stage == "tal_cached":  # every train and eval video was encoded once into one cache directory
        caches = list((params.parent / "features").glob("*/manifest.json"))
        assert len(caches) == 1
        assert len(list(caches[0].parent.glob("*.safetensors"))) == 6


def test_a_stage_reading_the_cache_refuses_an_init_checkpoint_with_another_image_tower(params):
    from unloc.config import InitConfig, replace
    from unloc.model.build import build_model
    from unloc.run.experiment import check_cached_tower

    cfg = replace(load_config("tal_cached", params), init=InitConfig(checkpoint="pretrained_unloc.safetensors"))
    model = build_model(cfg.model)  # its image tower holds the cached tower's weights
    check_cached_tower(cfg, model)
    check_cached_tower(replace(cfg, init=InitConfig()), model)
    with torch.no_grad():
        next(model.image_tower.parameters()).add_(1.0)  # what an UnLoc checkpoint with another tower would load
    with pytest.raises(ValueError, match="pretrained_unloc.safetensors differs from the cached tower's weights"):
        check_cached_tower(cfg, model)
    check_cached_tower(replace(cfg, init=InitConfig()), model)  # no init checkpoint: the tower is the cached one
    check_cached_tower(replace(cfg, **{"data.feature_cache": None}), model)  # frames are decoded: nothing to check


def test_checking_the_cached_tower_leaves_the_training_generator_where_it_was(params):
    # training must not depend on whether the check ran (it builds a tower, whose init draws random numbers)
    from unloc.config import InitConfig, replace
    from unloc.model.build import build_model
    from unloc.run.experiment import check_cached_tower

    cfg = replace(load_config("tal_cached", params), init=InitConfig(checkpoint="pretrained_unloc.safetensors"))
    model = build_model(cfg.model)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    check_cached_tower(cfg, model)
    assert torch.equal(torch.rand(3), expected)
