"""TrainConfig hygiene: non-finite numbers and choices outside a Literal are errors naming the key, in Python, in a
params file and on the command line; the dead `grad_checkpointing` field is gone."""

from __future__ import annotations

import dataclasses
import math

import pytest
import yaml

from unloc.cli import main
from unloc.config import ExperimentConfig
from unloc.config.strict import ConfigError, from_dict
from unloc.train import TrainConfig
from unloc.train.config import config_changes

FLOATS = ("base_lr", "momentum", "weight_decay", "warmup_epochs", "step_gamma", "clip_grad_norm")


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused_naming_the_field(name, value):
    with pytest.raises(ValueError, match=rf"TrainConfig\.{name} must be finite"):
        TrainConfig(**{name: value})
    with pytest.raises(ConfigError, match=rf"'stage\.train\.{name}' must be a finite number, got {value}"):
        from_dict(TrainConfig, {name: value}, where="stage.train")


@pytest.mark.parametrize("changes, match", [
    ({"step_epochs": (1.0, math.inf)}, "step_epochs must be finite"),
    ({"step_epochs": (math.nan,)}, "step_epochs must be finite"),
    ({"lr_multipliers": {"heads": math.inf}}, "lr_multipliers: bad entry 'heads'"),
    ({"lr_multipliers": {"heads": math.nan}}, "lr_multipliers: bad entry 'heads'"),
])
def test_non_finite_values_inside_containers_are_refused(changes, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**changes)
    with pytest.raises(ConfigError, match="must be a finite number"):
        from_dict(TrainConfig, changes, where="train")


def test_non_finite_numbers_anywhere_in_the_experiment_config_name_the_key():
    with pytest.raises(ConfigError, match=r"'tal\.data\.image\.flip_prob' must be a finite number, got nan"):
        from_dict(ExperimentConfig, {"data": {"image": {"flip_prob": math.nan}}}, where="tal")
    with pytest.raises(ConfigError, match=r"'task\.regression_ranges\[0\]\[1\]'.*finite"):  # an open end is null
        from_dict(ExperimentConfig, {"task": {"regression_ranges": [[0, math.inf]]}})


@pytest.mark.parametrize("name, value, choices", [
    ("optimizer", "adam", ["sgd", "adamw"]),
    ("schedule", "linear", ["constant", "cosine", "step"]),
    ("precision", "fp16", ["fp32", "bf16"]),
])
def test_choices_are_literal_types_checked_in_python_and_by_the_loader(name, value, choices):
    with pytest.raises(ConfigError, match=rf"TrainConfig\.{name} must be one of {choices}".replace("[", r"\[")):
        TrainConfig(**{name: value})
    with pytest.raises(ConfigError, match=rf"'train\.{name}' must be one of"):
        from_dict(TrainConfig, {name: value}, where="train")


def test_grad_checkpointing_is_gone():
    assert "grad_checkpointing" not in {f.name for f in dataclasses.fields(TrainConfig)}
    with pytest.raises(ConfigError, match=r"unknown config key 'train\.grad_checkpointing'"):
        from_dict(TrainConfig, {"grad_checkpointing": True}, where="train")


def test_non_finite_override_on_the_command_line_exits_2_naming_the_key(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"stage": {"train": {"epochs": 1}}}))
    argv = ["train", "--params", str(params), "--stage", "stage", "--print-config"]
    assert main(argv) == 0 and "epochs: 1" in capsys.readouterr().out
    for value in ("1e999", ".nan", "-.inf"):
        assert main([*argv, "--set", f"train.base_lr={value}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "'stage.train.base_lr' must be a finite number" in err


def test_config_changes_lists_dotted_keys_and_ignores_resumable_ones():
    saved = {"train": {"base_lr": 0.01, "epochs": 3, "num_workers": 0, "step_epochs": [1.0]}, "seed": 0}
    now = {"train": {"base_lr": 0.02, "epochs": 5, "num_workers": 4, "step_epochs": (1.0,)}, "seed": 0, "extra": 1}
    assert config_changes(saved, now) == ["extra: (absent) -> 1", "train.base_lr: 0.01 -> 0.02"]
