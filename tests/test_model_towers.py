"""CLIP towers: local checkpoints through open_clip's loader, clear errors for bad files, freezing, real ViT-B/16."""

import copy
from dataclasses import replace

import open_clip
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from unloc.model.build import build_image_tower, build_model, build_tokenizer
from unloc.model.clip_loader import CheckpointError, create_clip
from unloc.model.config import TINY_ARCH, TowerConfig, tiny, unloc_b


def _tiny_tower(**fields):
    return replace(tiny().tower, **fields)


@pytest.fixture(scope="module")
def saved_clip(tmp_path_factory):
    """A random tiny CLIP saved as .safetensors and as a .pt state_dict, plus the tensors it holds."""
    torch.manual_seed(123)
    model = create_clip(_tiny_tower())
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    folder = tmp_path_factory.mktemp("clip")
    save_file(state, str(folder / "tiny.safetensors"))
    torch.save(state, folder / "tiny.pt")
    return folder, state


@pytest.mark.parametrize("name", ["tiny.safetensors", "tiny.pt"])
def test_local_checkpoint_round_trip_gives_identical_towers(saved_clip, name):
    folder, state = saved_clip
    loaded = build_image_tower(_tiny_tower(pretrained=str(folder / name))).eval()
    assert torch.equal(loaded.visual.conv1.weight, state["visual.conv1.weight"])
    reference = create_clip(_tiny_tower())
    reference.load_state_dict(state)
    frames = torch.randn(3, 3, 32, 32)
    pooled_before_proj = F.layer_norm(  # CLS after ln_post, recomputed from open_clip's own visual module
        reference.visual.transformer(reference.visual._embeds(frames))[:, 0], (32,),
        reference.visual.ln_post.weight, reference.visual.ln_post.bias, reference.visual.ln_post.eps)
    assert torch.allclose(loaded(frames), pooled_before_proj, atol=1e-5)
    fresh = build_image_tower(_tiny_tower()).eval()
    assert not torch.allclose(fresh(frames), loaded(frames), atol=1e-3)


def test_text_tower_loads_from_the_same_checkpoint(saved_clip):
    folder, state = saved_clip
    cfg = replace(tiny(), tower=_tiny_tower(pretrained=str(folder / "tiny.safetensors")))
    model = build_model(cfg).eval()
    assert torch.equal(model.text_tower.text.token_embedding.weight, state["text.token_embedding.weight"])
    ids = build_tokenizer(cfg.tower)(["a person jumps"])
    feats = model.text_tower(ids)
    eos = int(ids[0].argmax())
    assert torch.equal(feats.pooled[0], feats.tokens[0, eos])  # pooled = EOS token after ln_final, unprojected
    assert feats.mask[0].tolist() == [True] * (eos + 1) + [False] * (16 - eos - 1)


def test_missing_checkpoint_file_is_named(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match="nope.safetensors does not exist"):
        build_image_tower(_tiny_tower(pretrained=str(path)))


@pytest.mark.parametrize("name", ["corrupt.safetensors", "corrupt.pt"])
def test_corrupt_checkpoint_is_named(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01 definitely not a checkpoint " * 10)
    with pytest.raises(CheckpointError, match=f"cannot read CLIP checkpoint .*{name}"):
        build_image_tower(_tiny_tower(pretrained=str(path)))


def test_pickled_module_is_refused_by_weights_only_loading(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(CheckpointError, match="module.pt"):
        build_image_tower(_tiny_tower(pretrained=str(path)))


@pytest.mark.parametrize(("text_cfg", "key"), [({"width": 48}, "text.positional_embedding"),
                                              ({"mlp_ratio": 2.0}, "text.transformer.resblocks.0.mlp.c_fc.weight")])
def test_wrong_shapes_are_named_with_the_keys(tmp_path, text_cfg, key):
    arch = copy.deepcopy(TINY_ARCH)
    arch["text_cfg"].update(text_cfg)
    save_file(create_clip(_tiny_tower(arch=arch)).state_dict(), str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match=rf"other.safetensors does not fit the architecture: .*{key}: \("):
        build_image_tower(_tiny_tower(pretrained=str(tmp_path / "other.safetensors")))


def test_missing_keys_are_named(tmp_path, saved_clip):
    _, state = saved_clip
    partial = {k: v for k, v in state.items() if not k.startswith("text.transformer")}
    save_file(partial, str(tmp_path / "partial.safetensors"))
    with pytest.raises(CheckpointError, match=r"partial.safetensors .*missing keys \['text.transformer"):
        build_image_tower(_tiny_tower(pretrained=str(tmp_path / "partial.safetensors")))


def test_custom_arch_rejects_a_download_tag():
    with pytest.raises(CheckpointError, match="local checkpoint files only"):
        create_clip(_tiny_tower(pretrained="openai"))


def test_frozen_towers_keep_eval_mode_and_get_no_gradients_while_projections_do():
    cfg = replace(tiny(), tower=_tiny_tower(freeze_image=True, freeze_text=True))
    model = build_model(cfg).train()
    assert not model.image_tower.training and not model.image_tower.visual.transformer.training
    assert model.fusion.training
    ids = build_tokenizer(cfg.tower)(["x", "y"])
    out = model(torch.randn(1, 4, 3, 32, 32), ids)
    out.concat()[0].sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in model.image_tower.parameters())
    assert all(p.grad is None and not p.requires_grad for p in model.text_tower.parameters())
    assert model.image_proj.weight.grad is not None and model.text_proj.weight.grad is not None
    model.image_tower.freeze(False)
    model.train()
    assert model.image_tower.training and all(p.requires_grad for p in model.image_tower.parameters())


def test_mean_frame_token_averages_patch_tokens():
    cls_tower = build_image_tower(_tiny_tower()).eval()
    mean_tower = build_image_tower(_tiny_tower(frame_token="mean")).eval()
    mean_tower.load_state_dict(cls_tower.state_dict())
    frames = torch.randn(2, 3, 32, 32)
    _, patches = cls_tower.visual(frames)
    assert torch.allclose(mean_tower(frames), patches.mean(1), atol=1e-6)
    assert mean_tower.out_dim == 32 and mean_tower.image_size == 32


def test_image_tower_normalizes_with_clip_statistics():
    tower = build_image_tower(_tiny_tower())
    assert tower.mean == pytest.approx(open_clip.OPENAI_DATASET_MEAN)
    frames = torch.rand(2, 3, 4, 4)
    expected = (frames[:, 1] - open_clip.OPENAI_DATASET_MEAN[1]) / open_clip.OPENAI_DATASET_STD[1]
    assert torch.allclose(tower.normalize(frames)[:, 1], expected)


def test_short_token_sequences_match_the_full_context():
    model = build_model(tiny()).eval()
    ids8 = build_tokenizer(replace(tiny().tower, context_length=8))(["someone is slicing an onion"])
    short = model.text_tower(ids8)
    full = model.text_tower(F.pad(ids8, (0, 8)))
    assert short.tokens.shape == (1, 8, 32)
    assert torch.allclose(short.tokens, full.tokens[:, :8], atol=1e-6)
    assert torch.allclose(short.pooled, full.pooled, atol=1e-6)


def test_real_unloc_b_architecture_runs_forward_and_backward():
    """Random-init UnLoc-B: open_clip ViT-B-16 towers, 6x512 fusion, 4-level ViTDet pyramid (about 10 s)."""
    base = unloc_b()
    cfg = replace(base, tower=TowerConfig(arch="ViT-B-16", pretrained=None, freeze_image=True, freeze_text=False))
    model = build_model(cfg).train()
    assert (model.image_tower.out_dim, model.text_tower.out_dim, model.image_tower.image_size) == (768, 512, 224)
    assert len(model.fusion.blocks) == 6 and model.strides == (1, 2, 4, 8)
    ids = build_tokenizer(cfg.tower)(["playing guitar", "walking the dog"])
    assert ids.shape == (2, 16)  # the 77-token text tower reads 16-token class names
    out = model(torch.randn(1, 3, 3, 224, 224), ids)
    assert [z.shape for z in out.logits] == [(1, 2, 3), (1, 2, 2), (1, 2, 1), (1, 2, 1)]
    logits, offsets, _ = out.concat()
    (logits.sum() + offsets.sum()).backward()
    assert all(p.grad is None for p in model.image_tower.parameters())
    assert model.text_tower.text.token_embedding.weight.grad is not None
    assert model.image_proj.weight.grad.abs().sum() > 0 and model.text_proj.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.fusion.parameters())
