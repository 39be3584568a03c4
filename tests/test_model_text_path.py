"""The text path of the official TAL-L / COIN-L configs: CLIP's own (fixed) text embeddings enter the fusion as they
are, with no fresh projection (ModelConfig.text_projection 'clip')."""

import copy
from dataclasses import replace

import pytest
import torch

from unloc.model.build import build_model, build_tokenizer
from unloc.model.clip_loader import create_clip
from unloc.model.config import TINY_ARCH, ModelConfig, tiny


def _clip_cfg(**fields):
    return replace(tiny(), text_projection="clip", **fields)


def test_clip_projection_feeds_clip_text_embeddings_without_a_new_layer():
    torch.manual_seed(0)
    cfg = _clip_cfg()
    model = build_model(cfg).eval()
    assert isinstance(model.text_proj, torch.nn.Identity)
    assert not any(name.startswith("text_proj") for name, _ in model.named_parameters())
    reference = create_clip(cfg.tower)  # open_clip's own encode_text, on the model's text weights, is the reference
    reference.text.load_state_dict(model.text_tower.text.state_dict())
    ids = build_tokenizer(cfg.tower)(["open a door", "jump rope"])
    tokens, mask = model.encode_text(ids)
    assert tokens.shape == (2, 1, 32) and mask.all()
    torch.testing.assert_close(tokens[:, 0], reference.encode_text(ids))


def test_frozen_clip_text_path_has_nothing_to_train():
    cfg = _clip_cfg(tower=replace(tiny().tower, freeze_text=True))
    model = build_model(cfg).train()
    assert not any(p.requires_grad for p in model.text_tower.parameters())
    assert not any(p.requires_grad for p in model.text_proj.parameters())


def test_all_text_tokens_are_projected_too():
    cfg = _clip_cfg(fusion=replace(tiny().fusion, text_input="all"))
    model = build_model(cfg).eval()
    ids = build_tokenizer(cfg.tower)(["a cat"])
    feats = model.text_tower(ids)
    tokens, _ = model.encode_text(ids)
    eos = int(ids[0].argmax())
    torch.testing.assert_close(tokens[0, eos], feats.pooled[0])  # projected EOS token = CLIP's text embedding


def test_clip_projection_needs_matching_widths_and_a_text_path():
    arch = copy.deepcopy(TINY_ARCH)
    arch["embed_dim"] = 48
    with pytest.raises(ValueError, match="48 dims, the fusion 32"):
        build_model(_clip_cfg(tower=replace(tiny().tower, arch=arch)))
    with pytest.raises(ValueError, match="needs a text path"):
        ModelConfig(text_projection="clip", fusion=replace(tiny().fusion, mode="no_text", num_classes=3))
    with pytest.raises(ValueError, match="text_projection"):
        ModelConfig(text_projection="none")
