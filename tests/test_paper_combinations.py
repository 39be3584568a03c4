"""Settings valid alone but refused together, with a clear error: gradient accumulation with in-batch negatives, and
a feature cache with position-dependent frame tokens."""

import pytest

from unloc.cli import main
from unloc.config import ExperimentConfig
from unloc.config.paper import load_paper_config
from unloc.config.strict import from_dict


def _cfg(**deltas) -> ExperimentConfig:
    return from_dict(ExperimentConfig, deltas, where="test")


def test_grad_accumulation_is_refused_for_in_batch_negatives():
    with pytest.raises(ValueError, match="grad_accum_steps > 1 with moment retrieval.*one micro-step"):
        _cfg(task={"kind": "mr"}, train={"grad_accum_steps": 2})
    assert _cfg(task={"kind": "mr", "mr_pairs": "own"}, train={"grad_accum_steps": 2}).train.grad_accum_steps == 2
    assert _cfg(task={"kind": "tal"}, train={"grad_accum_steps": 2}).train.grad_accum_steps == 2
    with pytest.raises(ValueError, match="grad_accum_steps"):
        load_paper_config("charades_b", **{"train.grad_accum_steps": 4})
    assert load_paper_config("qvh_b", **{"train.grad_accum_steps": 4}).train.micro_batch_size == 16


def test_cli_reports_the_refusal_in_one_line(capsys):
    assert main(["train", "--paper", "anet_captions_b", "--set", "train.grad_accum_steps=2", "--print-config"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("unloc train: error:") and "grad_accum_steps" in err


def test_feature_cache_is_refused_for_per_frame_cls_tokens():
    with pytest.raises(ValueError, match="feature_cache with frame_token 'frame_cls'"):
        load_paper_config("anet_captions_b", **{"data.feature_cache": "data/features"})
    cfg = load_paper_config("anet_captions_b", **{"data.feature_cache": "data/features", "model.tower.frame_token":
                                                  "cls", "model.tower.frame_positions": 0})
    assert cfg.data.feature_cache == "data/features"
