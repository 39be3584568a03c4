"""Hard-negative captions: the word swap, the InfoNCE term that uses them, and pretraining with them."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from unloc.model.clip_loader import build_tokenizer, create_clip
from unloc.study.clip.negatives import swap_negatives, word_swap_negative
from unloc.study.clip.pairs import PairDataset, read_pairs
from unloc.study.clip.pretraining import ClipPretrainer, contrastive_loss, mini_clip_tower, pretrain_clip
from unloc.study.miniworld import SIZES, generate_world
from unloc.study.miniworld.vocab import SHAPES
from unloc.train import TrainConfig

RN_ARCH = {  # a CLIP ResNet stand-in on 32 px frames
    "embed_dim": 32, "custom_text": True,
    "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 8, "head_width": 8},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def test_word_swap_changes_exactly_one_word_and_keeps_plurals():
    rng = np.random.default_rng(0)
    seen = set()
    caption = "a red circle and two blue stars."
    for _ in range(200):
        out = word_swap_negative(caption, [SHAPES], rng)
        before, after = caption.split(), out.split()
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert len(changed) == 1
        old, new = changed[0]
        assert new != old and (new.rstrip(".s") in SHAPES)
        assert new.endswith("s.") == old.endswith("s.")  # "stars." stays plural
        seen.add(out)
    assert len(seen) == 6  # 2 positions x 3 other shapes, all drawn
    assert word_swap_negative("a red blob.", [SHAPES], rng) is None
    assert word_swap_negative("the circles' squares", [("circle", "square")], rng) in {
        "the squares' squares", "the circles' circles"}
    with pytest.raises(ValueError, match="two distinct"):
        word_swap_negative("x", [("circle", "circle")], rng)


def test_phrase_groups_swap_within_their_group_longest_phrase_first():
    rng = np.random.default_rng(1)
    groups = [SHAPES, ("moving left", "moving right", "moving")]
    outs = {word_swap_negative("a red circle moving left.", groups, rng) for _ in range(200)}
    assert outs == {"a red square moving left.", "a red triangle moving left.", "a red star moving left.",
                    "a red circle moving right.", "a red circle moving."}


def test_swap_negatives_are_reproducible():
    texts = ["a red circle.", "two green stars.", "nothing here."]
    assert swap_negatives(texts, [SHAPES], seed=3) == swap_negatives(texts, [SHAPES], seed=3)
    assert swap_negatives(texts, [SHAPES])[2] is None


def test_contrastive_loss_with_negatives_matches_reference():
    torch.manual_seed(0)
    img, txt, neg = torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8)
    valid = torch.tensor([True, False, True, True])
    scale = torch.tensor(math.log(10.0))
    i, t, n = (x / x.norm(dim=1, keepdim=True) for x in (img, txt, neg))
    sim, sim_neg = 10.0 * i @ t.T, 10.0 * i @ n.T
    i2t = -sum(sim[k, k] - torch.logsumexp(torch.cat([sim[k], sim_neg[k, valid]]), 0) for k in range(4)) / 4
    t2i = -sum(sim[k, k] - torch.logsumexp(sim[:, k], 0) for k in range(4)) / 4
    torch.testing.assert_close(contrastive_loss(img, txt, scale, neg, valid), (i2t + t2i) / 2)
    none_valid = contrastive_loss(img, txt, scale, neg, torch.zeros(4, dtype=torch.bool))
    torch.testing.assert_close(none_valid, contrastive_loss(img, txt, scale))
    assert contrastive_loss(img, txt, scale, neg) > contrastive_loss(img, txt, scale)  # more negatives, more loss


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_world(out, SIZES["tiny"], seed=0, only=("pairs",))
    return out / "pairs"


def test_dataset_carries_one_fixed_negative_per_pair(pairs_dir):
    pairs = read_pairs(pairs_dir)
    tok = build_tokenizer(mini_clip_tower(RN_ARCH))
    ds = PairDataset(pairs, "train", tokenizer=tok, image_size=32, mean=(0, 0, 0), std=(1, 1, 1), augment=True,
                     negative_groups=[SHAPES])
    expected = swap_negatives(ds.scene_captions, [SHAPES])
    for i in (0, 5):
        sample = ds[i]
        assert bool(sample["scene_neg_valid"]) == (expected[i] is not None)
        assert torch.equal(sample["scene_neg_ids"], tok([expected[i]])[0])
        assert not torch.equal(sample["scene_neg_ids"], sample["scene_ids"])
    with pytest.raises(ValueError, match="never make a hard negative"):  # appearance captions name no actions
        PairDataset(pairs, "train", tokenizer=tok, image_size=32, mean=(0, 0, 0), std=(1, 1, 1), augment=True,
                    negative_groups=[SHAPES, ("moving left", "moving right")])
    plain = PairDataset(pairs, "val", tokenizer=tok, image_size=32, mean=(0, 0, 0), std=(1, 1, 1), augment=False)
    assert "scene_neg_ids" not in plain[0]
    model = ClipPretrainer(create_clip(mini_clip_tower(RN_ARCH)), pairs.frames_per_pair)
    out = model(**default_collate([ds[i] for i in range(6)]))
    assert out["loss"].ndim == 0 and math.isfinite(float(out["loss"].detach()))


def test_pretrain_with_hard_negatives_and_a_resnet_tower(pairs_dir, tmp_path):
    cfg = TrainConfig(epochs=2, global_batch_size=16, base_lr=1e-3, optimizer="adamw", lr_multipliers={},
                      warmup_epochs=0.5)
    path, metrics, history = pretrain_clip(pairs_dir, tmp_path, cfg, arch=RN_ARCH, negative_groups=[SHAPES],
                                           progress=False)
    assert path.is_file() and len(history.steps) == 2 * (45 // 16)
    assert 0.0 <= metrics["i2t_r1"] <= metrics["i2t_r5"] <= 1.0
    with pytest.raises(ValueError, match="cannot be combined"):
        pretrain_clip(pairs_dir, tmp_path / "x", dataclasses.replace(cfg), arch=RN_ARCH, negative_groups=[SHAPES],
                      action_weight=0.5, progress=False)
