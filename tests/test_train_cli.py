"""`unloc train` on a tiny generated mini-world: a full run, overrides, config errors, paper configs, torchrun sizing."""

import json
import os
import re
import runpy
import subprocess
import sys

import pytest
import yaml
from tasks_common import one_thread  # noqa: F401  (autouse: tiny models run faster on one thread)

from unloc.cli import main
from unloc.cli.train import parse_set, world_size_for
from unloc.config.strict import ConfigError
from unloc.model.config import TINY_ARCH
from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES

TINY_MODEL = {"tower": {"arch": TINY_ARCH, "pretrained": None, "freeze_text": False},
              "fusion": {"layers": 1, "width": 32, "heads": 2, "mlp_dim": 64},
              "pyramid": {"num_levels": 2}, "head": {"num_conv_layers": 1}}
TORCHRUN_ENV = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "4", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root, SIZES["tiny"], 0, only=("anet13",))
    anet = root / "anet13"
    small = {"model": TINY_MODEL, "data": {"image": {"crop_size": 32, "short_side": 32}, "sampling": {"num_frames": 16}},
             "train": {"epochs": 2, "global_batch_size": 2, "optimizer": "adamw", "warmup_epochs": 0.0}}
    tal = {"task": {"kind": "tal", "regression_ranges": [[0, 4], [4, None]], "prompt_mode": "first"},
           "data": {"train": {"annotations": str(anet / "activity_net.v1-3.min.json"), "split": "training"},
                    "eval": {"split": "validation"}, "video_root": str(anet / "videos")}}
    doc = {"common": small, "tal": tal}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_train_runs_a_stage_with_overrides_and_prints_its_metrics(params, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--params", str(params), "--stage", "tal", "--out", str(out), "--no-progress",
                 "--set", "train.epochs=1", "--set", "train.base_lr=3e-3", "--set", "seed=7"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((out / "metrics.json").read_text())
    assert 0.0 <= printed["mAP@0.5"] <= 100.0 and printed["train_seconds"] > 0
    text = (out / "config.yaml").read_text()
    saved = yaml.safe_load(text)
    assert (saved["name"], saved["seed"], saved["train"]["epochs"], saved["train"]["base_lr"]) == ("tal", 7, 1, 0.003)
    assert text.splitlines()[0] == f"# run directory: {out}"  # where it ran; the seed and out dir are not train's
    assert "seed" not in saved["train"] and "out_dir" not in saved["train"]
    progress = json.loads(next((out / "train" / "checkpoints").glob("*/progress.json")).read_text())
    assert (progress["config"]["train"]["seed"], progress["config"]["train"]["out_dir"]) == (7, str(out / "train"))
    steps = [json.loads(line) for line in (out / "train" / "history.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1)) and {s["epoch"] for s in steps} == {0}


@pytest.mark.parametrize("setting, message", [
    ("train.epoch=2", r"unknown config key 'tal\.train\.epoch'; did you mean 'epochs'\?"),
    ("train.epochs=two", r"'tal\.train\.epochs' must be an integer, got 'two'"),
    ("train.world_size=3", r"global_batch_size=2 is not divisible by world_size"),
    ("train.epochs", r"expected KEY\.PATH=VALUE"),
])
def test_bad_overrides_exit_2_naming_the_key_and_train_nothing(params, tmp_path, capsys, setting, message):
    code = main(["train", "--params", str(params), "--stage", "tal", "--out", str(tmp_path / "run"),
                 "--set", setting])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("unloc train: error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_resume_errors_are_one_line_and_exit_2(params, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--params", str(params), "--stage", "tal", "--out", str(out), "--no-progress"]
    assert main([*base, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err == (f"unloc train: error: cannot resume: no checkpoint in {out / 'train' / 'checkpoints'} "
                   "(--resume-or-start starts from scratch when there is none)\n")
    assert main([*base, "--resume-or-start", "--set", "train.epochs=1"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert main([*base, "--resume", "--set", "train.epochs=1"]) == 0  # finished: nothing left to train
    assert json.loads(capsys.readouterr().out)["mAP@0.5"] == trained["mAP@0.5"]
    assert main([*base, "--resume", "--set", "train.epochs=1", "--set", "train.base_lr=0.02", "--set", "seed=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("unloc train: error: cannot resume from ")
    changes = err.split("the config changed: ")[1].rstrip("\n").split("; ")  # train.seed: the seed fit stores
    assert changes == ["seed: 0 -> 3", "train.base_lr: 0.01 -> 0.02", "train.seed: 0 -> 3"]
    with pytest.raises(SystemExit) as done:
        main([*base, "--resume", "--resume-or-start"])
    assert done.value.code == 2


def test_a_diverging_run_stops_with_one_line_naming_step_and_term(params, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--params", str(params), "--stage", "tal", "--out", str(out), "--no-progress",
                 "--set", "train.optimizer=sgd", "--set", "train.base_lr=1e30"])  # the weights blow up in one step
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    # the terms are the trainer's rank means (the task's losses leave the check to it, so all ranks stop together)
    assert re.match(r"unloc train: error: non-finite loss at step 2 \(micro-step 1/1\): (\w+=\S+, )*loss=nan"
                    r"(, \w+=\S+)*; the update was not applied; no checkpoint written yet$", err)


def test_missing_stage_and_unknown_section_are_errors(params, capsys):
    assert main(["train", "--params", str(params)]) == 2
    assert "--params needs --stage" in capsys.readouterr().err
    assert main(["train", "--params", str(params), "--stage", "mr"]) == 2
    assert "no section 'mr'" in capsys.readouterr().err


def test_paper_config_prints_with_root_overrides_and_world_size(capsys):
    code = main(["train", "--paper", "anet_tal_zs50_l", "--paper-root", "/data/u", "--world-size", "8",
                 "--set", "train.precision=bf16", "--print-config"])
    assert code == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["name"] == "anet_tal_zs50_l" and cfg["model"]["tower"]["arch"] == "ViT-L-14"
    assert cfg["data"]["class_split"].endswith("unloc/resources/zero_shot/zs50_split_0.json")  # packaged splits
    assert cfg["data"]["train"]["annotations"] == "/data/u/activitynet13/activity_net.v1-3.min.json"
    assert (cfg["train"]["world_size"], cfg["train"]["precision"]) == (8, "bf16")
    assert main(["train", "--paper", "qvh_b", "--stage", "x", "--print-config"]) == 2


def test_parse_set_reads_yaml_values():
    assert parse_set("train.base_lr=1e-3") == ("train.base_lr", 0.001)
    assert parse_set("task.regression_ranges=[[0, 4], [4, null]]") == ("task.regression_ranges", [[0, 4], [4, None]])
    assert parse_set(" model.tower.pretrained = null ") == ("model.tower.pretrained", None)
    assert parse_set("data.video_root=/a/b=c") == ("data.video_root", "/a/b=c")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_set("train.epochs=[1")
    with pytest.raises(ConfigError, match="expected KEY"):
        parse_set("=3")


def test_world_size_follows_torchrun_when_it_started_the_process(monkeypatch):
    for key in TORCHRUN_ENV:
        monkeypatch.delenv(key, raising=False)
    assert world_size_for(None, 2) == 2 and world_size_for(8, 2) == 8
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    assert world_size_for(None, 1) == 4 and world_size_for(4, 1) == 4
    with pytest.raises(ConfigError, match="--world-size 2 but torchrun started WORLD_SIZE=4"):
        world_size_for(2, 1)


@pytest.mark.filterwarnings("ignore:'unloc.cli.train' found in sys.modules")
def test_the_module_runs_as_torchrun_starts_it(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["unloc.cli.train", "--paper", "coin_l", "--print-config"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("unloc.cli.train", run_name="__main__")
    assert done.value.code == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert (cfg["task"]["kind"], cfg["data"]["sampling"]["window"], cfg["model"]["pyramid"]["kind"]) == ("seg", 512, "none")


@pytest.mark.slow
def test_torchrun_two_ranks_train_one_run_and_print_once(params, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "ddp"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "-m", "unloc.cli.train", "--params", str(params), "--stage", "tal", "--out", str(out),
                           "--set", "train.epochs=1", "--no-progress"],
                          check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == json.loads((out / "metrics.json").read_text())  # printed by rank 0 only
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["world_size"] == 2
