"""Stage resolution: defaults <- common <- base chain <- stage <- profile deltas (all, then the stage's task kind)."""

import pytest
import yaml

from unloc.config import ExperimentConfig, load_config, load_run_config, replace, save_config
from unloc.config.strict import ConfigError

PARAMS = {
    "profile": "smoke",
    "common": {"seed": 3, "train": {"epochs": 7, "base_lr": 0.02}},
    "profiles": {"smoke": {"all": {"train": {"epochs": 1}}, "tal": {"data": {"sampling": {"num_frames": 8}}}},
                 "paper": {}},
    "tal": {"finetune": {"task": {"box_loss": "iou"}, "model": {"pyramid": {"num_levels": 4}}}},
    "ablations": {"l1": {"base": "tal.finetune", "task": {"box_loss": "l1"}},
                  "typo": {"base": "tal.finetune", "task": {"box_los": "l1"}}},
}


@pytest.fixture()
def params_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(PARAMS))
    return path


def test_resolution_order(params_file):
    cfg = load_config("ablations.l1", params_file)
    assert cfg.name == "ablations.l1" and cfg.seed == 3
    assert cfg.task.box_loss == "l1"  # stage over base
    assert cfg.train.epochs == 1 and cfg.train.base_lr == 0.02  # profile over common
    assert cfg.data.sampling.num_frames == 8  # the profile's task-kind delta
    plain = load_config("ablations.l1", params_file, profile="paper")
    assert plain.train.epochs == 7 and plain.data.sampling.num_frames == ExperimentConfig().data.sampling.num_frames
    assert load_config("tal.finetune", params_file, overrides={"seed": 9}).seed == 9


def test_typos_name_the_path(params_file):
    with pytest.raises(ConfigError, match=r"ablations\.typo\.task\.box_los.*box_loss"):
        load_config("ablations.typo", params_file)
    with pytest.raises(ConfigError, match="profile 'nope'"):
        load_config("tal.finetune", params_file, profile="nope")


def test_dotted_replace():
    cfg = replace(ExperimentConfig(), **{"train.epochs": 2, "model.fusion.layers": 3, "seed": 5})
    assert (cfg.train.epochs, cfg.model.fusion.layers, cfg.seed) == (2, 3, 5)


def test_path_variables_follow_the_profile(tmp_path):
    doc = {"vars": {"world": "data/miniworld"}, "profiles": {"smoke": {"vars": {"world": "build/smoke/world"}}},
           "mr": {"data": {"video_root": "{world}/charades_sta/videos"}},
           "bad": {"data": {"video_root": "{nowhere}/x"}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert load_config("mr", path).data.video_root == "data/miniworld/charades_sta/videos"
    assert load_config("mr", path, profile="smoke").data.video_root == "build/smoke/world/charades_sta/videos"
    with pytest.raises(ConfigError, match="unknown variable"):
        load_config("bad", path)


def test_a_run_config_written_before_the_run_values_left_train_still_loads(tmp_path):
    cfg = replace(ExperimentConfig(), **{"seed": 2, "train.epochs": 3})
    path = tmp_path / "config.yaml"
    save_config(cfg, path, run_dir="reports/tal/finetune")
    assert path.read_text().startswith("# run directory: reports/tal/finetune\n") and load_run_config(path) == cfg
    old = yaml.safe_load(path.read_text())
    old["train"].update(seed=0, out_dir="runs/train")  # what runs wrote before: train.seed was the unused default
    path.write_text(yaml.safe_dump(old))
    assert load_run_config(path) == cfg
    old["train"]["sead"] = 1
    path.write_text(yaml.safe_dump(old))
    with pytest.raises(ConfigError, match="train.sead"):
        load_run_config(path)
