"""Action segmentation and video pretraining: overfitting, window stitching, clip logits and multi-hot targets."""

import numpy as np
import pytest
import torch
from tasks_common import FEATURE_DIM, TEMPLATES, make_batch, one_thread, overfit, tiny_model, tokenizer  # noqa: F401

from unloc.eval import predicted_labels, segmentation_metrics
from unloc.model.outputs import HeadOutputs
from unloc.ops.assign import frame_labels
from unloc.tasks import TaskConfig, build_task, stitch_windows
from unloc.tasks.action_segmentation import scores_at
from unloc.tasks.video_pretraining import clip_logits, multi_hot

STEPS = ["show the circle", "grow the circle", "hide the circle"]


def test_tiny_model_overfits_action_segmentation():
    torch.manual_seed(0)
    truth = [[(1.0, 3.0, 0), (5.0, 7.5, 1)], [(0.5, 2.0, 2), (4.0, 6.0, 0)]]
    mask = torch.ones(2, 24, dtype=torch.bool)
    mask[1, 20:] = False  # a last window, padded
    batch = make_batch(torch.randn(2, 24, FEATURE_DIM), truth, [0.5, 0.5], mask=mask)
    task = build_task(TaskConfig(kind="seg", prompt_mode="first"), class_names=STEPS, tokenizer=tokenizer(),
                      templates=TEMPLATES)
    model = tiny_model(segmentation=True)
    losses = overfit(task, model, batch, steps=50, lr=5e-3)
    assert losses[-1] < losses[0] / 10
    windows = task.predict(model, batch)
    assert [w["scores"].shape for w in windows] == [(24, 3), (20, 3)]
    onehot = frame_labels(batch.segments, batch.labels, num_classes=3, t=24, frame_mask=mask)  # (b, q, t)
    gt = [np.where(y.max(0) > 0, y.argmax(0), -1)[: int(m.sum())] for y, m in zip(onehot.numpy(), mask)]
    assert all((g >= 0).any() and (g < 0).any() for g in gt)  # both actions and background frames
    metrics = segmentation_metrics(gt, [w["scores"] for w in windows], background_threshold=0.0)
    assert metrics["frame_accuracy"] == pytest.approx(100.0)
    assert np.array_equal(predicted_labels(windows[0]["scores"]), gt[0])


def _window(video_id, start, n, q=2):
    return {"video_id": video_id, "window_start": start, "scores": np.full((n, q), float(start)),
            "timestamps_sec": (start + np.arange(n)) / 2.0}


def test_stitching_joins_windows_in_sample_order():
    out = stitch_windows([_window("a", 4, 3), _window("b", 0, 2), _window("a", 0, 4)])
    assert out["a"]["scores"][:, 0].tolist() == [0, 0, 0, 0, 4, 4, 4]
    assert out["a"]["timestamps_sec"].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert out["b"]["scores"].shape == (2, 2)


def test_scores_at_takes_the_last_sample_shown_at_each_time():
    stitched = stitch_windows([_window("a", 0, 3), _window("a", 3, 2)])["a"]  # samples at 0, 0.5, ..., 2.0 s
    out = scores_at(stitched, np.array([-0.2, 0.0, 0.74, 1.5, 3.0]))
    assert out[:, 0].tolist() == [0, 0, 0, 3, 3]


@pytest.mark.parametrize(("second", "kind"), [(3, "overlap"), (5, "gap")])
def test_stitching_rejects_overlaps_and_gaps(second, kind):
    with pytest.raises(ValueError, match=f"video a: windows {kind}"):
        stitch_windows([_window("a", 0, 4), _window("a", second, 4)])


def test_clip_logits_average_valid_level0_positions_and_multi_hot_targets():
    logits = torch.tensor([[[1.0, 3.0, 100.0]], [[2.0, 4.0, 6.0]]])  # (b=2, q=1, t=3)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    out = HeadOutputs([logits, logits[..., :2]], None, [mask, mask[:, :2]], (1, 2))
    assert clip_logits(out).tolist() == [[2.0], [4.0]]
    assert multi_hot(torch.tensor([[2, -1], [0, 2]]), 3).tolist() == [[0, 0, 1], [1, 0, 1]]


def test_tiny_model_overfits_video_pretraining():
    torch.manual_seed(0)
    classes = ["circle spinning", "square growing", "star moving up"]
    truth = [[(0.0, 2.0, 0)], [(0.0, 2.0, 1)], [(0.0, 2.0, 2)], [(0.0, 2.0, 1)]]
    batch = make_batch(torch.randn(4, 8, FEATURE_DIM), truth, [2.0 / 7] * 4)
    task = build_task(TaskConfig(kind="video_pretrain", prompt_mode="first"), class_names=classes,
                      tokenizer=tokenizer(), templates=TEMPLATES)
    model = tiny_model()
    losses = overfit(task, model, batch, steps=60)
    assert losses[-1] < losses[0] / 10
    preds = task.predict(model, batch)
    assert [p["label"] for p in preds] == [classes[rows[0][2]] for rows in truth]
    assert all(p["scores"].shape == (3,) and p["score"] == pytest.approx(p["scores"].max()) for p in preds)
