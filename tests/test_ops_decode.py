"""unloc.ops.decode: displacements -> seconds, clipping, and decode(encode(x)) = x."""

import torch

from unloc.ops.decode import decode_segments
from unloc.ops.segments import linspace_sec_per_unit, make_points, sec_to_units


def _encode(segments_sec, anchors, strides, spu, t0):
    """The inverse of decode (without clipping): (a - s, e - a) / stride per anchor. (b, s, 2), (b,) -> (b, s, T, 2)."""
    units = sec_to_units(segments_sec, spu[:, None, None], t0[:, None, None])[..., None, :]  # (b, s, 1, 2)
    return torch.stack([anchors - units[..., 0], units[..., 1] - anchors], dim=-1) / strides[:, None]


def test_decode_hand_worked():
    anchors, strides = torch.tensor([4.0]), torch.tensor([2.0])
    offsets = torch.tensor([[[[1.0, 1.5]]]])  # (b, q, T, 2): units [4 - 2, 4 + 3] = [2, 7]
    out = decode_segments(offsets, anchors, strides, sec_per_unit=0.5, t0_sec=10.0)
    torch.testing.assert_close(out, torch.tensor([[[[11.0, 13.5]]]]))
    clipped = decode_segments(offsets, anchors, strides, sec_per_unit=0.5, t0_sec=10.0, duration_sec=12.0)
    torch.testing.assert_close(clipped, torch.tensor([[[[11.0, 12.0]]]]))
    early = decode_segments(torch.tensor([[[[5.0, 0.0]]]]), anchors, strides, sec_per_unit=0.5)
    torch.testing.assert_close(early, torch.tensor([[[[0.0, 2.0]]]]))  # start (4 - 10) * 0.5 < 0 -> 0


def test_decode_matches_official_formula():
    # Official: (p -/+ d * 2^l) * (N - 1) / (F - 1) frames, clipped to [0, N], times 0.1 s per frame at 10 fps.
    n_stored, f = 1201, 128
    anchors, strides = make_points(f, (1, 2, 4, 8))
    offsets = torch.rand(1, 2, anchors.numel(), 2) * 20
    ours = decode_segments(offsets, anchors, strides, sec_per_unit=linspace_sec_per_unit(n_stored, 10.0, f),
                           duration_sec=n_stored / 10.0)
    scale = (n_stored - 1) / (f - 1)
    start = ((anchors - offsets[..., 0] * strides) * scale).clamp_min(0) * 0.1
    end = ((anchors + offsets[..., 1] * strides) * scale).clamp(0, n_stored) * 0.1
    torch.testing.assert_close(ours, torch.stack([start, end], -1))


def test_per_video_constants_broadcast():
    anchors, strides = make_points(6, (1, 2))
    offsets = torch.rand(3, 4, anchors.numel(), 2)
    spu, t0, dur = torch.tensor([0.5, 1.0, 2.0]), torch.tensor([0.0, 5.0, 1.0]), torch.tensor([100.0, 7.0, 100.0])
    batched = decode_segments(offsets, anchors, strides, sec_per_unit=spu, t0_sec=t0, duration_sec=dur)
    for v in range(3):
        single = decode_segments(offsets[v : v + 1], anchors, strides, sec_per_unit=spu[v].item(),
                                 t0_sec=t0[v].item(), duration_sec=dur[v].item())
        torch.testing.assert_close(batched[v : v + 1], single)


def test_decode_inverts_encode_for_anchors_inside_the_segment():
    anchors, strides = make_points(32, (1, 2, 4, 8))
    spu = torch.tensor([0.37, 1.25])
    t0 = torch.tensor([3.0, 0.0])
    segments_sec = torch.tensor([[[4.0, 9.5], [3.0, 14.0]], [[0.0, 40.0], [12.5, 13.0]]])  # (b, s, 2)
    disp = _encode(segments_sec, anchors, strides, spu, t0)  # (b, s, T, 2)
    inside = (disp >= 0).all(-1)
    assert inside.any(-1).all()  # every segment contains some anchor
    decoded = decode_segments(disp.clamp_min(0), anchors, strides, sec_per_unit=spu, t0_sec=t0)
    expected = segments_sec[:, :, None, :].expand_as(decoded)
    torch.testing.assert_close(decoded[inside], expected[inside])
