"""`unloc train --paper NAME --dry-run`: a resolved paper configuration laid out for review against the official file.

`dry_run_text(cfg, name)` prints, for the official Scenic config that `name` ports, one row per official setting:
the official key (relative to the config's `config.`), the value this port resolves it to, and the field that holds
it here; then what follows from them (pyramid level lengths, steps of the schedule per epoch) and the complete
resolved configuration as YAML. Nothing is built or read; the text is a pure function of the config.
"""

from __future__ import annotations

import math
import re
from typing import Any

from unloc.config.schema import ExperimentConfig

OFFICIAL_ROOT = "scenic/projects/unloc/configs/"
OFFICIAL_FILES = {
    "anet_tal_b": "activitynet/activitynet_tal_linspace_unloc_base_fpn.py",
    "anet_tal_l": "activitynet/activitynet_tal_linspace_unloc_large_fpn.py",
    "anet_captions_b": "activitynet_captions/activitynet_cap_linspace_unloc_base_fpn.py",
    "anet_captions_l": "activitynet_captions/activitynet_cap_linspace_unloc_large_fpn.py",
    "charades_b": "charades_sta/charades_sta_linspace_unloc_base_fpn.py",
    "qvh_b": "qvhighlights/qvhighlights_linspace_unloc_base_fpn_hd.py",
    "qvh_l": "qvhighlights/qvhighlights_linspace_unloc_large_fpn_hd.py",
    "coin_l": "coin/coin_action_seg_unloc_ft_image_clip_large.py",
}
_VARIANTS = {"ViT-B-16": "B/16x1", "ViT-L-14": "L/14x1"}
_TOKENS = {"frame_cls": "token (a learnable CLS per frame)", "gap": "gap (patch mean, no CLS)",
           "cls": "token, one shared CLIP CLS (not official)", "mean": "patch mean with CLS (not official)"}
_ENCODERS = {"vitdet": "simple_pyramid", "fpn": "fpn", "none": "transformer"}
_ABBREVIATIONS = {  # prefixes of the official keys, shortened in the table
    "SA": "model.video_text_fusion_config.config.self_attention_encoder_config",
    "AUG": "dataset_configs.modality_configs.rgb.augmentation_params",
    "HEAD": "model.head_config.<task>.config",
    "FP": "dataset_configs.feature_pyramid_config",
    "IMG": "model.video_tower_config.encoder_config.image_encoder_config",
}
_RA, _SA, head = "AUG.", "SA.", "HEAD."


def official_file(name: str | None) -> str:
    """The official config file a paper config ports, or why there is none."""
    if name is None:
        return "(not a paper config)"
    if name.startswith("kinetics700"):
        return "none: the Kinetics pretraining is not in the official release (paper §3.4)"
    base = re.sub(r"_zs(75|50)_", "_", re.sub(r"_split[0-9]+$", "", name))  # anet_tal_zs75_b_split3 -> anet_tal_b
    if base not in OFFICIAL_FILES:
        return "none"
    suffix = "" if base == name else " + a zero-shot class split (not in the official release)"
    return OFFICIAL_ROOT + OFFICIAL_FILES[base] + suffix


def _rows(cfg: ExperimentConfig) -> list[tuple[str, Any, str]]:
    m, t, d, tr = cfg.model, cfg.task, cfg.data, cfg.train
    segmentation = m.head.task == "segmentation"
    fixed_text = m.text_projection == "clip" and m.tower.freeze_text
    ranges = ", ".join(f"({lo:g}, {'inf' if hi is None else f'{hi:g}'})" for lo, hi in t.regression_ranges)
    rows = [
        ("MODEL_VARIANT", _VARIANTS.get(str(m.tower.arch), m.tower.arch), "model.tower.arch"),
        ("IMG.classifier", _TOKENS[m.tower.frame_token], "model.tower.frame_token"),
        ("(per-frame class_embedding rows)", m.tower.frame_positions or "-", "model.tower.frame_positions"),
        ("model.video_tower_config.freeze", m.tower.freeze_image, "model.tower.freeze_image"),
        ("model.text_tower_config", "pass_through_encoder (fixed class embeddings)" if fixed_text
         else f"clip_text_encoder, freeze={m.tower.freeze_text}", "model.tower.freeze_text, model.text_projection"),
        ("model.video_tower_config.projection_size", m.fusion.width, "model.fusion.width"),
        (_SA + "num_layers", m.fusion.layers, "model.fusion.layers"),
        (_SA + "num_heads", m.fusion.heads, "model.fusion.heads"),
        (_SA + "mlp_dim", m.fusion.mlp_dim, "model.fusion.mlp_dim"),
        (_SA + "dropout_rate / attention_dropout_rate / stoch. depth",
         f"{m.fusion.dropout} / {m.fusion.attention_dropout} / {m.fusion.drop_path}", "model.fusion.*"),
        ("model.video_text_fusion_config.config.self_attention_encoder_name", _ENCODERS[m.pyramid.kind],
         "model.pyramid.kind"),
        ("FP.feature_pyramid_levels", list(m.pyramid.fpn_layers) if m.pyramid.kind == "fpn" else
         f"{m.pyramid.num_levels} levels", "model.pyramid.num_levels / fpn_layers"),
        ("FP.feature_pyramid_downsample_stride", m.pyramid.stride, "model.pyramid.stride"),
        ("(strided conv padding)", m.pyramid.padding, "model.pyramid.padding"),
        ("dataset_configs.num_frames", d.sampling.window if d.sampling.fps > 0 else d.sampling.num_frames,
         "data.sampling.window" if d.sampling.fps > 0 else "data.sampling.num_frames"),
        ("dataset_configs.sampling_strategy", f"{d.sampling.fps} fps windows" if d.sampling.fps > 0 else "linspace",
         "data.sampling.fps"),
        ("dataset_configs.max_num_segments", d.max_segments, "data.max_segments"),
        ("dataset_configs.radius", t.radius, "task.radius"),
        ("FP.regression_ranges", ranges, "task.regression_ranges"),
        ("dataset_configs.tokenizer_config.max_num_tokens", m.tower.context_length, "model.tower.context_length"),
        ("dataset_configs.modality_configs.rgb.min_resize / crop_size", f"{d.image.short_side} / {d.image.crop_size}",
         "data.image.short_side / crop_size"),
        (_RA + "scale_min_factor / scale_max_factor", " / ".join(map(str, d.image.scale_jitter or ())) or "off", "data.image.scale_jitter"),
        (_RA + "rand_augment_num_layers / magnitude", " / ".join(map(str, d.image.rand_augment or ())) or "off", "data.image.rand_augment"),
    ]
    if segmentation:
        rows.append(("model.head_config.action_segmentation.config.init_head_bias", m.head.cls_bias_init,
                     "model.head.cls_bias_init"))
    else:
        rows += [(head + "num_conv_layers", m.head.num_conv_layers, "model.head.num_conv_layers"),
                 (head + "weight_sharing", m.head.weight_sharing, "model.head.weight_sharing"),
                 (head + "init_classification_head_bias", m.head.cls_bias_init, "model.head.cls_bias_init"),
                 (head + "init_regression_head_bias", m.head.reg_bias_init, "model.head.reg_bias_init")]
    multipliers = ", ".join(f"{k} {tr.base_lr * v:g}" for k, v in tr.lr_multipliers.items())
    rows += [
        ("optimizer_configs.optimizer / momentum / weight_decay", f"{tr.optimizer} / {tr.momentum} / {tr.weight_decay}",
         "train.optimizer / momentum / weight_decay"),
        ("max_grad_norm", tr.clip_grad_norm, "train.clip_grad_norm"),
        ("batch_size", tr.global_batch_size, "train.global_batch_size"),
        ("num_training_epochs", tr.epochs, "train.epochs"),
        ("rng_seed", cfg.seed, "seed"),
        ("lr_configs.base_learning_rate", tr.base_lr, "train.base_lr"),
        ("layer_prefix_to_base_lrs", multipliers or "none", "train.lr_multipliers (x base_lr)"),
        ("lr_configs.factors", {"step": "piecewise_constant", "cosine": "cosine_decay",
                                "constant": "constant"}[tr.schedule] + " * linear_warmup", "train.schedule"),
        ("lr_configs.warmup_steps", f"{tr.warmup_epochs} epochs", "train.warmup_epochs"),
        ("lr_configs.decay_events", f"epochs {list(tr.step_epochs)} x {tr.step_gamma}" if tr.step_epochs else "-",
         "train.step_epochs / step_gamma"),
        ("data_dtype_str", {"fp32": "float32", "bf16": "bfloat16 autocast"}[tr.precision], "train.precision"),
    ]
    if not segmentation:
        rows += [
            ("classification_loss_alpha", t.cls_weight, "task.cls_weight"),
            ("focal_loss_alpha / focal_loss_gamma", f"{t.focal_alpha} / {t.focal_gamma}", "task.focal_*"),
            ("box_loss_type", t.box_loss, "task.box_loss"),
            ("score_threshold / soft_nms_sigma / max_detections",
             f"{t.nms.score_threshold} / {t.nms.sigma} / {t.nms.top_k}", "task.nms.*"),
            ("multiclass_nms", t.nms.per_class, "task.nms.per_class"),
        ]
    if t.kind == "mr":
        rows.append(("model_name", "highlight detection (own pairs)" if t.mr_pairs == "own"
                     else "moment retrieval (all_gather_loss)", "task.mr_pairs"))
    rows += [("dataset_configs.num_prompts (test)", t.prompt_mode, "task.prompt_mode"),
             ("init_from.checkpoint_path", cfg.init.checkpoint or "none (the towers' own weights)",
              "init.checkpoint"),
             ("(not loaded from it)", list(cfg.init.ignore) or "-", "init.ignore")]
    return rows


def _levels(cfg: ExperimentConfig) -> str:
    t = cfg.data.sampling.window if cfg.data.sampling.fps > 0 else cfg.data.sampling.num_frames
    sizes = [math.ceil(t / cfg.model.pyramid.stride**level) for level in range(cfg.model.pyramid.num_levels)]
    return f"pyramid levels: {'/'.join(map(str, sizes))} positions (T_tot {sum(sizes)})"


def dry_run_text(cfg: ExperimentConfig, name: str | None = None) -> str:
    """The review text of a resolved config (see the module docstring); `name` picks the official file."""
    rows = [(key, str(value), field) for key, value, field in _rows(cfg)]
    width = max(len(key) for key, _, _ in rows)
    value_width = min(max(len(value) for _, value, _ in rows), 40)
    lines: list[str] = [f"# {cfg.name}: resolved configuration (unloc/resources/paper.yaml)",
             f"# official: {official_file(name)}",
             *(f"# {short} = {full}" for short, full in _ABBREVIATIONS.items()),
             f"# {'official key'.ljust(width)}  {'value'.ljust(value_width)}  field here"]
    lines += [f"{key.ljust(width)}  {value.ljust(value_width)}  {field}" for key, value, field in rows]
    lines += ["", f"# {_levels(cfg)}", "", "# the complete resolved configuration:", cfg.to_yaml()]
    return "\n".join(lines)


__all__ = ["OFFICIAL_FILES", "dry_run_text", "official_file"]
