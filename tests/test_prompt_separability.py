"""benchmarks/prompt_separability.py: cosine statistics by hand, and prompts through a random-init text tower."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from unloc.model.config import tiny

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "prompt_separability.py"
_spec = importlib.util.spec_from_file_location("prompt_separability", SCRIPT)
prompt_separability = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prompt_separability)


def test_separability_hand_worked():
    s = prompt_separability.separability(torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]]))
    assert s["classes"] == 3
    assert s["mean_cosine"] == pytest.approx(1 / 3)  # ordered pairs of different rows: 1, 0, 0 twice each
    assert s["nearest_cosine"] == pytest.approx(2 / 3)  # 1, 1, 0
    assert s["share_nearest_above_0.99"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="at least two"):
        prompt_separability.separability(torch.ones(1, 4))


def test_prompt_features_follow_the_names():
    torch.manual_seed(0)
    feats = prompt_separability.prompt_features(tiny().tower, ["red circle", "red circle", "blue star jumping"],
                                                "a video of {}.")
    assert feats.shape == (3, tiny().tower.arch["text_cfg"]["width"])
    s = torch.nn.functional.cosine_similarity(feats[0], feats[1:], dim=-1)
    assert s[0] == pytest.approx(1.0, abs=1e-6) and s[1] < 0.999
