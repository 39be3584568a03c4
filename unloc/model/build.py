"""Build UnLoc from a `ModelConfig`: the one place where configuration fields become constructor arguments.

`build_model` wires towers (open_clip), projections, fusion, pyramid and heads (paper §3). `build_image_tower`
is the frame encoder alone, used by the feature cache (`unloc extract-features`): features it writes are exactly
what `UnLoc.forward` accepts in place of frames. `build_tokenizer` turns texts into the token ids the text tower reads.
"""

from __future__ import annotations

import logging

from open_clip.modified_resnet import ModifiedResNet
from torch import nn

from unloc.model.clip_loader import build_tokenizer, create_clip
from unloc.model.config import ModelConfig, PyramidConfig, TowerConfig
from unloc.model.fusion import FusionEncoder
from unloc.model.heads import LocalizationHead
from unloc.model.pyramid import FeaturePyramid, NoPyramid, SimplePyramid
from unloc.model.towers import ImageTower, TextTower, preprocess_stats
from unloc.model.unloc import UnLoc

__all__ = ["build_image_tower", "build_model", "build_pyramid", "build_tokenizer"]

log = logging.getLogger(__name__)


def _image_tower(clip_model: nn.Module, cfg: TowerConfig) -> ImageTower:
    mean, std = preprocess_stats(clip_model)
    return ImageTower(clip_model.visual, frame_token=cfg.frame_token, frozen=cfg.freeze_image, mean=mean, std=std,
                      frame_positions=cfg.frame_positions)


def build_image_tower(tower_cfg: TowerConfig) -> ImageTower:
    """The per-frame image encoder: frames (b*t, 3, h, w) -> (b*t, d_img), with `image_size`, `mean`, `std`,
    `out_dim` attributes; frozen (eval mode, no gradients) when `tower_cfg.freeze_image`."""
    return _image_tower(create_clip(tower_cfg), tower_cfg)


def build_pyramid(cfg: PyramidConfig, dim: int) -> nn.Module:
    """The pyramid `cfg.kind` names, over features of width `dim`."""
    if cfg.kind == "none":
        return NoPyramid(dim)
    if cfg.kind == "vitdet":
        return SimplePyramid(dim, num_levels=cfg.num_levels, stride=cfg.stride, padding=cfg.padding)
    return FeaturePyramid(dim, num_levels=cfg.num_levels, stride=cfg.stride, fpn_layers=tuple(cfg.fpn_layers))


def build_model(cfg: ModelConfig) -> UnLoc:
    """UnLoc with the towers, weights and sizes of `cfg` (random init for everything but the CLIP weights)."""
    if cfg.fusion.mode == "no_text" and cfg.fusion.num_classes < 1:
        raise ValueError("fusion mode 'no_text' needs fusion.num_classes >= 1 (the experiment runner sets it from "
                         "the training classes)")
    clip_model = create_clip(cfg.tower)
    clip_model.set_grad_checkpointing(cfg.checkpoint_towers)  # open_clip: both towers' transformer blocks
    if cfg.checkpoint_towers and not cfg.tower.freeze_image and isinstance(clip_model.visual, ModifiedResNet):
        log.warning("checkpoint_towers: open_clip's ResNet image tower has no transformer blocks to recompute; "
                    "only the text tower is checkpointed")
    image_tower = _image_tower(clip_model, cfg.tower)
    fusion_cfg, width = cfg.fusion, cfg.fusion.width
    text_tower = text_proj = None
    if fusion_cfg.mode != "no_text":
        text_cfg = cfg.text_tower or cfg.tower
        text_model = clip_model.text
        if cfg.text_tower:
            text_model = create_clip(cfg.text_tower).text
            text_model.set_grad_checkpointing(cfg.checkpoint_towers)
        clip_proj = cfg.text_projection == "clip"
        text_tower = TextTower(text_model, frozen=text_cfg.freeze_text, project=clip_proj)
        if clip_proj and text_tower.out_dim != width:
            raise ValueError(f"text_projection 'clip': CLIP's text embeddings have {text_tower.out_dim} dims, the "
                             f"fusion {width}; use text_projection 'learned'")
        text_proj = nn.Identity() if clip_proj else nn.Linear(text_tower.out_dim, width, bias=False)
    relevancy_dim = {"mid": 1, "late": width, "no_text": fusion_cfg.num_classes}[fusion_cfg.mode]
    segmentation = cfg.head.task == "segmentation"
    return UnLoc(
        image_tower=image_tower,
        text_tower=text_tower,
        image_proj=nn.Linear(image_tower.out_dim, width, bias=False),
        text_proj=text_proj,
        fusion=FusionEncoder(
            width=width, layers=fusion_cfg.layers, heads=fusion_cfg.heads, mlp_dim=fusion_cfg.mlp_dim,
            dropout=fusion_cfg.dropout, attention_dropout=fusion_cfg.attention_dropout, drop_path=fusion_cfg.drop_path,
        ),
        pyramid=build_pyramid(cfg.pyramid, width),
        heads=LocalizationHead(
            dim=width, num_levels=cfg.pyramid.num_levels, num_conv_layers=cfg.head.num_conv_layers,
            weight_sharing=cfg.head.weight_sharing, relevancy_dim=relevancy_dim, cls_bias_init=cfg.head.cls_bias_init,
            reg_bias_init=cfg.head.reg_bias_init, regression=not segmentation, late_fusion=fusion_cfg.mode == "late",
        ),
        mode=fusion_cfg.mode,
        text_input=fusion_cfg.text_input,
        chunk_size=cfg.chunk_size,
        checkpoint_chunks=cfg.checkpoint_chunks,
    )
