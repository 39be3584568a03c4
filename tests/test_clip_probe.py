"""Frozen-tower probes: caption word labels, the linear probe on fixed features, and a run on a tiny pair set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unloc.model.build import build_image_tower
from unloc.study.clip.pairs import caption_words, read_pairs
from unloc.study.clip.pretraining import mini_clip_tower
from unloc.study.clip.probe import frame_tokens, linear_probe, tower_probes
from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES
from unloc.study.miniworld.vocab import SHAPES


def test_caption_words_read_singular_and_plural_whole_words():
    y = caption_words(["two purple circles.", "a red star and a blue square.", "a reddish starfish."], SHAPES)
    assert y.tolist() == [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]]  # SHAPES: circle, square, triangle, star


def test_linear_probe_separable_and_uninformative_features():
    gen = torch.Generator().manual_seed(0)
    y = (torch.rand(400, 3, generator=gen) > 0.3).float()  # every label mostly 1: base rate about 0.7
    signal = torch.cat([2 * y - 1, torch.randn(400, 5, generator=gen)], dim=1)  # the labels are in the features
    res = linear_probe(signal[:300], y[:300], signal[300:], y[300:])
    assert res["accuracy"] == 1.0
    majority = y[:300].mean(0) > 0.5
    assert res["base_rate"] == pytest.approx(float((majority == y[300:].bool()).float().mean()))
    noise = torch.randn(400, 8, generator=gen)  # nothing to read: no better than the majority answer
    assert linear_probe(noise[:300], y[:300], noise[300:], y[300:])["accuracy"] <= res["base_rate"] + 0.05


def test_frame_tokens_resize_and_batch():
    tower = build_image_tower(mini_clip_tower())  # the 64 px stand-in, random init, frozen
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8))
    a = frame_tokens(tower, frames, batch_size=2)
    assert a.shape == (5, tower.out_dim)
    x = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2).float() / 255, size=(64, 64), mode="bilinear",
                                        align_corners=False, antialias=True)
    assert tower.training  # a trainable tower: put back in training mode after the eval-mode pass
    with torch.no_grad():
        torch.testing.assert_close(a, tower.eval()(tower.normalize(x)), rtol=1e-5, atol=1e-5)


def test_tower_probes_on_a_tiny_pair_set(tmp_path):
    size = SIZES["tiny"]
    generate_world(tmp_path, size, 0, only=("pairs",))
    pairs = read_pairs(tmp_path / "pairs")
    out = tower_probes(build_image_tower(mini_clip_tower()), pairs)
    assert set(out) == {"shape_probe", "shape_base_rate", "colour_probe", "colour_base_rate", "probe_train",
                        "probe_val"}
    assert out["probe_train"] + out["probe_val"] == size.pairs.num_pairs
    assert all(0.0 <= out[k] <= 1.0 for k in ("shape_probe", "shape_base_rate", "colour_probe", "colour_base_rate"))
