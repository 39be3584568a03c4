"""Task and task-data configs: official defaults, YAML-friendly open ranges, strict loading, validation."""

import math

import pytest
import yaml

from unloc.config.strict import ConfigError, from_dict, to_dict
from unloc.data.config import SamplingConfig, SplitSource, TaskDataConfig
from unloc.tasks import NmsConfig, TaskConfig


def test_official_defaults():
    cfg = TaskConfig()
    assert cfg.ranges == ((0, 4), (4, 8), (8, 16), (16, math.inf))
    assert (cfg.radius, cfg.cls_weight, cfg.box_loss, cfg.focal_alpha, cfg.focal_gamma) == (3.0, 10.0, "iou", 0.25, 2.0)
    assert cfg.nms == NmsConfig("gaussian", 0.3, 0.5, 0.001, 100, False)
    data = TaskDataConfig()
    assert (data.sampling.num_frames, data.sampling.fps, data.max_segments) == (128, 0.0, 24)
    assert (data.image.crop_size, data.image.short_side) == (224, 256)


def test_yaml_open_range_round_trips():
    text = "kind: mr\nregression_ranges: [[0, 6], [6, 18], [18, 32], [32, null]]\nnms: {top_k: 10}\n"
    cfg = from_dict(TaskConfig, yaml.safe_load(text), "task")
    assert cfg.ranges[-1] == (32.0, math.inf) and cfg.nms.top_k == 10 and cfg.kind == "mr"
    again = from_dict(TaskConfig, yaml.safe_load(yaml.safe_dump(to_dict(cfg))))
    assert again == cfg
    with pytest.raises(ConfigError, match=r"'task\.regression_ranges\[3\]\[1\]'.*finite"):  # no non-finite config values
        from_dict(TaskConfig, yaml.safe_load(text.replace("null", ".inf")), "task")


@pytest.mark.parametrize(("fields", "message"), [
    ({"kind": "detection"}, "kind"),
    ({"box_loss": "giou"}, "box_loss"),
    ({"prompt_mode": "last"}, "prompt_mode"),
    ({"regression_ranges": [[4.0, 2.0]]}, "regression range"),
    ({"nms": {"sigma": 0.0}}, "sigma"),
    ({"nms": {"method": "cluster"}}, "nms.method"),
])
def test_task_config_rejects_bad_values(fields, message):
    with pytest.raises(ValueError, match=message):
        from_dict(TaskConfig, fields, "task")


def test_unknown_keys_are_errors_with_a_hint():
    with pytest.raises(ConfigError, match="did you mean 'radius'"):
        from_dict(TaskConfig, {"raduis": 2.0}, "task")
    with pytest.raises(ConfigError, match="data.sampling.fsp"):
        from_dict(TaskDataConfig, {"sampling": {"fsp": 2.0}}, "data")


def test_task_data_config_validation_and_eval_source():
    with pytest.raises(ConfigError, match=r"TaskDataConfig.mr_items must be one of \['video', 'query'\], got 'caption'"):
        TaskDataConfig(mr_items="caption")
    with pytest.raises(ConfigError, match="TaskDataConfig.feature_dtype must be one of"):
        TaskDataConfig(feature_dtype="bfloat16")
    with pytest.raises(ConfigError, match=r"data.mr_items. must be one of \[.video., .query.\], got .querys."):
        from_dict(TaskDataConfig, {"mr_items": "querys"}, "data")
    with pytest.raises(ValueError, match="sampling"):
        SamplingConfig(num_frames=1)
    cfg = TaskDataConfig(train=SplitSource("a.json", "training"), eval=SplitSource("", "validation"))
    assert cfg.source("eval") == SplitSource("a.json", "validation") and cfg.source("train").split == "training"
    with pytest.raises(ValueError, match="role"):
        cfg.source("test")
