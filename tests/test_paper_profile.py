"""The `paper` profile of params.yaml: listed study stages resolve to the packaged official configurations, with the
profile's data root; unlisted stages stop with an error instead of running mini-world settings on real data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from unloc.config import ExperimentConfig, load_config, read_params, resolve_stage
from unloc.config.paper import PAPER_CONFIGS, load_paper_config, resolve_paper
from unloc.config.strict import ConfigError, from_dict

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
MAPPING = read_params(PARAMS)["profiles"]["paper"]["paper_configs"]
PROFILE_VARS = read_params(PARAMS)["profiles"]["paper"]["vars"]


def test_the_mapping_names_real_stages_and_real_paper_configs():
    params = read_params(PARAMS)
    for stage, name in MAPPING.items():
        group, section = stage.split(".")
        assert section in params[group], stage
        assert name in PAPER_CONFIGS, name


@pytest.mark.parametrize("stage", sorted(MAPPING))
def test_listed_stage_is_the_packaged_configuration(stage):
    cfg = load_config(stage, PARAMS, profile="paper")
    ref = from_dict(ExperimentConfig, resolve_paper(MAPPING[stage], variables=PROFILE_VARS))
    assert cfg.name == stage
    assert dataclasses.replace(cfg, name=ref.name) == ref
    plain = load_paper_config(MAPPING[stage], paper_root="data/paper")  # differs at most in the Kinetics checkpoint
    assert dataclasses.replace(cfg, name=plain.name, init=plain.init) == plain
    assert cfg.model.tower.pretrained == "openai"
    assert cfg.data.train.annotations.startswith("data/paper/")


def test_the_profile_data_root_moves_every_path():
    params = read_params(PARAMS)
    params["profiles"]["paper"]["vars"] = {"paper": "/datasets/unloc"}
    merged = resolve_stage(params, "tal.finetune", "paper")
    assert merged["data"]["train"]["annotations"].startswith("/datasets/unloc/activitynet13/")
    assert "{" not in yaml.safe_dump(merged)


def test_b_stages_start_from_the_profiles_kinetics_stage_and_l_stages_from_the_l_run():
    video = load_config("pretrain.video", PARAMS, profile="paper")
    assert (video.task.kind, video.model.tower.arch, video.init.checkpoint) == ("video_pretrain", "ViT-B-16", None)
    for stage in MAPPING:
        if stage == "pretrain.video":
            continue
        cfg = load_config(stage, PARAMS, profile="paper")
        expected = {"ViT-B-16": "reports/pretrain/video/model.safetensors",
                    "ViT-L-14": "runs/kinetics700_l/model.safetensors"}[cfg.model.tower.arch]
        assert cfg.init.checkpoint == expected, stage


@pytest.mark.parametrize("stage", ["ablations.tal.default", "ablations.tal.heads_1", "mr.charades_l"])
def test_unlisted_stage_is_an_error(stage):
    with pytest.raises(ConfigError, match=f"maps no paper configuration to stage '{stage}'"):
        load_config(stage, PARAMS, profile="paper")


def test_the_profile_all_delta_applies_last():
    params = read_params(PARAMS)
    params["profiles"]["paper"]["all"] = {"train": {"world_size": 8}}
    assert resolve_stage(params, "mr.qvh_b", "paper")["train"]["world_size"] == 8
