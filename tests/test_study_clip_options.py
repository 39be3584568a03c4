"""study.clip_options: the two-tower pretraining's options from params.yaml, named word groups, clear errors."""

from pathlib import Path

import pytest
import yaml

from unloc.config.strict import ConfigError
from unloc.study import stages as study
from unloc.study.miniworld.vocab import COLOURS, SHAPES

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _params(tmp_path, clip_pretrain, profiles=None):
    path = tmp_path / "params.yaml"
    profiles = {"default": {}, **(profiles or {})}
    path.write_text(yaml.safe_dump({"profile": "default", "clip_pretrain": clip_pretrain, "profiles": profiles}))
    return path


def test_an_undefined_profile_is_an_error(tmp_path):
    """As for stages: a section read under a profile that params.yaml does not define names the profile."""
    with pytest.raises(ConfigError, match="profile 'typo' is not defined"):
        study.clip_options(_params(tmp_path, {"train": {}}), "typo")


def test_the_study_trains_with_shape_hard_negatives_and_the_word_term():
    assert study.clip_options(PARAMS, None) == {"action_weight": 0.0, "word_weight": 30.0, "negative_groups": [SHAPES]}


def test_named_and_explicit_groups(tmp_path):
    path = _params(tmp_path, {"train": {}, "negative_groups": ["shapes", "colours", ["up", "down"]]},
                   {"other": {"clip_pretrain": {"action_weight": 0.5, "negative_groups": None}}})
    groups = study.clip_options(path, None)["negative_groups"]
    assert groups[0] == SHAPES and groups[1] == tuple(COLOURS)
    assert groups[2] == ("up", "down")
    assert study.clip_options(path, "other") == {"action_weight": 0.5, "word_weight": 0.0, "negative_groups": None}


@pytest.mark.parametrize(("values", "message"), [
    ({"negative_groups": ["sizes"]}, "unknown group 'sizes'"),
    ({"negative_groups": ["actions"]}, "unknown group 'actions'"),  # appearance captions name no actions
    ({"negative_groups": [["up"]]}, "neither a group name"),
    ({"negative_groups": "shapes"}, "must be a list"),
    ({"negative_groups": []}, "non-empty list"),
    ({"negative_words": ["shapes"]}, "unknown config key 'clip_pretrain.negative_words'; did you mean 'negative_groups'"),
    ({"train": {"epoch": 3}}, "unknown config key 'clip_pretrain.train.epoch'; did you mean 'epochs'"),
])
def test_bad_options_are_named(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        study.clip_options(_params(tmp_path, {"train": {}, **values}), None)


def test_profile_sections_merge_deeply(tmp_path):
    """A profile's `clip_pretrain.train` changes only the keys it names (the strict loader sees the merged section)."""
    path = _params(tmp_path, {"train": {"epochs": 10, "weight_decay": 0.1}},
                   {"quick": {"clip_pretrain": {"train": {"epochs": 1}}}})
    train, _, _ = study.clip_train_config(_with_arch(path), "quick")
    assert (train.epochs, train.weight_decay) == (1, 0.1)


def _with_arch(path):
    data = yaml.safe_load(path.read_text())
    data["common"] = {"model": {"tower": {"arch": {"embed_dim": 8}}}}
    data["vars"] = {"models": "models"}
    path.write_text(yaml.safe_dump(data))
    return path
