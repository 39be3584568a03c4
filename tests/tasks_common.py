"""Shared pieces of the task tests: a tiny feature-input model, its tokenizer, synthetic batches, a short training loop."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest
import torch

from unloc.data.collate import TaskBatch
from unloc.model.build import build_model, build_tokenizer
from unloc.model.config import FusionConfig, HeadConfig, PyramidConfig, tiny

FEATURE_DIM = 32  # the tiny image tower's width: cached features of that size replace frames
TEMPLATES = ("a video of {}.",)  # one template keeps the overfit runs deterministic


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors run far faster on one thread, above all on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.cache
def tokenizer():
    return build_tokenizer(tiny().tower)


def tiny_model(segmentation: bool = False, fusion_layers: int = 1):
    """The tiny UnLoc with 1 fusion layer; a 3-level ViTDet pyramid, or no pyramid and the segmentation head."""
    cfg = tiny()
    cfg = replace(cfg, fusion=replace(cfg.fusion, layers=fusion_layers))
    if segmentation:
        cfg = replace(cfg, pyramid=PyramidConfig(kind="none", num_levels=1),
                      head=HeadConfig(num_conv_layers=2, task="segmentation", cls_bias_init=-3.0))
    assert isinstance(cfg.fusion, FusionConfig)
    return build_model(cfg)


def video_fields(features: torch.Tensor, sec_per_unit: list[float], video_ids: list[str] | None = None,
                 mask: torch.Tensor | None = None) -> dict:
    """The per-video `TaskBatch` fields of linspace-sampled videos whose last frame ends the video."""
    b, t = features.shape[:2]
    spu = torch.tensor(sec_per_unit, dtype=torch.float64)
    return {"video": features, "video_mask": torch.ones(b, t, dtype=torch.bool) if mask is None else mask,
            "video_ids": video_ids or [f"v{i}" for i in range(b)], "duration_sec": spu * (t - 1),
            "sec_per_unit": spu, "t0_sec": torch.zeros(b, dtype=torch.float64),
            "timestamps_sec": torch.arange(t, dtype=torch.float64)[None] * spu[:, None],
            "window_start": torch.zeros(b, dtype=torch.long)}


def make_batch(features: torch.Tensor, segments_sec: list[list[tuple[float, float, int]]], sec_per_unit: list[float],
               *, video_ids: list[str] | None = None, mask: torch.Tensor | None = None) -> TaskBatch:
    """A class-task batch from features (b, t, d) and per-video (start_sec, end_sec, class) lists."""
    longest = max(len(s) for s in segments_sec)
    segments = torch.zeros(len(segments_sec), longest, 2)
    labels = torch.full((len(segments_sec), longest), -1)
    for i, rows in enumerate(segments_sec):
        for k, (start, end, label) in enumerate(rows):
            segments[i, k] = torch.tensor([start, end]) / sec_per_unit[i]
            labels[i, k] = label
    return TaskBatch(**video_fields(features, sec_per_unit, video_ids, mask), segments=segments, labels=labels)


def overfit(task, model, batch, steps: int, lr: float = 3e-3) -> list[float]:
    """AdamW on one batch; returns the loss of every step."""
    torch.manual_seed(0)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        loss = task.step(model, batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses
