"""Moment retrieval: in-batch pair targets, overfitting, QVHighlights saliency and submission rows."""

import numpy as np
import pytest
import torch
import torchvision
from tasks_common import FEATURE_DIM, one_thread, overfit, tiny_model, tokenizer, video_fields  # noqa: F401

from unloc.data.collate import TaskBatch
from unloc.eval import moment_recall_metrics
from unloc.ops.assign import assign_targets
from unloc.tasks import MomentRetrieval, TaskConfig
from unloc.tasks.moment_retrieval import clip_saliency, gather_captions, pair_segments
from unloc.train import launch

RANGES_3 = ((0.0, 4.0), (4.0, 8.0), (8.0, None))


def mr_batch(features, captions, sec_per_unit, video_ids):
    """captions: (text, owner row, [(start_sec, end_sec), ...], query id)."""
    b = features.shape[0]
    m = max(len(c[2]) for c in captions)
    windows = torch.zeros(len(captions), m, 2, dtype=torch.float64)
    wmask = torch.zeros(len(captions), m, dtype=torch.bool)
    for j, (_, _, spans, _) in enumerate(captions):
        windows[j, : len(spans)] = torch.tensor(spans, dtype=torch.float64)
        wmask[j, : len(spans)] = True
    owner = torch.tensor([c[1] for c in captions])
    return TaskBatch(
        **video_fields(features, sec_per_unit, video_ids), segments=torch.zeros(b, 0, 2),
        labels=torch.zeros(b, 0, dtype=torch.long), text=tokenizer()([c[0] for c in captions]),
        text_video_idx=owner, query_ids=[c[3] for c in captions], windows_sec=windows, windows_mask=wmask,
    )


def test_pair_targets_with_two_captions_of_one_video_and_a_repeated_video():
    # rows 0 and 2 are the same video "A" (e.g. two per-query items); caption 2 belongs to row 2
    video_ids, owners = ["A", "B", "A"], ["A", "B", "A"]
    windows = torch.tensor([[[1.0, 2.0], [0.0, 0.0]], [[3.0, 4.0], [5.0, 6.0]], [[7.0, 8.0], [0.0, 0.0]]],
                           dtype=torch.float64)
    wmask = torch.tensor([[True, False], [True, True], [True, False]])
    spu = torch.tensor([0.5, 1.0, 0.5], dtype=torch.float64)
    segments, labels = pair_segments(video_ids, owners, windows, wmask, spu, torch.zeros(3, dtype=torch.float64))
    assert segments.shape == (3, 6, 2) and labels.tolist() == [[0, -1, -1, -1, 2, -1], [-1, -1, 1, 1, -1, -1],
                                                              [0, -1, -1, -1, 2, -1]]
    assert segments[0, 4].tolist() == [14.0, 16.0] and segments[1, 3].tolist() == [5.0, 6.0]
    targets = assign_targets(segments, labels, num_classes=3, t=20, strides=(1,), regression_ranges=((0, 1e9),))
    positive = targets.cls_targets.amax(-1)  # (video, caption): any positive position
    assert positive.tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 1]]  # captions of "A" are positives for both A rows


def test_gather_captions_is_the_identity_in_one_process():
    batch = mr_batch(torch.zeros(2, 4, FEATURE_DIM), [("a", 1, [(0.0, 1.0)], 7), ("b", 0, [(1.0, 2.0)], 8)],
                     [1.0, 1.0], ["x", "y"])
    text, owners, windows, wmask = gather_captions(batch)
    assert owners == ["y", "x"] and text is batch.text and windows is batch.windows_sec and wmask is batch.windows_mask


def test_clip_saliency_takes_the_max_inside_each_clip_and_the_nearest_for_empty_clips():
    probs = torch.tensor([[0.1, 0.4, 0.3, 0.2, 0.9, 0.5], [1.0, 0.0, 0.0, 0.0, 0.0, 0.25]])
    times = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.5], dtype=torch.float64)
    valid = torch.tensor([True, True, True, True, True, True])
    out = clip_saliency(probs, times, valid, duration_sec=8.0)
    assert torch.equal(out, torch.tensor([[0.4, 0.3, 0.9, 0.5], [1.0, 0.0, 0.25, 0.25]]))
    valid[4] = False  # an invalid position never counts
    assert clip_saliency(probs, times, valid, duration_sec=8.0)[0, 2] == probs[0, 5]


def test_tiny_model_overfits_moment_retrieval():
    torch.manual_seed(0)
    captions = [("the red circle grows", 0, [(2.0, 6.0)], 10), ("the blue square spins", 0, [(9.0, 13.0)], 11),
                ("a green star moves up", 1, [(1.0, 4.0)], 20)]
    batch = mr_batch(torch.randn(2, 32, FEATURE_DIM), captions, [0.5, 0.25], ["v0", "v1"])
    task = MomentRetrieval(TaskConfig(kind="mr", regression_ranges=RANGES_3))
    model = tiny_model()
    losses = overfit(task, model, batch, steps=80)
    assert losses[-1] < losses[0] / 10
    rows = task.predict(model, batch)
    assert [(r["qid"], r["vid"]) for r in rows] == [(10, "v0"), (11, "v0"), (20, "v1")]
    assert all(len(r["pred_saliency_scores"]) == int(dur // 2) for r, dur in zip(rows, [15.5, 15.5, 7.75]))
    windows = [np.array(r["pred_relevant_windows"]) for r in rows]
    metrics = moment_recall_metrics([np.array(c[2]) for c in captions], windows, ks=(1,), iou_thresholds=(0.9,))
    assert metrics["R1@0.9"] == pytest.approx(100.0)
    assert all(np.all(np.diff(w[:, 2]) <= 0) for w in windows)  # best first


def test_mr_focal_loss_is_normalised_over_all_video_caption_positions():
    batch = mr_batch(torch.randn(2, 8, FEATURE_DIM), [("a", 0, [(1.0, 2.0)], 1), ("b", 1, [(0.0, 3.0)], 2)],
                     [0.5, 0.5], ["v0", "v1"])
    task = MomentRetrieval(TaskConfig(kind="mr", regression_ranges=RANGES_3))
    model = tiny_model().eval()
    out = task.step(model, batch)
    logits, _, mask = model(batch.video, batch.text, batch.video_mask).concat()  # (2, 2, 14)
    segments, labels = pair_segments(batch.video_ids, ["v0", "v1"], batch.windows_sec, batch.windows_mask,
                                     batch.sec_per_unit, batch.t0_sec)
    targets = assign_targets(segments, labels, num_classes=2, t=8, strides=(1, 2, 4), regression_ranges=(
        (0, 4), (4, 8), (8, float("inf"))))
    assert mask.shape == (2, 14) and mask.all()  # every (video, caption, position) triple is valid
    focal = torchvision.ops.sigmoid_focal_loss(logits, targets.cls_targets, alpha=0.25, gamma=2.0, reduction="sum")
    assert out["cls_loss"].item() == pytest.approx(focal.item() / (2 * 2 * 14), rel=1e-5)
    assert targets.cls_targets[0, 1].sum() == 0 and targets.cls_targets[1, 0].sum() == 0  # mismatched pairs negative
    assert out["num_pos"].item() == targets.cls_targets.sum().item() > 0


def _rank_mr_step(full_batch, state: dict) -> list[dict]:
    """On each of 2 ranks: the rank's video with its own captions; the step must see every rank's captions."""
    from unloc.train.distributed import all_gather_objects, world_info

    torch.set_num_threads(1)
    rank = world_info().rank
    mine = full_batch.text_video_idx == rank
    local = mr_batch_slice(full_batch, rank, mine)
    model = tiny_model()
    model.load_state_dict(state)
    out = MomentRetrieval(TaskConfig(kind="mr", regression_ranges=RANGES_3)).step(model.eval(), local)
    return all_gather_objects({"cls_loss": out["cls_loss"].item(), "num_pos": out["num_pos"].item()})


def mr_batch_slice(batch, row, captions):
    """The batch of video `row` alone with the captions selected by the (q,) mask `captions`."""
    keep = slice(row, row + 1)
    return TaskBatch(video=batch.video[keep], video_mask=batch.video_mask[keep], video_ids=batch.video_ids[keep],
                     duration_sec=batch.duration_sec[keep], sec_per_unit=batch.sec_per_unit[keep],
                     t0_sec=batch.t0_sec[keep], timestamps_sec=batch.timestamps_sec[keep],
                     window_start=batch.window_start[keep], segments=batch.segments[keep], labels=batch.labels[keep],
                     text=batch.text[captions], text_video_idx=torch.zeros(int(captions.sum()), dtype=torch.long),
                     query_ids=[q for q, c in zip(batch.query_ids, captions.tolist()) if c],
                     windows_sec=batch.windows_sec[captions], windows_mask=batch.windows_mask[captions])


@pytest.mark.slow  # two spawned gloo processes: about 15 s of imports on 2 cores
def test_two_ranks_fuse_their_videos_with_every_caption_of_the_global_batch():
    torch.manual_seed(0)
    captions = [("the red circle grows", 0, [(2.0, 6.0)], 1), ("a green star moves up", 1, [(1.0, 4.0), (5.0, 6.0)], 2),
                ("the blue square spins", 1, [(0.5, 2.5)], 3)]
    batch = mr_batch(torch.randn(2, 16, FEATURE_DIM), captions, [0.5, 0.25], ["v0", "v1"])
    model = tiny_model().eval()
    ranks = launch(_rank_mr_step, 2, batch, model.state_dict())
    full = MomentRetrieval(TaskConfig(kind="mr", regression_ranges=RANGES_3)).step(model, batch)
    # each rank normalises its focal sum over its (1 video x 3 captions x T) triples; their mean is the global loss
    assert np.mean([r["cls_loss"] for r in ranks]) == pytest.approx(full["cls_loss"].item(), rel=1e-5)
    assert sum(r["num_pos"] for r in ranks) == full["num_pos"].item()


def test_own_pairs_is_the_official_qvhighlights_objective():
    """mr_pairs='own': each caption fused with its own video only, one class, focal / (pairs x positions)."""
    torch.manual_seed(0)
    captions = [("a", 1, [(1.0, 2.0), (3.0, 3.5)], 1), ("b", 0, [(0.0, 3.0)], 2), ("c", 1, [(0.5, 1.0)], 3)]
    batch = mr_batch(torch.randn(2, 8, FEATURE_DIM), captions, [0.5, 0.25], ["v0", "v1"])
    cfg = TaskConfig(kind="mr", regression_ranges=RANGES_3, mr_pairs="own")
    model = tiny_model().eval()
    out = MomentRetrieval(cfg).step(model, batch)
    focal, num_pos = 0.0, 0
    for j, (_, owner, spans, _) in enumerate(captions):  # reference: one forward per (own video, caption) pair
        logits = model(batch.video[owner:owner + 1], batch.text[j:j + 1]).concat()[0]  # (1, 1, 14)
        spu = batch.sec_per_unit[owner].item()
        segments = torch.tensor(spans, dtype=torch.float32)[None] / spu
        targets = assign_targets(segments, torch.zeros(1, len(spans), dtype=torch.long), num_classes=1, t=8,
                                 strides=(1, 2, 4), regression_ranges=((0, 4), (4, 8), (8, float("inf"))))
        focal += torchvision.ops.sigmoid_focal_loss(logits, targets.cls_targets, alpha=0.25, gamma=2.0,
                                                    reduction="sum").item()
        num_pos += int(targets.cls_targets.sum())
    assert out["cls_loss"].item() == pytest.approx(focal / (3 * 14), rel=1e-5)  # 3 pairs x 14 positions, no negatives
    assert out["num_pos"].item() == num_pos > 0
    batch_pairs = MomentRetrieval(TaskConfig(kind="mr", regression_ranges=RANGES_3)).step(model, batch)
    assert batch_pairs["num_pos"].item() == num_pos  # same positives; 'batch' adds the negative pairs
    assert batch_pairs["cls_loss"].item() != pytest.approx(out["cls_loss"].item(), rel=1e-3)


def test_paired_forward_is_the_diagonal_of_the_all_pairs_forward():
    torch.manual_seed(1)
    model = tiny_model().eval()
    model.chunk_size = 2  # pairs split over chunks
    video, text = torch.randn(2, 8, FEATURE_DIM), tokenizer()(["a", "b", "c"])
    owner = torch.tensor([1, 0, 1])
    full, paired = model(video, text), model(video, text, pair_video_idx=owner)
    for level in range(3):
        assert paired.logits[level].shape == (3, 1, full.logits[level].shape[2])
        torch.testing.assert_close(paired.logits[level][:, 0], full.logits[level][owner, torch.arange(3)])
        torch.testing.assert_close(paired.offsets[level][:, 0], full.offsets[level][owner, torch.arange(3)])
        assert torch.equal(paired.masks[level], full.masks[level][owner])
    with pytest.raises(ValueError, match="one video per text"):
        model(video, text, pair_video_idx=torch.tensor([0, 1]))
