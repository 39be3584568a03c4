"""unloc.ops.assign: label assignment on hand-worked segments, a loop reference, and per-frame labels."""

import pytest
import torch

from unloc.ops.assign import assign_targets, frame_labels
from unloc.ops.segments import make_points

# t = 8, strides (1, 2, 4): level 0 anchors 0..7 (columns 0-7), level 1 anchors 0,2,4,6 (8-11), level 2 anchors 0,4
# (12-13).
T, STRIDES, RANGES = 8, (1, 2, 4), [(0, 2), (2, 4), (4, float("inf"))]


def _assign(segments, labels, num_classes, **kw):
    kw = {"t": T, "strides": STRIDES, "regression_ranges": RANGES, "radius": 1.0} | kw
    return assign_targets(torch.tensor(segments, dtype=torch.float32), torch.tensor(labels), num_classes=num_classes,
                          **kw)


def test_hand_worked_assignment_counts_and_targets():
    # A [1,3] cls 0: level 0 centre region [1,3] -> anchors 1,2,3 with reach 2,1,2; only a=2 is in [0,2).
    # B [0,7] cls 1: only level 2 (r=4, region [0,7]): anchors 0,4 with reach 7,4 in [4,inf).
    # C [1.5,2.5] cls 1: level 0 a=2, reach 0.5 -> overlaps A's positive with a different class.
    # D [0,4] cls 0: level 1 a=2 (reach 2 in [2,4)); level 2 a=0,4 (reach 4). Level 0 reaches are 3,2,3: none.
    # Row 4 is padding (label -1) with a segment that would otherwise be positive.
    segs = [[[1, 3], [0, 7], [1.5, 2.5], [0, 4], [1, 3]]]
    out = _assign(segs, [[0, 1, 1, 0, -1]], num_classes=2)
    cls, reg = out.cls_targets[0], out.reg_targets[0]
    assert cls.shape == (2, 14) and reg.shape == (2, 14, 2) and out.point_mask.shape == (1, 14)
    level = {0: slice(0, 8), 1: slice(8, 12), 2: slice(12, 14)}
    assert [int(cls[:, level[lv]].sum()) for lv in range(3)] == [2, 1, 4]
    positives = {tuple(x) for x in torch.nonzero(cls).tolist()}
    assert positives == {(0, 2), (1, 2), (0, 9), (0, 12), (0, 13), (1, 12), (1, 13)}
    torch.testing.assert_close(reg[0, 2], torch.tensor([1.0, 1.0]))  # A at a=2, stride 1
    torch.testing.assert_close(reg[1, 2], torch.tensor([0.5, 0.5]))  # C at a=2: the other class keeps its own target
    torch.testing.assert_close(reg[0, 9], torch.tensor([1.0, 1.0]))  # D at a=2, stride 2: (2, 2) / 2
    torch.testing.assert_close(reg[0, 12], torch.tensor([0.0, 1.0]))  # D at a=0, stride 4: (0, 4) / 4
    torch.testing.assert_close(reg[0, 13], torch.tensor([1.0, 0.0]))  # D at a=4: (4, 0) / 4
    torch.testing.assert_close(reg[1, 12], torch.tensor([0.0, 1.75]))  # B at a=0: (0, 7) / 4
    torch.testing.assert_close(reg[1, 13], torch.tensor([1.0, 0.75]))  # B at a=4: (4, 3) / 4
    assert bool((reg[cls == 0] == 0).all())


def test_centre_sampling_bounds_are_inclusive():
    out = _assign([[[0, 4]]], [[0]], 1, strides=(1,), regression_ranges=[(0, float("inf"))])
    assert torch.nonzero(out.cls_targets[0, 0]).flatten().tolist() == [1, 2, 3]  # region [max(0,1), min(4,3)]


def test_regression_range_uses_unclipped_segment():
    # [5, 12] runs past t = 8. Centre 8.5, radius 3 -> anchors 6, 7 with unclipped reach 6, 5 (clipped it would be
    # 1 and 2).
    def positives(ranges):
        out = _assign([[[5, 12]]], [[0]], 1, strides=(1,), regression_ranges=ranges, radius=3.0)
        return torch.nonzero(out.cls_targets[0, 0]).flatten().tolist()

    assert positives([(0, 4)]) == []
    assert positives([(4, float("inf"))]) == [6, 7]


def test_same_class_overlap_regresses_the_shortest_positive_segment():
    # E [2,6] (length 4) and F [4,9] (length 5), both class 0, both positive at a=5 with one level and a wide radius.
    # E gives (3, 1); the official per-side minimum would mix them into (1, 1).
    kw = {"strides": (1,), "regression_ranges": [(0, float("inf"))], "radius": 10.0, "t": 10}
    for segs in ([[[2, 6], [4, 9]]], [[[4, 9], [2, 6]]]):
        out = _assign(segs, [[0, 0]], 1, **kw)
        torch.testing.assert_close(out.reg_targets[0, 0, 5], torch.tensor([3.0, 1.0]))
    # Equal lengths: the first segment in the input wins.
    out = _assign([[[1, 5], [3, 7]]], [[0, 0]], 1, **kw)
    torch.testing.assert_close(out.reg_targets[0, 0, 4], torch.tensor([3.0, 1.0]))


def test_point_mask_drops_positives_and_is_returned():
    mask = torch.ones(1, 14, dtype=torch.bool)
    mask[0, 2] = False
    out = _assign([[[1, 3]]], [[0]], 1, point_mask=mask)
    assert out.cls_targets.sum().item() == 0
    assert torch.equal(out.point_mask, mask)


def test_no_segments_and_all_padding():
    empty = assign_targets(torch.zeros(2, 0, 2), torch.zeros(2, 0, dtype=torch.long), num_classes=3, t=T,
                           strides=STRIDES, regression_ranges=RANGES)
    assert empty.cls_targets.shape == (2, 3, 14) and empty.cls_targets.sum() == 0
    padded = _assign([[[1, 3], [0, 7]]], [[-1, -1]], 2)
    assert padded.cls_targets.sum() == 0 and padded.reg_targets.abs().sum() == 0


@pytest.mark.parametrize("segs,labels,match", [
    ([[[3, 1]]], [[0]], "ends before it starts"),
    ([[[1, 3]]], [[2]], "num_classes"),
])
def test_bad_segments_raise(segs, labels, match):
    with pytest.raises(ValueError, match=match):
        _assign(segs, labels, 2)


def _reference(segments, labels, num_classes, t, strides, ranges, radius):
    """Plain loops over videos, positions and segments (shortest positive segment per class)."""
    anchors, point_strides = make_points(t, strides)
    level_of = {s: i for i, s in enumerate(strides)}
    b, n_pts = len(segments), len(anchors)
    cls = torch.zeros(b, num_classes, n_pts)
    reg = torch.zeros(b, num_classes, n_pts, 2)
    for v in range(b):
        for p in range(n_pts):
            a, stride = anchors[p].item(), point_strides[p].item()
            lo, hi = ranges[level_of[int(stride)]]
            best = {}
            for (s, e), c in zip(segments[v], labels[v]):
                ctr, r = (s + e) / 2, radius * stride
                ok = c >= 0 and lo <= max(a - s, e - a) < hi and max(s, ctr - r) <= a <= min(e, ctr + r)
                if ok and (c not in best or e - s < best[c][1] - best[c][0]):
                    best[c] = (s, e)
            for c, (s, e) in best.items():
                cls[v, c, p] = 1
                reg[v, c, p] = torch.tensor([(a - s) / stride, (e - a) / stride])
    return cls, reg


@pytest.mark.parametrize("seed", range(4))
def test_matches_loop_reference_on_random_segments(seed):
    g = torch.Generator().manual_seed(seed)
    b, s, q, t, strides = 3, 6, 3, 24, (1, 2, 4, 8)
    ranges = [(0, 3), (3, 6), (6, 12), (12, float("inf"))]
    start = torch.randint(-3, t, (b, s, 1), generator=g).float() + torch.rand(b, s, 1, generator=g)
    segments = torch.cat([start, start + torch.rand(b, s, 1, generator=g) * 20], -1)
    labels = torch.randint(-1, q, (b, s), generator=g)
    out = assign_targets(segments, labels, num_classes=q, t=t, strides=strides, regression_ranges=ranges, radius=1.5)
    cls, reg = _reference(segments.tolist(), labels.tolist(), q, t, strides, ranges, 1.5)
    assert torch.equal(out.cls_targets, cls)
    torch.testing.assert_close(out.reg_targets, reg)


def test_frame_labels_later_segments_overwrite_and_background_is_zero():
    segs = torch.tensor([[[1.0, 3.0], [2.0, 5.0], [0.0, 7.0]]])
    labels = torch.tensor([[0, 2, -1]])  # row 2 is padding
    out = frame_labels(segs, labels, num_classes=3, t=8)
    assert out.shape == (1, 3, 8)
    assert out[0].argmax(0).tolist()[1:6] == [0, 2, 2, 2, 2]  # frame 1 from the first segment, 2..5 overwritten
    assert out[0].sum(0).tolist() == [0, 1, 1, 1, 1, 1, 0, 0]  # at most one class per frame; 0, 6, 7 background
    mask = torch.tensor([[True] * 4 + [False] * 4])
    masked = frame_labels(segs, labels, num_classes=3, t=8, frame_mask=mask)
    assert masked[0].sum(0).tolist() == [0, 1, 1, 1, 0, 0, 0, 0]
