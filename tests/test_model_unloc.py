"""The assembled UnLoc model on tiny configs: every variant's shapes, pairing, chunking, padding and input paths."""

from dataclasses import replace
from functools import lru_cache

import pytest
import torch

from unloc.model.build import build_model, build_tokenizer
from unloc.model.config import FusionConfig, HeadConfig, PyramidConfig, tiny
from unloc.model.towers import TextFeatures

T = 9  # frames: odd on purpose, levels are 9 / 5 / 3
TEXTS = ["a dog runs", "someone opens the door slowly", "cooking"]


def _variant(**parts):
    cfg = tiny()
    return replace(cfg, **{name: replace(getattr(cfg, name), **fields) for name, fields in parts.items()})


@lru_cache
def _token_ids():  # building open_clip's BPE tokenizer takes ~0.5 s: do it once
    return build_tokenizer(tiny().tower)(TEXTS)


def _inputs(cfg, b=2):
    video = torch.randn(b, T, 3, 32, 32)
    mask = torch.ones(b, T, dtype=torch.bool)
    mask[1, T - 2:] = False
    return video, _token_ids(), mask


def _check_shapes(out, b, q, lengths, regression=True):
    assert [z.shape for z in out.logits] == [(b, q, n) for n in lengths]
    assert [m.shape for m in out.masks] == [(b, n) for n in lengths]
    if regression:
        assert [o.shape for o in out.offsets] == [(b, q, n, 2) for n in lengths]
        assert all(bool((o >= 0).all()) for o in out.offsets)
    else:
        assert out.offsets is None
    assert len(out.strides) == len(lengths)


@pytest.mark.parametrize("pyramid", ["vitdet", "fpn"])
@pytest.mark.parametrize("text_input", ["one", "all"])
@pytest.mark.parametrize(("layers", "sharing"), [(1, True), (2, False), (3, True), (4, False)])
def test_mid_fusion_variants_shapes_and_masks(pyramid, text_input, layers, sharing):
    cfg = _variant(pyramid={"kind": pyramid}, fusion={"text_input": text_input},
                   head={"num_conv_layers": layers, "weight_sharing": sharing})
    model = build_model(cfg).eval()
    video, ids, mask = _inputs(cfg)
    out = model(video, ids, mask)
    _check_shapes(out, 2, len(TEXTS), [9, 5, 3])
    assert out.strides == model.strides == (1, 2, 4)
    assert out.masks[1][1].tolist() == [2 * i < T - 2 for i in range(5)]
    logits, offsets, masks = out.concat()
    assert logits.shape == (2, 3, 17) and offsets.shape == (2, 3, 17, 2) and masks.shape == (2, 17)


def test_no_pyramid_has_one_level_of_stride_one():
    cfg = _variant(pyramid={"kind": "none", "num_levels": 1})
    out = build_model(cfg).eval()(*_inputs(cfg)[:2])
    _check_shapes(out, 2, 3, [T])
    assert out.strides == (1,)


def test_segmentation_scores_frames_without_regression():
    cfg = _variant(pyramid={"kind": "none", "num_levels": 1},
                   head={"task": "segmentation", "num_conv_layers": 0, "cls_bias_init": -6.6})
    out = build_model(cfg).eval()(*_inputs(cfg)[:2])
    _check_shapes(out, 2, 3, [T], regression=False)


def test_no_text_variant_predicts_class_logits_from_frames_only():
    cfg = replace(tiny(), fusion=replace(tiny().fusion, mode="no_text", num_classes=7))
    model = build_model(cfg).eval()
    assert model.text_tower is None
    video, _, mask = _inputs(cfg)
    out = model(video, video_mask=mask)
    _check_shapes(out, 2, 7, [9, 5, 3])
    with pytest.raises(ValueError, match="takes no"):
        model(video, _token_ids())


def test_late_fusion_scores_by_cosine_with_the_text_embedding():
    cfg = _variant(fusion={"mode": "late"})
    model = build_model(cfg).eval()
    video, ids, mask = _inputs(cfg)
    out = model(video, ids, mask)
    _check_shapes(out, 2, 3, [9, 5, 3])
    scale = model.heads.similarity.log_scale.exp()
    bias = model.heads.similarity.bias
    assert bool(((out.logits[0] - bias).abs() <= scale + 1e-4).all())  # |cosine| <= 1
    # a text's logits depend on that text only: scoring it alone gives the same row
    alone = model(video, ids[1:2], mask)
    assert torch.allclose(alone.logits[0][:, 0], out.logits[0][:, 1], atol=1e-5)


def test_pair_outputs_match_fusing_each_pair_alone():
    cfg = tiny()
    model = build_model(cfg).eval()
    video, ids, mask = _inputs(cfg)
    out = model(video, ids, mask)
    single = model(video[1:2], ids[2:3], mask[1:2])
    for level in range(3):
        assert torch.allclose(out.logits[level][1, 2], single.logits[level][0, 0], atol=1e-5)
        assert torch.allclose(out.offsets[level][1, 2], single.offsets[level][0, 0], atol=1e-5)


@pytest.mark.parametrize("checkpoint_chunks", [False, True])
def test_chunked_pairing_equals_unchunked_outputs_and_gradients(checkpoint_chunks):
    cfg = replace(tiny(), pyramid=replace(tiny().pyramid, kind="fpn"))
    model = build_model(cfg).train()  # dropout 0: train mode is deterministic
    video, ids, mask = _inputs(cfg)

    def run(chunk_size, chunked_checkpoint):
        model.chunk_size, model.checkpoint_chunks = chunk_size, chunked_checkpoint
        model.zero_grad()
        out = model(video, ids, mask)
        logits, offsets, _ = out.concat()
        (logits.square().sum() + offsets.sum()).backward()
        return logits.detach(), offsets.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                                   if p.grad is not None}

    full = run(0, False)
    chunked = run(4, checkpoint_chunks)  # 6 pairs: chunks of 4 and 2
    assert torch.allclose(full[0], chunked[0], atol=1e-5) and torch.allclose(full[1], chunked[1], atol=1e-5)
    assert full[2].keys() == chunked[2].keys() and len(full[2]) > 0
    for name, grad in full[2].items():
        assert torch.allclose(grad, chunked[2][name], atol=1e-4), name


def test_content_of_padded_frames_and_padding_text_tokens_is_ignored():
    cfg = _variant(fusion={"text_input": "all"}, pyramid={"kind": "fpn"})
    model = build_model(cfg).eval()
    video, ids, mask = _inputs(cfg)
    feats = model.image_tower(video.flatten(0, 1)).unflatten(0, (2, T))  # cached-feature path
    text = model.text_tower(ids)
    out = model(feats, text, mask)
    feats2, tokens2 = feats.clone(), text.tokens.clone()
    feats2[1, T - 2:] = 50.0
    tokens2[~text.mask] = -20.0
    out2 = model(feats2, TextFeatures(tokens2, text.pooled, text.mask), mask)
    for a, b, m in zip(out.logits, out2.logits, out.masks):
        assert torch.allclose(a[:, :, m.all(0)], b[:, :, m.all(0)], atol=1e-5)  # positions valid in both videos
        assert torch.allclose(a[1][:, m[1]], b[1][:, m[1]], atol=1e-5)
    tokens3 = text.tokens.clone()
    tokens3[text.mask] += torch.randn_like(tokens3[text.mask])
    out3 = model(feats, TextFeatures(tokens3, text.pooled, text.mask), mask)
    assert not torch.allclose(out.logits[0], out3.logits[0], atol=1e-4)  # valid text tokens matter


def test_no_text_padded_video_equals_the_truncated_video():
    cfg = replace(tiny(), fusion=replace(tiny().fusion, mode="no_text", num_classes=4))
    model = build_model(cfg).eval()
    feats = torch.randn(1, 7, model.image_tower.out_dim)
    padded = torch.cat([feats, torch.randn(1, 3, feats.shape[2])], dim=1)
    short = model(feats)
    long = model(padded, video_mask=torch.arange(10).unsqueeze(0) < 7)
    for s, lg, m in zip(short.logits, long.logits, long.masks):
        assert torch.allclose(s, lg[..., : int(m.sum())], atol=1e-5)


def test_frames_cached_features_and_text_inputs_agree():
    cfg = tiny()
    model = build_model(cfg).eval()
    video, ids, mask = _inputs(cfg)
    out = model(video, ids, mask)
    feats = model.image_tower(video.flatten(0, 1)).unflatten(0, (2, T))
    assert torch.allclose(model.encode_frames(video), model.encode_frames(feats))
    text = model.text_tower(ids)
    for text_input in (text, text.pooled):
        again = model(feats, text_input, mask)
        assert torch.allclose(out.logits[2], again.logits[2], atol=1e-5)


def test_bad_inputs_raise_clear_errors():
    cfg = _variant(fusion={"text_input": "all"})
    model = build_model(cfg).eval()
    video, ids, mask = _inputs(cfg)
    with pytest.raises(ValueError, match="cannot use cached features"):
        model(video, torch.randn(3, model.text_tower.out_dim), mask)
    with pytest.raises(ValueError, match="needs a"):
        model(video)
    with pytest.raises(ValueError, match="video must be"):
        model(video[0], ids)
    with pytest.raises(ValueError, match="at most 16"):
        model.text_tower(torch.ones(2, 20, dtype=torch.long))


def test_fusion_config_widths_reach_the_modules():
    cfg = replace(tiny(), fusion=FusionConfig(layers=2, width=24, heads=3, mlp_dim=40),
                  pyramid=PyramidConfig(num_levels=2, fpn_layers=(0, 1)), head=HeadConfig(num_conv_layers=1))
    model = build_model(cfg)
    assert len(model.fusion.blocks) == 2 and model.fusion.blocks[0].mlp[0].out_features == 40
    assert model.image_proj.out_features == model.text_proj.out_features == 24
    assert model.image_proj.bias is None and model.text_proj.bias is None


def test_unpaired_text_tower_comes_from_its_own_config():
    arch = {**tiny().tower.arch, "text_cfg": {**tiny().tower.arch["text_cfg"], "width": 48, "heads": 4}}
    cfg = replace(tiny(), text_tower=replace(tiny().tower, arch=arch, freeze_text=True))
    model = build_model(cfg).eval()
    assert model.text_tower.out_dim == 48 and model.text_tower.frozen and not model.image_tower.frozen
    assert model.text_proj.in_features == 48
    assert model(*_inputs(cfg)).logits[0].shape == (2, 3, T)
