"""The official frame tokens: a learnable CLS per frame position (B models) and GAP without CLS (L models).

References are written here from open_clip's own ViT modules: 'frame_cls' with every position holding CLIP's CLS is
CLIP's 'cls' token; 'gap' is the patch mean of a sequence that never held the CLS token.
"""

from dataclasses import replace

import pytest
import torch

from unloc.model.build import build_image_tower, build_model, build_tokenizer
from unloc.model.config import TowerConfig, tiny


def _tower(**fields) -> TowerConfig:
    return replace(tiny().tower, **fields)


def _reference_tokens(visual, frames, cls_tokens):
    """ln_post of the ViT on [cls_tokens; patches] (cls_tokens None: the patches alone), recomputed step by step."""
    patches = visual.conv1(frames).reshape(frames.shape[0], visual.conv1.out_channels, -1).permute(0, 2, 1)
    if cls_tokens is None:
        x = patches + visual.positional_embedding[1:]
    else:
        x = torch.cat([cls_tokens.unsqueeze(1), patches], dim=1) + visual.positional_embedding
    return visual.ln_post(visual.transformer(visual.ln_pre(x)))


def test_frame_cls_starts_as_clip_cls_so_it_equals_the_shared_token():
    torch.manual_seed(0)
    shared = build_image_tower(_tower()).eval()
    per_frame = build_image_tower(_tower(frame_token="frame_cls", frame_positions=4)).eval()
    per_frame.visual.load_state_dict(shared.visual.state_dict())
    with torch.no_grad():
        per_frame.frame_cls.copy_(shared.visual.class_embedding.expand(4, -1))
    frames = torch.randn(8, 3, 32, 32)  # two clips of 4 frames
    assert torch.allclose(per_frame(frames, num_frames=4), shared(frames), atol=1e-5)


def test_frame_cls_gives_each_position_its_own_token():
    torch.manual_seed(1)
    tower = build_image_tower(_tower(frame_token="frame_cls", frame_positions=3)).eval()
    with torch.no_grad():
        tower.frame_cls.normal_()
    assert tower.frame_cls.shape == (3, 32)
    frame = torch.randn(1, 3, 32, 32)
    clips = frame.expand(6, -1, -1, -1)  # two clips of the same frame three times
    out = tower(clips, num_frames=3)
    expected = _reference_tokens(tower.visual, clips, tower.frame_cls.repeat(2, 1))[:, 0]
    assert torch.allclose(out, expected, atol=1e-5)
    assert not torch.allclose(out[0], out[1], atol=1e-3)  # same pixels, different positions
    assert torch.allclose(out[:3], out[3:], atol=1e-6)  # same positions in both clips


def test_frame_cls_interpolates_to_other_clip_lengths():
    tower = build_image_tower(_tower(frame_token="frame_cls", frame_positions=2))
    with torch.no_grad():
        tower.frame_cls.copy_(torch.stack([torch.zeros(32), torch.ones(32)]))
    four = tower.frame_cls_tokens(4)[:, 0]  # half-pixel linear resize: centres at -0.25, 0.25, 0.75, 1.25
    assert torch.allclose(four, torch.tensor([0.0, 0.25, 0.75, 1.0]))
    assert tower.frame_cls_tokens(2) is tower.frame_cls


def test_frame_cls_needs_whole_clips():
    tower = build_image_tower(_tower(frame_token="frame_cls", frame_positions=4)).eval()
    with pytest.raises(ValueError, match="whole clips in order.*feature cache"):
        tower(torch.randn(6, 3, 32, 32))  # frame by frame, as a feature extractor would call it
    with pytest.raises(ValueError, match="6 frames with num_frames=4"):
        tower(torch.randn(6, 3, 32, 32), num_frames=4)


def test_gap_drops_the_cls_token_from_the_sequence():
    torch.manual_seed(2)
    gap = build_image_tower(_tower(frame_token="gap")).eval()
    frames = torch.randn(5, 3, 32, 32)
    expected = _reference_tokens(gap.visual, frames, None).mean(dim=1)
    assert torch.allclose(gap(frames), expected, atol=1e-5)
    mean = build_image_tower(_tower(frame_token="mean")).eval()
    mean.visual.load_state_dict(gap.visual.state_dict())
    assert not torch.allclose(mean(frames), gap(frames), atol=1e-4)  # 'mean' keeps CLS in attention


@pytest.mark.parametrize("fields, match", [
    ({"frame_token": "frame_cls"}, "frame_positions=0: frame_token 'frame_cls' needs >= 1"),
    ({"frame_token": "cls", "frame_positions": 8}, "frame_positions=8"),
])
def test_tower_config_checks_frame_positions(fields, match):
    with pytest.raises(ValueError, match=match):
        _tower(**fields)


@pytest.mark.parametrize("token", ["frame_cls", "gap"])
def test_official_tokens_train_end_to_end_and_leave_clip_cls_untrained(token):
    positions = 3 if token == "frame_cls" else 0
    cfg = replace(tiny(), tower=_tower(frame_token=token, frame_positions=positions, freeze_image=False))
    model = build_model(cfg).train()
    visual = model.image_tower.visual
    assert not visual.class_embedding.requires_grad  # unused by these tokens; DDP needs no unused trainables
    text = build_tokenizer(cfg.tower)(["a cat"])
    out = model(torch.randn(2, 3, 3, 32, 32), text)
    (sum(z.sum() for z in out.logits) + sum(o.sum() for o in out.offsets)).backward()
    trainable = [p for p in model.image_tower.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in trainable)
    if token == "frame_cls":
        assert model.image_tower.frame_cls.grad.abs().sum(dim=1).gt(0).all()  # every position learns
    model.image_tower.freeze()
    assert not any(p.requires_grad for p in model.image_tower.parameters())
    model.image_tower.freeze(False)
    assert not visual.class_embedding.requires_grad and visual.conv1.weight.requires_grad


def test_official_tokens_refuse_resnets():
    arch = {"embed_dim": 32, "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16},
            "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    with pytest.raises(ValueError, match="ResNets: frame_token 'cls' or 'mean'"):
        build_image_tower(TowerConfig(arch=arch, pretrained=None, frame_token="gap"))


def test_frame_cls_features_match_a_per_clip_reference_through_the_model():
    torch.manual_seed(3)
    cfg = replace(tiny(), tower=_tower(frame_token="frame_cls", frame_positions=4))
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.image_tower.frame_cls.normal_()
    video = torch.randn(2, 4, 3, 32, 32)
    got = model.encode_frames(video)  # (b, t, d)
    tokens = [_reference_tokens(model.image_tower.visual, clip, model.image_tower.frame_cls)[:, 0] for clip in video]
    assert torch.allclose(got, model.image_proj(torch.stack(tokens)), atol=1e-5)
