"""Paper-scale configurations: strict loading, the official numbers, and one real training step of each architecture.

The reference rows below are typed from reference/unloc-official.md (§1.7 architecture, §2.2 regression ranges, §4
training). Each official config builds its real model (ViT-B-16 / ViT-L-14 towers with random weights, real fusion,
pyramid and heads) and takes one SGD step of its real task on cached-feature inputs at its real frame count.
"""

import copy
import dataclasses
import json
import math
import warnings
from typing import NamedTuple

import pytest
import torch
from tasks_common import make_batch, one_thread, video_fields  # noqa: F401  (one_thread: autouse)

import unloc.model.build as build_module
from unloc.config.paper import PAPER_CONFIGS, load_paper_config, nest_dotted, zero_shot_split
from unloc.config.strict import ConfigError
from unloc.data.collate import TaskBatch
from unloc.model.build import build_model, build_tokenizer
from unloc.model.config import tiny
from unloc.tasks import build_task
from unloc.train.optim import LrSchedule, apply_lr, build_optimizer, clip_gradients


class Row(NamedTuple):
    arch: str
    token: str
    frames: int  # linspace frames, or the window length of COIN
    width: int
    heads: int
    mlp: int
    pyramid: str
    levels: int
    head_layers: int
    sharing: bool
    cls_bias: float
    reg_bias: float
    freeze_image: bool
    freeze_text: bool
    context: int
    epochs: int
    warmup: float
    schedule: str
    drops: tuple
    fusion_lr: float


REFERENCE = {
    "anet_tal_b": Row("ViT-B-16", "frame_cls", 128, 512, 8, 2048, "vitdet", 4, 4, True, -5.0, 2.0, False, True, 16,
                      20, 2.5, "step", (18.0,), 10.0),
    "anet_tal_l": Row("ViT-L-14", "gap", 160, 768, 12, 3072, "vitdet", 5, 4, True, -5.0, 2.0, False, True, 16,
                      30, 5.0, "step", (35.0,), 1.0),
    "anet_captions_b": Row("ViT-B-16", "frame_cls", 128, 512, 8, 2048, "vitdet", 4, 3, False, 0.0, 2.0, True, False,
                           32, 20, 2.5, "step", (25.0,), 10.0),
    "anet_captions_l": Row("ViT-L-14", "gap", 128, 768, 12, 3072, "fpn", 4, 4, True, 0.0, 2.0, False, True, 16,
                           40, 5.0, "step", (35.0,), 10.0),
    "charades_b": Row("ViT-B-16", "frame_cls", 128, 512, 8, 2048, "fpn", 4, 3, False, 0.0, 0.0, False, True, 16,
                      30, 5.0, "constant", (), 10.0),
    "qvh_b": Row("ViT-B-16", "frame_cls", 144, 512, 8, 2048, "vitdet", 4, 3, True, 0.0, 2.0, False, False, 32,
                 30, 2.5, "cosine", (), 10.0),
    "qvh_l": Row("ViT-L-14", "frame_cls", 144, 768, 12, 3072, "vitdet", 4, 3, True, 0.0, 2.0, True, False, 32,
                 30, 2.5, "cosine", (), 10.0),
    "coin_l": Row("ViT-L-14", "gap", 512, 768, 12, 3072, "none", 1, 0, True, -6.6, 2.0, False, True, 16,
                  55, 3.7879, "step", (50.0,), 10.0),
}
ANET_RANGES = ((0.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, None))
RANGES = {
    "anet_tal_b": ANET_RANGES, "anet_captions_b": ANET_RANGES, "anet_captions_l": ANET_RANGES,
    "charades_b": ANET_RANGES, "anet_tal_l": ((0.0, 4.0), (4.0, 8.0), (8.0, 16.0), (16.0, 32.0), (32.0, None)),
    "qvh_b": ((0.0, 6.0), (6.0, 18.0), (18.0, 32.0), (32.0, None)),
    "qvh_l": ((0.0, 6.0), (6.0, 12.0), (12.0, 24.0), (24.0, None)), "coin_l": ((0.0, None),),
}
ZERO_SHOT = {"anet_tal_zs75_b": ("anet_tal_b", "zs75"), "anet_tal_zs50_b": ("anet_tal_b", "zs50"),
             "anet_tal_zs75_l": ("anet_tal_l", "zs75"), "anet_tal_zs50_l": ("anet_tal_l", "zs50")}
SPLIT_RUNS = {f"{name}_split{k}" for name in ZERO_SHOT for k in range(1, 10)}  # the same configs on splits 1..9
PRETRAINING = {"kinetics700_b", "kinetics700_l"}  # tests/test_paper_kinetics.py


def test_the_file_names_every_official_config_and_the_zero_shot_variants():
    assert set(PAPER_CONFIGS) == set(REFERENCE) | set(ZERO_SHOT) | SPLIT_RUNS | PRETRAINING


@pytest.mark.parametrize("name", [n for n in PAPER_CONFIGS if n not in SPLIT_RUNS])
def test_every_config_loads_strictly_with_the_shared_official_recipe(name):
    cfg = load_paper_config(name)
    assert cfg.name == name and cfg.seed == 0
    assert cfg.model.tower.pretrained == "openai" and cfg.model.fusion.layers == 6
    assert cfg.model.pyramid.padding == "same"  # the official Flax alignment of the strided pyramid convs
    t = cfg.train
    assert (t.global_batch_size, t.base_lr, t.optimizer, t.momentum, t.weight_decay, t.clip_grad_norm, t.precision,
            t.step_gamma) == (64, 0.01, "sgd", 0.9, 0.0, 1.0, "fp32", 0.1)
    task = cfg.task
    assert (task.radius, task.cls_weight, task.box_loss, task.focal_alpha, task.focal_gamma) == (3.0, 10.0, "iou",
                                                                                              0.25, 2.0)
    nms = task.nms
    assert (nms.method, nms.sigma, nms.score_threshold, nms.top_k, nms.per_class) == ("gaussian", 0.3, 0.001, 100,
                                                                                      False)
    assert len(task.regression_ranges) == cfg.model.pyramid.num_levels
    assert cfg.data.train.annotations.startswith("data/paper/") and cfg.data.video_root.startswith("data/paper/")


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_numbers_match_the_reference_tables(name):
    cfg, row = load_paper_config(name), REFERENCE[name]
    m = cfg.model
    frames = cfg.data.sampling.window if cfg.data.sampling.fps > 0 else cfg.data.sampling.num_frames
    got = Row(m.tower.arch, m.tower.frame_token, frames, m.fusion.width, m.fusion.heads, m.fusion.mlp_dim,
              m.pyramid.kind, m.pyramid.num_levels, m.head.num_conv_layers, m.head.weight_sharing,
              m.head.cls_bias_init, m.head.reg_bias_init, m.tower.freeze_image, m.tower.freeze_text,
              m.tower.context_length, cfg.train.epochs, cfg.train.warmup_epochs, cfg.train.schedule,
              cfg.train.step_epochs, cfg.train.lr_multipliers["fusion"])
    assert got == row
    assert cfg.task.regression_ranges == RANGES[name]
    assert cfg.train.lr_multipliers["heads"] == cfg.train.lr_multipliers["pyramid"] == row.fusion_lr
    if m.pyramid.kind == "fpn":
        assert m.pyramid.fpn_layers == (2, 3, 4, 5)
    jitter = (0.9, 1.33) if cfg.task.kind in ("tal", "seg") else None  # "RA+jitter" configs
    assert cfg.data.image.scale_jitter == jitter and cfg.data.image.crop_size == 224
    assert m.text_projection == ("clip" if name in ("anet_tal_l", "coin_l") else "learned")  # fixed class embeddings
    assert cfg.data.max_segments == {"tal": 24, "seg": 28}.get(cfg.task.kind, 12 if name.startswith("qvh") else 24)


def test_dataset_specific_details():
    for name in PAPER_CONFIGS:  # QVHighlights: official highlight detection; other MR: in-batch negatives
        assert load_paper_config(name).task.mr_pairs == ("own" if name.startswith("qvh") else "batch")
    assert load_paper_config("anet_captions_b").data.mr_items == "video"  # one random caption per video
    assert load_paper_config("charades_b").data.mr_items == "query"  # 12408 examples = queries
    coin = load_paper_config("coin_l")
    assert (coin.model.head.task, coin.data.sampling.fps) == ("segmentation", 2.0)
    assert coin.model.checkpoint_towers and load_paper_config("anet_tal_l").model.checkpoint_towers
    assert load_paper_config("anet_tal_b").data.eval.split == "validation"


def test_schedules_in_steps_match_the_official_step_counts():
    coin = LrSchedule.from_config(load_paper_config("coin_l").train, steps_per_epoch=8461 // 64)
    assert (coin.warmup_steps, coin.drop_steps) == (500, (6600,))
    tal = LrSchedule.from_config(load_paper_config("anet_tal_b").train, steps_per_epoch=9941 // 64)
    assert (tal.warmup_steps, tal.drop_steps, tal.total_steps) == (387, (2790,), 3100)
    tal_l = LrSchedule.from_config(load_paper_config("anet_tal_l").train, steps_per_epoch=155)
    assert tal_l.factor(tal_l.total_steps - 1) == 1.0  # the drop at epoch 35 of 30 never happens


@pytest.mark.parametrize("name", sorted(ZERO_SHOT))
def test_zero_shot_variants_are_their_base_plus_a_class_split(name):
    base, split = ZERO_SHOT[name]
    cfg, ref = load_paper_config(name), load_paper_config(base)
    assert cfg.data.class_split == str(zero_shot_split(split, 0))  # the packaged canonical split 0
    assert cfg.model == ref.model and cfg.train == ref.train and cfg.task == ref.task


def test_paper_root_moves_every_data_path_and_overrides_nest():
    cfg = load_paper_config("anet_tal_zs75_b", paper_root="/datasets/u", **{"train.world_size": 8},
                            model={"tower": {"pretrained": None}})
    assert cfg.data.train.annotations == "/datasets/u/activitynet13/activity_net.v1-3.min.json"
    assert cfg.data.video_root == "/datasets/u/activitynet13/videos"
    assert cfg.data.class_split == str(zero_shot_split("zs75", 0))  # packaged, not under the data root
    assert cfg.train.world_size == 8 and cfg.model.tower.pretrained is None and cfg.model.tower.arch == "ViT-B-16"


def test_nest_dotted_and_errors():
    assert nest_dotted({"train.epochs": 3, "train.base_lr": 0.1, "seed": 1}) == {
        "train": {"epochs": 3, "base_lr": 0.1}, "seed": 1}
    with pytest.raises(ConfigError, match="empty component"):
        nest_dotted({"train..epochs": 1})
    with pytest.raises(ConfigError, match=r"paper:qvh_b\.train\.epoch'.*'epochs'"):
        load_paper_config("qvh_b", **{"train.epoch": 3})
    with pytest.raises(ConfigError, match="no paper config 'qvh'.*qvh_b"):
        load_paper_config("qvh")


# --- one training step of every official architecture --------------------------------------------------------------

@pytest.fixture(scope="module")
def cached_clip():
    """Random-init open_clip models are built once per architecture and deep-copied (their init is the slow part)."""
    cache = {}
    real = build_module.create_clip

    def create(tower_cfg):
        assert tower_cfg.pretrained is None
        key = json.dumps(tower_cfg.arch, sort_keys=True)
        if key not in cache:
            cache[key] = real(tower_cfg)
        return copy.deepcopy(cache[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build_module, "create_clip", create)
        yield
    cache.clear()


def _batch(model, tokenizer, kind: str, t: int) -> TaskBatch:
    """Cached image-tower features (b, t, d_img): one video with two segments (class tasks) or two videos with a
    caption each (moment retrieval, so that each caption is the other video's negative)."""
    if kind != "mr":  # class tasks: labels index the task's class list
        return make_batch(torch.randn(1, t, model.image_tower.out_dim), [[(1.0, 3.0, 0), (4.0, 7.0, 2)]], [0.5])
    features = torch.randn(2, t, model.image_tower.out_dim)
    windows = torch.tensor([[[1.0, 3.0]], [[2.0, 7.0]]], dtype=torch.float64)
    return TaskBatch(**video_fields(features, [0.5, 0.5]), segments=torch.zeros(2, 0, 2),
                     labels=torch.zeros(2, 0, dtype=torch.long), text=tokenizer(["a person opens a door", "runs"]),
                     text_video_idx=torch.arange(2), query_ids=[0, 1], windows_sec=windows,
                     windows_mask=torch.ones(2, 1, dtype=torch.bool))


def _one_step(name: str, frames: int | None):
    """Build config `name` with random towers and take one SGD step at peak LR on `frames` feature frames
    (None = the config's own count). Returns the config, model, optimizer, step outputs, gradient norm and the
    fusion weights before the update."""
    cfg = load_paper_config(name, model={"tower": {"pretrained": None}})
    model = build_model(cfg.model)
    tokenizer = build_tokenizer(cfg.model.tower)
    task = build_task(cfg.task, class_names=["open door", "run", "jump rope"], tokenizer=tokenizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an lr_multipliers prefix that matches no parameter fails here
        optimizer = build_optimizer(model, cfg.train)
    schedule = LrSchedule.from_config(cfg.train, steps_per_epoch=10)
    apply_lr(optimizer, schedule, schedule.warmup_steps)  # the peak LR
    model.train()
    t = frames or (cfg.data.sampling.window if cfg.data.sampling.fps > 0 else cfg.data.sampling.num_frames)
    out = task.step(model, _batch(model, tokenizer, cfg.task.kind, t))
    out["loss"].backward()
    norm = clip_gradients([p for p in model.parameters() if p.requires_grad], cfg.train.clip_grad_norm)
    before = {k: v.clone() for k, v in model.fusion.state_dict().items()}
    optimizer.step()
    return cfg, model, optimizer, out, norm, before


def _check_step(name: str, frames: int | None) -> None:
    cfg, model, optimizer, out, norm, fusion_before = _one_step(name, frames)
    row = REFERENCE[name]
    assert math.isfinite(float(out["loss"].detach())) and math.isfinite(float(norm)) and float(norm) > 0
    assert model.image_tower.out_dim == {"ViT-B-16": 768, "ViT-L-14": 1024}[row.arch]
    assert model.text_tower.out_dim == {"ViT-B-16": 512, "ViT-L-14": 768}[row.arch]
    assert isinstance(model.text_proj, torch.nn.Identity) == (cfg.model.text_projection == "clip")
    assert model.pyramid.num_levels == row.levels and model.image_proj.out_features == row.width
    assert model.image_tower.visual.transformer.grad_checkpointing == cfg.model.checkpoint_towers
    unused = {id(model.image_tower.visual.class_embedding)}  # CLIP's shared CLS: the official tokens never read it
    for tower, frozen in ((model.image_tower, row.freeze_image), (model.text_tower, row.freeze_text)):
        assert all(p.requires_grad != frozen for p in tower.parameters() if id(p) not in unused)
    # the text tower ran on prompts or captions: trainable, it has gradients; frozen, none at all
    text_grads = [p.grad for p in model.text_tower.parameters()]
    assert all(g is None for g in text_grads) if row.freeze_text else any(g is not None for g in text_grads)
    lrs = {group["lr_mult"]: group["lr"] for group in optimizer.param_groups}
    assert lrs[row.fusion_lr] == pytest.approx(0.01 * row.fusion_lr)
    changed = [k for k, v in model.fusion.state_dict().items() if not torch.equal(v, fusion_before[k])]
    assert changed  # the SGD step moved the fusion transformer


B_FIRST = sorted(REFERENCE, key=lambda n: (n.endswith("_l"), n))


FAST = ("anet_tal_b", "charades_b", "coin_l", "qvh_b")  # TAL + ViT-B, MR + FPN, segmentation + ViT-L, QVH's own
# pairs; the rest take minutes


@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in B_FIRST])
def test_one_training_step_of_the_real_architecture_on_short_inputs(cached_clip, name):
    _check_step(name, frames=16)


@pytest.mark.slow
@pytest.mark.parametrize("name", B_FIRST)
def test_one_training_step_at_the_official_frame_count(cached_clip, name):
    _check_step(name, frames=None)


# --- gradient checkpointing of the CLIP towers ---------------------------------------------------------------------

def test_checkpoint_towers_recomputes_tower_blocks_with_identical_results(monkeypatch):
    import open_clip.transformer as oc_transformer

    calls = []
    real_checkpoint = oc_transformer.checkpoint

    def counting(fn, *args, **kwargs):
        calls.append(type(fn).__name__)
        return real_checkpoint(fn, *args, **kwargs)

    monkeypatch.setattr(oc_transformer, "checkpoint", counting)
    frames = torch.randn(2, 3, 3, 32, 32)
    text = build_tokenizer(tiny().tower)(["a cat", "a dog"])

    reference = build_model(tiny())

    def run(checkpointed: bool):
        model = build_model(dataclasses.replace(tiny(), checkpoint_towers=checkpointed))
        model.load_state_dict(reference.state_dict())
        out = model(frames, text)
        (sum(z.sum() for z in out.logits) + sum(o.sum() for o in out.offsets)).backward()
        return (out.logits[0].detach(), model.image_tower.visual.conv1.weight.grad,
                model.text_tower.text.token_embedding.weight.grad)

    plain = run(False)
    assert calls == []
    recomputed = run(True)
    assert len(calls) == 2  # one block in each tiny tower
    for a, b in zip(plain, recomputed):
        torch.testing.assert_close(a, b)


# --- real frames through the finetuned image tower (minutes on a CPU) ----------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["anet_tal_b", "anet_tal_l"])
def test_one_step_on_real_frames_trains_the_image_tower(cached_clip, name):
    cfg = load_paper_config(name, model={"tower": {"pretrained": None}}, data={"sampling": {"num_frames": 6}})
    model = build_model(cfg.model)
    tokenizer = build_tokenizer(cfg.model.tower)
    task = build_task(cfg.task, class_names=["open door", "run"], tokenizer=tokenizer)
    frames = torch.randn(1, 6, 3, 224, 224)  # 6 frames: pyramid levels of 6/3/2/1(/1) positions
    batch = make_batch(frames, [[(0.5, 2.0, 1)]], [0.5])
    model.train()
    task.step(model, batch)["loss"].backward()
    grad = model.image_tower.visual.conv1.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
