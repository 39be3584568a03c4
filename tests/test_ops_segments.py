"""unloc.ops.segments: tIoU, seconds <-> units, pyramid points."""

import math

import pytest
import torch

from unloc.ops.segments import (
    level_lengths,
    linspace_sec_per_unit,
    make_points,
    point_mask,
    sec_to_units,
    tiou,
    units_to_sec,
)


def test_tiou_hand_worked():
    a = torch.tensor([[0.0, 10.0], [0.0, 10.0], [0.0, 10.0], [2.0, 4.0], [5.0, 5.0]])
    b = torch.tensor([[5.0, 15.0], [10.0, 20.0], [0.0, 10.0], [0.0, 10.0], [5.0, 5.0]])
    # overlap 5 / union 15; touching; identical; nested 2/10; two identical points (zero length) -> 0, not NaN
    expected = torch.tensor([1 / 3, 0.0, 1.0, 0.2, 0.0])
    torch.testing.assert_close(tiou(a, b), expected)
    torch.testing.assert_close(tiou(b, a), expected)


def test_tiou_zero_length_inside_and_disjoint():
    point = torch.tensor([3.0, 3.0])
    assert tiou(point, torch.tensor([0.0, 10.0])).item() == 0.0
    assert tiou(torch.tensor([0.0, 1.0]), torch.tensor([7.0, 9.0])).item() == 0.0


def test_tiou_broadcasts_to_a_pairwise_matrix():
    torch.manual_seed(1)
    starts = torch.rand(2, 5, 1) * 10
    a = torch.cat([starts, starts + torch.rand(2, 5, 1) * 5], -1)
    starts = torch.rand(2, 3, 1) * 10
    b = torch.cat([starts, starts + torch.rand(2, 3, 1) * 5], -1)
    mat = tiou(a.unsqueeze(-2), b.unsqueeze(-3))  # (2, 5, 1, 2) x (2, 1, 3, 2)
    assert mat.shape == (2, 5, 3)
    for v in range(2):
        for i in range(5):
            for j in range(3):
                torch.testing.assert_close(mat[v, i, j], tiou(a[v, i], b[v, j]))


def test_linspace_sec_per_unit_matches_official_frame_map():
    # Official: frame index s of N stored frames -> s * (F - 1) / (N - 1) sampled units.
    n_stored, fps, f = 1001, 10.0, 128
    spu = linspace_sec_per_unit(n_stored, fps, f)
    frame_idx = torch.tensor([0.0, 250.0, 1000.0])
    units = sec_to_units(frame_idx / fps, spu)
    torch.testing.assert_close(units, frame_idx * (f - 1) / (n_stored - 1))
    assert units[-1].item() == pytest.approx(127.0)


def test_seconds_units_round_trip_fixed_rate_window():
    # Segmentation: frames at 2 fps from a window starting at 30 s; frame 0 of the window is t = 30 s.
    t_sec = torch.tensor([30.0, 31.5, 100.25])
    units = sec_to_units(t_sec, 0.5, 30.0)
    torch.testing.assert_close(units, torch.tensor([0.0, 3.0, 140.5]))
    torch.testing.assert_close(units_to_sec(units, 0.5, 30.0), t_sec)


def test_per_video_conversion_broadcasts():
    t_sec = torch.tensor([[1.0, 2.0], [1.0, 2.0]])
    spu = torch.tensor([[0.5], [0.25]])
    torch.testing.assert_close(sec_to_units(t_sec, spu), torch.tensor([[2.0, 4.0], [4.0, 8.0]]))
    torch.testing.assert_close(units_to_sec(sec_to_units(t_sec, spu, 1.0), spu, 1.0), t_sec)


@pytest.mark.parametrize("bad", [(1, 10.0, 128), (100, 10.0, 1), (100, 0.0, 128)])
def test_linspace_sec_per_unit_rejects_degenerate(bad):
    with pytest.raises(ValueError):
        linspace_sec_per_unit(*bad)


def test_make_points_layout():
    anchors, strides = make_points(5, (1, 2, 4))
    assert level_lengths(5, (1, 2, 4)) == [5, 3, 2]
    assert anchors.tolist() == [0, 1, 2, 3, 4, 0, 2, 4, 0, 4]
    assert strides.tolist() == [1, 1, 1, 1, 1, 2, 2, 2, 4, 4]


@pytest.mark.parametrize("t", [1, 7, 128, 144, 160])
def test_make_points_lengths_are_ceil(t):
    strides = (1, 2, 4, 8, 16)
    anchors, point_strides = make_points(t, strides)
    assert anchors.numel() == sum(math.ceil(t / s) for s in strides)
    assert bool((anchors % point_strides == 0).all()) and bool((anchors < t).all())


def test_make_points_official_totals():
    assert make_points(128, (1, 2, 4, 8)).anchors.numel() == 240
    assert make_points(160, (1, 2, 4, 8, 16)).anchors.numel() == 310
    assert make_points(144, (1, 2, 4, 8)).anchors.numel() == 270


def test_point_mask_follows_anchor_frames():
    frame_mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    out = point_mask(frame_mask, (1, 2, 4))
    assert out.shape == (2, 10)
    assert out[0].tolist() == [True, True, True, False, False, True, True, False, True, False]
    assert bool(out[1].all())
    late_start = point_mask(torch.tensor([[False, True, True, True, True]]), (1, 2, 4))
    assert late_start[0, 5:].tolist() == [False, True, True, False, True]  # anchors 0, 2, 4 | 0, 4


def test_point_mask_equals_any_valid_frame_for_prefix_masks():
    lengths = torch.tensor([1, 5, 8, 13])
    frame_mask = torch.arange(13)[None] < lengths[:, None]
    anchors = make_points(13, (1, 2, 4, 8)).anchors
    window_has_valid = anchors[None] < lengths[:, None]  # window [a, a + s) starts inside the valid prefix
    assert torch.equal(point_mask(frame_mask, (1, 2, 4, 8)), window_has_valid)
