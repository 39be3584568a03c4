"""CLIP ResNet image towers (open_clip ModifiedResNet): per-frame tokens, loading, freezing, the full model."""

from dataclasses import replace

import pytest
import torch
from open_clip.modified_resnet import ModifiedResNet
from safetensors.torch import save_file

from unloc.model.build import build_image_tower, build_model, build_tokenizer
from unloc.model.clip_loader import create_clip
from unloc.model.config import TowerConfig, tiny

RN_ARCH = {
    "embed_dim": 24, "custom_text": True,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 8, "head_width": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def _rn_tower(**fields):
    return replace(tiny().tower, arch=RN_ARCH, **fields)


def _reference_layer4(visual: ModifiedResNet, frames: torch.Tensor) -> torch.Tensor:
    x = visual.stem(frames)
    for stage in (visual.layer1, visual.layer2, visual.layer3, visual.layer4):
        x = stage(x)
    return x  # (N, 8 * 32, 2, 2)


def test_cls_token_is_the_attention_pool_output():
    torch.manual_seed(0)
    tower = build_image_tower(_rn_tower()).eval()
    assert isinstance(tower.visual, ModifiedResNet)
    assert tower.image_size == 64 and tower.out_dim == 24
    frames = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        # stage by stage, then the attention pool: CLIP-RN's image embedding
        expected = tower.visual.attnpool(_reference_layer4(tower.visual, frames))
        torch.testing.assert_close(tower(frames), expected)
        assert not torch.allclose(expected[0], expected[1])


def test_mean_token_averages_the_last_feature_map():
    tower = build_image_tower(_rn_tower(frame_token="mean")).eval()
    frames = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = _reference_layer4(tower.visual, frames).mean(dim=(2, 3))
        torch.testing.assert_close(tower(frames), expected)
    assert tower.out_dim == 8 * 32 == expected.shape[1]


def test_checkpoint_round_trip_and_frozen_batch_norm(tmp_path):
    torch.manual_seed(1)
    clip = create_clip(_rn_tower())
    with torch.no_grad():  # non-trivial running statistics, as a trained ResNet has
        clip.visual.bn1.running_mean.uniform_(-1, 1)
        clip.visual.bn1.running_var.uniform_(0.5, 2)
    state = {k: v.contiguous() for k, v in clip.state_dict().items()}
    save_file(state, str(tmp_path / "rn.safetensors"))
    cfg = replace(tiny(), tower=_rn_tower(pretrained=str(tmp_path / "rn.safetensors"), freeze_image=True))
    model = build_model(cfg).train()
    tower = model.image_tower
    assert torch.equal(tower.visual.bn1.running_mean, state["visual.bn1.running_mean"])
    assert not tower.training and not tower.visual.bn1.training  # frozen: BN uses the loaded statistics
    frames = torch.randn(2, 3, 64, 64)
    before = tower.visual.bn1.running_mean.clone()
    ids = build_tokenizer(cfg.tower)(["a red circle", "a blue star"])
    out = model(frames[None], ids)  # (b=1, t=2) video
    out.concat()[0].sum().backward()
    assert torch.equal(tower.visual.bn1.running_mean, before)
    assert all(p.grad is None for p in tower.parameters())
    assert model.image_proj.weight.shape == (cfg.fusion.width, 24) and model.image_proj.weight.grad is not None
    clip.eval()
    with torch.no_grad():
        torch.testing.assert_close(tower(frames), clip.visual(frames))


def test_finetuned_resnet_tower_trains():
    cfg = replace(tiny(), tower=_rn_tower(freeze_image=False))
    model = build_model(cfg).train()
    assert model.image_tower.training and model.image_tower.visual.layer1.training
    ids = build_tokenizer(cfg.tower)(["x"])
    model(torch.randn(1, 3, 3, 64, 64), ids).concat()[0].sum().backward()
    assert model.image_tower.visual.conv1.weight.grad is not None


def test_other_visual_modules_are_refused():
    with pytest.raises(ValueError, match="ModifiedResNet"):
        from unloc.model.towers import ImageTower
        ImageTower(torch.nn.Linear(3, 3), frame_token="cls", frozen=True, mean=(0, 0, 0), std=(1, 1, 1))


def test_checkpointing_a_trainable_resnet_tower_is_reported(caplog):
    cfg = replace(tiny(), tower=_rn_tower(freeze_image=False), checkpoint_towers=True)
    with caplog.at_level("WARNING", logger="unloc.model.build"):
        build_model(cfg)
    assert "ResNet image tower has no transformer blocks" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="unloc.model.build"):
        build_model(replace(cfg, tower=_rn_tower(freeze_image=True)))
    assert caplog.text == ""


def test_real_rn50_architecture_gives_clip_rn50_frame_tokens():
    """Random-init open_clip RN50 (the named model a user loads with pretrained='openai'): 224 px, 1024-d tokens."""
    torch.manual_seed(0)
    tower = build_image_tower(TowerConfig(arch="RN50", pretrained=None, freeze_image=True))
    assert isinstance(tower.visual, ModifiedResNet)
    assert (tower.image_size, tower.out_dim) == (224, 1024)
    with torch.no_grad():
        tokens = tower(torch.randn(2, 3, 224, 224))
    assert tokens.shape == (2, 1024) and torch.isfinite(tokens).all()
    mean_tower = build_image_tower(TowerConfig(arch="RN50", pretrained=None, frame_token="mean"))
    assert mean_tower.out_dim == 2048
