"""Model config: presets carry the official numbers, bad combinations fail with a message naming the field."""

from dataclasses import FrozenInstanceError, replace

import pytest

from unloc.model.config import (
    FusionConfig,
    HeadConfig,
    ModelConfig,
    PyramidConfig,
    TowerConfig,
    tiny,
    unloc_b,
    unloc_l,
)


def test_unloc_b_is_the_official_tal_b_config():
    cfg = unloc_b()
    assert (cfg.tower.arch, cfg.tower.pretrained, cfg.tower.frame_token) == ("ViT-B-16", "openai", "cls")
    assert (cfg.tower.freeze_image, cfg.tower.freeze_text, cfg.tower.context_length) == (False, True, 16)
    f = cfg.fusion
    assert (f.layers, f.width, f.heads, f.mlp_dim, f.text_input, f.mode) == (6, 512, 8, 2048, "one", "mid")
    assert (f.dropout, f.attention_dropout, f.drop_path) == (0.0, 0.0, 0.0)
    assert (cfg.pyramid.kind, cfg.pyramid.num_levels, cfg.pyramid.stride) == ("vitdet", 4, 2)
    h = cfg.head
    assert (h.num_conv_layers, h.weight_sharing, h.cls_bias_init, h.reg_bias_init) == (4, True, -5.0, 2.0)


def test_unloc_l_uses_large_sizes_and_gap_frames():
    cfg = unloc_l()
    assert (cfg.tower.arch, cfg.tower.frame_token) == ("ViT-L-14", "mean")
    assert (cfg.fusion.width, cfg.fusion.heads, cfg.fusion.mlp_dim, cfg.pyramid.num_levels) == (768, 12, 3072, 5)


def test_tiny_is_a_custom_random_init_arch_and_fpn_is_one_field_away():
    cfg = tiny()
    assert isinstance(cfg.tower.arch, dict) and cfg.tower.pretrained is None
    replace(cfg, pyramid=replace(cfg.pyramid, kind="fpn"))  # valid as is


def test_arch_must_be_a_name_or_a_dict():
    with pytest.raises(TypeError, match="arch"):
        TowerConfig(arch=3)


def test_configs_are_frozen():
    with pytest.raises(FrozenInstanceError):
        unloc_b().fusion.layers = 3


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TowerConfig(frame_token="avg"), "frame_token"),
        (lambda: PyramidConfig(padding="valid"), "padding"),
        (lambda: FusionConfig(text_input="some"), "text_input"),
        (lambda: FusionConfig(mode="early"), "mode"),
        (lambda: FusionConfig(mode="no_text", num_classes=-1), "num_classes"),
        (lambda: FusionConfig(num_classes=5), "num_classes"),
        (lambda: FusionConfig(mode="late", text_input="all"), "late fusion"),
        (lambda: FusionConfig(width=30, heads=8), "divisible"),
        (lambda: PyramidConfig(kind="pyramid"), "kind"),
        (lambda: PyramidConfig(kind="none"), "num_levels=1"),
        (lambda: PyramidConfig(stride=1), "stride"),
        (lambda: PyramidConfig(kind="fpn", fpn_layers=(2, 3, 5)), "fpn_layers"),
        (lambda: PyramidConfig(kind="fpn", fpn_layers=(2, 2, 4, 5)), "fpn_layers"),
        (lambda: HeadConfig(num_conv_layers=5), "num_conv_layers"),
        (lambda: HeadConfig(task="detection"), "task"),
        (lambda: ModelConfig(chunk_size=-1), "chunk_size"),
        (lambda: ModelConfig(pyramid=PyramidConfig(kind="fpn", fpn_layers=(1, 2, 3, 4))), "last fusion layer"),
        (lambda: ModelConfig(head=HeadConfig(task="segmentation")), "segmentation"),
    ],
)
def test_invalid_configs_raise_naming_the_problem(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_text_free_model_needs_its_class_count_before_building():
    import dataclasses

    from unloc.model.build import build_model
    from unloc.model.config import tiny

    cfg = tiny()
    cfg = dataclasses.replace(cfg, fusion=dataclasses.replace(cfg.fusion, mode="no_text"))
    with pytest.raises(ValueError, match="num_classes >= 1"):
        build_model(cfg)
