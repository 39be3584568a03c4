"""The `paper` profile of params.yaml: listed study stages resolve to the packaged official configurations, with the
profile's data root; unlisted stages stop with an error instead of running mini-world settings on real data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from unloc.config import load_config, read_params, resolve_stage
from unloc.config.paper import PAPER_CONFIGS, load_paper_config
from unloc.config.strict import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
MAPPING = read_params(PARAMS)["profiles"]["paper"]["paper_configs"]


def test_the_mapping_names_real_stages_and_real_paper_configs():
    params = read_params(PARAMS)
    for stage, name in MAPPING.items():
        group, section = stage.split(".")
        assert section in params[group], stage
        assert name in PAPER_CONFIGS, name


@pytest.mark.parametrize("stage", sorted(MAPPING))
def test_listed_stage_is_the_packaged_configuration(stage):
    cfg = load_config(stage, PARAMS, profile="paper")
    ref = load_paper_config(MAPPING[stage], paper_root="data/paper")
    assert cfg.name == stage
    assert dataclasses.replace(cfg, name=ref.name) == ref
    assert cfg.model.tower.pretrained == "openai"
    assert cfg.data.train.annotations.startswith("data/paper/")


def test_the_profile_data_root_moves_every_path():
    params = read_params(PARAMS)
    params["profiles"]["paper"]["vars"] = {"paper": "/datasets/unloc"}
    merged = resolve_stage(params, "tal.finetune", "paper")
    assert merged["data"]["train"]["annotations"].startswith("/datasets/unloc/activitynet13/")
    assert "{" not in yaml.safe_dump(merged)


@pytest.mark.parametrize("stage", ["ablations.tal.default", "pretrain.video", "mr.charades_l"])
def test_unlisted_stage_is_an_error(stage):
    with pytest.raises(ConfigError, match=f"maps no paper configuration to stage '{stage}'"):
        load_config(stage, PARAMS, profile="paper")


def test_the_profile_all_delta_applies_last():
    params = read_params(PARAMS)
    params["profiles"]["paper"]["all"] = {"train": {"world_size": 8}}
    assert resolve_stage(params, "mr.qvh_b", "paper")["train"]["world_size"] == 8
