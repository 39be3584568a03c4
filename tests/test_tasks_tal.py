"""Temporal action localization: overfitting, prompt ensembling, class-agnostic vs per-class NMS, evaluator format."""

import math

import pytest
import torch
from tasks_common import FEATURE_DIM, TEMPLATES, make_batch, one_thread, overfit, tiny_model, tokenizer  # noqa: F401
from torch import nn

from unloc.eval import activitynet_detection_metrics
from unloc.model.outputs import HeadOutputs
from unloc.ops.decode import decode_segments
from unloc.ops.segments import make_points, tiou
from unloc.tasks import NmsConfig, TaskConfig, TemporalLocalization, build_task

CLASSES = ["red circle growing", "blue square spinning", "green star moving up"]
RANGES_3 = ((0.0, 4.0), (4.0, 8.0), (8.0, None))


def test_tiny_model_overfits_two_feature_videos():
    """The issue's acceptance test: 2 synthetic (features, segments) videos, loss / 10, top segment IoU > 0.9."""
    torch.manual_seed(0)
    truth = [[(2.0, 6.0, 0)], [(2.5, 6.25, 2)]]
    batch = make_batch(torch.randn(2, 32, FEATURE_DIM), truth, [0.5, 0.25])
    task = TemporalLocalization(TaskConfig(regression_ranges=RANGES_3, prompt_mode="first"), class_names=CLASSES,
                                tokenizer=tokenizer(), templates=TEMPLATES)
    model = tiny_model()
    losses = overfit(task, model, batch, steps=80)
    assert losses[-1] < losses[0] / 10
    pred = task.predict(model, batch)
    for video_id, ((start, end, label),) in zip(batch.video_ids, truth):
        top = pred[video_id][0]
        assert top["label"] == CLASSES[label]
        assert float(tiou(torch.tensor(top["segment"]), torch.tensor([start, end]))) > 0.9
    scores = [d["score"] for d in pred["v0"]]
    assert scores == sorted(scores, reverse=True) and len(scores) <= 100
    # the predictions are a valid ActivityNet submission: the overfit model scores a high mAP@0.5
    gt = {"database": {v: {"subset": "validation", "annotations": [{"segment": [s, e], "label": CLASSES[c]}
                                                                    for s, e, c in rows]}
                       for v, rows in zip(batch.video_ids, truth)},
          "taxonomy": [{"nodeName": name} for name in CLASSES]}
    metrics = activitynet_detection_metrics(gt, task.merge([pred]))
    assert metrics["mAP@0.5"] == pytest.approx(100.0)


class PromptEcho(nn.Module):
    """A fake model whose outputs depend on each text's token ids, so every prompt gives different raw outputs."""

    strides = (1, 2)

    def forward(self, video, text, video_mask):
        b, t = video.shape[:2]
        key = (text.float() % 97).sum(-1) / 97  # (q,) differs per prompt
        logits, offsets = [], []
        for s in self.strides:
            n = math.ceil(t / s)
            pos = torch.arange(n, dtype=torch.float32)
            z = torch.sin(key[None, :, None] * 3 + pos + video.mean() * 0).expand(b, -1, -1)  # (b, q, n)
            logits.append(z.contiguous())
            offsets.append(torch.stack([1 + z.cos() ** 2, 2 + key[None, :, None] * 0.1 + 0 * z], -1))
        masks = [video_mask[:, ::s] for s in self.strides]
        return HeadOutputs(logits, offsets, masks, self.strides)


def test_prompt_ensembling_averages_raw_logits_and_displacements():
    templates = ("a video of {}.", "a photo of {}.", "{} in action.", "someone doing {}.")
    cfg = TaskConfig(regression_ranges=((0.0, 4.0), (4.0, None)), prompt_mode="ensemble")
    task = TemporalLocalization(cfg, class_names=CLASSES[:2], tokenizer=tokenizer(), templates=templates)
    batch = make_batch(torch.randn(1, 6, FEATURE_DIM), [[(1.0, 2.0, 0)]], [0.5])
    model = PromptEcho()
    probs, segments, _ = task.scores(model, batch)
    ids = task.eval_prompts.eval_ids("ensemble")  # (q, p, n)
    assert ids.shape[:2] == (2, 4)
    per_template = [model(batch.video, ids[:, p], batch.video_mask).concat() for p in range(4)]
    mean_logits = torch.stack([o[0] for o in per_template]).mean(0)
    mean_offsets = torch.stack([o[1] for o in per_template]).mean(0)
    assert torch.allclose(probs, mean_logits.sigmoid(), atol=1e-6)
    anchors, strides = make_points(6, model.strides)
    expected = decode_segments(mean_offsets, anchors, strides, sec_per_unit=0.5, duration_sec=batch.duration_sec)
    assert torch.allclose(segments, expected, atol=1e-5)
    # the mean of sigmoids differs from the sigmoid of the mean, so this really checks the order
    assert not torch.allclose(probs, torch.stack([o[0] for o in per_template]).sigmoid().mean(0), atol=1e-3)
    first = TemporalLocalization(TaskConfig(regression_ranges=cfg.regression_ranges, prompt_mode="first"),
                                 class_names=CLASSES[:2], tokenizer=tokenizer(), templates=templates)
    assert torch.allclose(first.scores(model, batch)[0], per_template[0][0].sigmoid())


class FixedOutputs(nn.Module):
    """Two classes predicting the same segment: class-agnostic Soft-NMS decays the second, per-class does not."""

    strides = (1,)

    def forward(self, video, text, video_mask):
        b, t = video.shape[:2]
        logits = torch.full((b, 2, t), -20.0)
        logits[:, 0, 2], logits[:, 1, 2] = 3.0, 2.0
        offsets = torch.full((b, 2, t, 2), 1.0)
        return HeadOutputs([logits], [offsets], [video_mask], self.strides)


@pytest.mark.parametrize("per_class", [False, True])
def test_class_agnostic_and_per_class_nms(per_class):
    cfg = TaskConfig(regression_ranges=((0.0, None),), prompt_mode="first", nms=NmsConfig(per_class=per_class))
    task = build_task(cfg, class_names=CLASSES[:2], tokenizer=tokenizer(), templates=TEMPLATES)
    batch = make_batch(torch.zeros(1, 5, FEATURE_DIM), [[(0.0, 1.0, 0)]], [1.0])
    dets = task.predict(FixedOutputs(), batch)["v0"]
    assert [d["label"] for d in dets] == CLASSES[:2]
    assert dets[0]["segment"] == pytest.approx([1.0, 3.0]) and dets[0]["score"] == pytest.approx(torch.tensor(3.0).sigmoid().item())
    second = torch.tensor(2.0).sigmoid().item()
    assert dets[1]["score"] == pytest.approx(second if per_class else second * math.exp(-1 / 0.6))


def test_zero_shot_task_trains_on_seen_and_detects_unseen_names():
    seen, unseen = CLASSES[:2], CLASSES[2:]
    task = build_task(TaskConfig(regression_ranges=RANGES_3, prompt_mode="first"), class_names=seen,
                      tokenizer=tokenizer(), eval_class_names=unseen, templates=TEMPLATES)
    assert task.train_prompts.class_names == seen and task.eval_prompts.class_names == unseen
    batch = make_batch(torch.randn(1, 8, FEATURE_DIM), [[(1.0, 3.0, 1)]], [0.5])
    model = tiny_model()
    assert torch.isfinite(task.step(model, batch)["loss"])
    labels = {d["label"] for d in task.predict(model.eval(), batch)["v0"]}
    assert labels <= set(unseen) and labels


def test_step_rejects_ranges_that_do_not_match_the_pyramid():
    task = TemporalLocalization(TaskConfig(), class_names=CLASSES, tokenizer=tokenizer(), templates=TEMPLATES)
    batch = make_batch(torch.randn(1, 8, FEATURE_DIM), [[(1.0, 3.0, 1)]], [0.5])
    with pytest.raises(ValueError, match="4 regression ranges for a model with 3 pyramid levels"):
        task.step(tiny_model(), batch)


def test_eval_prompt_features_are_reused_and_equal_the_direct_path():
    from unloc.model.build import build_model
    from unloc.model.clip_loader import build_tokenizer
    from unloc.model.config import tiny
    from unloc.tasks.config import TaskConfig
    from unloc.tasks.prompting import prompt_outputs
    from unloc.tasks.temporal_localization import TemporalLocalization

    cfg = tiny()
    model = build_model(cfg).eval()
    task = TemporalLocalization(TaskConfig(prompt_mode="ensemble"), class_names=["a", "b"],
                                tokenizer=build_tokenizer(cfg.tower))
    feats = torch.randn(1, 8, model.image_proj.in_features)
    batch = type("B", (), {"video": feats, "video_mask": torch.ones(1, 8, dtype=torch.bool)})()
    calls = []
    model.text_tower.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        first = task.eval_outputs(model, batch)
        second = task.eval_outputs(model, batch)
        direct = prompt_outputs(model, feats, batch.video_mask, task.eval_prompts.eval_ids("ensemble"))
    assert len(calls) == 2  # once for the two cached calls, once for the direct one
    for a, b, c in zip(first.logits, second.logits, direct.logits):
        torch.testing.assert_close(a, c)
        torch.testing.assert_close(b, c)
    with torch.no_grad():
        next(model.text_tower.parameters()).add_(1.0)  # new weights: the cache must be recomputed
        task.eval_outputs(model, batch)
    assert len(calls) == 3
