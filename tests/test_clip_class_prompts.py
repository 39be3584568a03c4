"""Class prompts through the text tower: cosines, nearest other class and shared words, worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from unloc.model.config import tiny
from unloc.study.clip.class_prompts import (
    cosine_matrix,
    nearest_classes,
    prompt_features,
    prompt_finding,
    word_sharing_rate,
)

NAMES = ["red circle spinning", "red star spinning", "blue square growing"]
# rows: (1, 0), (0.6, 0.8), (0, 1): cos(0, 1) = 0.6, cos(0, 2) = 0, cos(1, 2) = 0.8
FEATURES = torch.tensor([[2.0, 0.0], [0.6, 0.8], [0.0, 5.0]])


def test_cosine_matrix_by_hand():
    sim = cosine_matrix(FEATURES)
    assert sim.dtype == torch.float64
    assert sim.flatten().tolist() == pytest.approx([1.0, 0.6, 0.0, 0.6, 1.0, 0.8, 0.0, 0.8, 1.0])


def test_nearest_classes_by_hand():
    table = nearest_classes(NAMES, FEATURES)
    expected = pd.DataFrame({"class": ["red star spinning", "blue square growing", "red circle spinning"],
                             "nearest": ["blue square growing", "red star spinning", "red star spinning"],
                             "cosine": [0.8, 0.8, 0.6], "shared": ["", "", "red spinning"]})
    pd.testing.assert_frame_equal(table, expected, atol=1e-12)
    with pytest.raises(ValueError, match="3 names for 2 feature rows"):
        nearest_classes(NAMES, FEATURES[:2])


def test_word_sharing_rate_and_finding_by_hand():
    # ordered pairs of different classes: (0, 1) and (1, 0) share "red spinning"; the other four share nothing
    assert word_sharing_rate(NAMES) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="at least two"):
        word_sharing_rate(NAMES[:1])
    assert prompt_finding(nearest_classes(NAMES, FEATURES)) == (
        "3 class prompts: nearest other class at cosine 0.733 on average (lowest 0.600), 0 of 3 above 0.99; "
        "1 of 3 share a word with their nearest class (chance 33 %)")


def test_prompt_features_of_equal_names_are_equal():
    torch.manual_seed(0)
    feats = prompt_features(tiny().tower, ["red circle", "red circle", "blue star jumping"])
    assert feats.shape == (3, tiny().tower.arch["text_cfg"]["width"])
    assert torch.equal(feats[0], feats[1]) and not torch.equal(feats[0], feats[2])
