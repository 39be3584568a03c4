"""Resize, crop, flip and CLIP normalisation of unloc.data.transforms, checked on frames whose pixels encode position."""

import ast
import importlib.util
from pathlib import Path

import pytest
import torch

from unloc.data.transforms import CLIP_MEAN, CLIP_STD, FrameTransform, normalize_frames, resize_short_side


def positional_frames(num_frames: int, height: int, width: int) -> torch.Tensor:
    """uint8 (t, h, w, 3): R = column, G = row, B = 10 * frame index."""
    frames = torch.zeros(num_frames, height, width, 3, dtype=torch.uint8)
    frames[..., 0] = torch.arange(width, dtype=torch.uint8)[None, None, :]
    frames[..., 1] = torch.arange(height, dtype=torch.uint8)[None, :, None]
    frames[..., 2] = (10 * torch.arange(num_frames)).to(torch.uint8)[:, None, None]
    return frames


def unnormalize(video: torch.Tensor) -> torch.Tensor:
    """(t, 3, h, w) normalised -> 0..255 pixel values."""
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (video * std + mean) * 255


def test_clip_constants_match_open_clip():
    # read open_clip/constants.py without importing open_clip (slow, pulls torchvision)
    source = Path(importlib.util.find_spec("open_clip").origin).parent / "constants.py"
    values = {}
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
    assert ast.literal_eval(values["OPENAI_DATASET_MEAN"]) == CLIP_MEAN
    assert ast.literal_eval(values["OPENAI_DATASET_STD"]) == CLIP_STD


def test_normalisation_hand_worked():
    frames = torch.full((1, 8, 8, 3), 255, dtype=torch.uint8)
    out = FrameTransform(crop_size=8, short_side=8)(frames)
    expected = [(1 - m) / s for m, s in zip(CLIP_MEAN, CLIP_STD)]  # pixel 1.0 per channel
    assert out.shape == (1, 3, 8, 8) and out.dtype == torch.float32
    assert torch.allclose(out[0, :, 0, 0], torch.tensor(expected))


@pytest.mark.parametrize("height,width,expected", [(48, 64, (32, 43)), (64, 48, (43, 32)), (32, 32, (32, 32))])
def test_resize_short_side_keeps_aspect(height, width, expected):
    assert resize_short_side(torch.rand(2, 3, height, width), 32).shape[-2:] == expected


def test_centre_crop_is_the_middle():
    frames = positional_frames(3, 40, 60)  # short side already 40: no resize, crop 20 -> rows 10..29, cols 20..39
    out = unnormalize(FrameTransform(crop_size=20, short_side=40)(frames)).round()
    assert out.shape == (3, 3, 20, 20)
    assert out[0, 0, 0].tolist() == list(range(20, 40))  # R = column
    assert out[0, 1, :, 0].tolist() == list(range(10, 30))  # G = row
    assert out[:, 2, 0, 0].tolist() == [0, 10, 20]  # B = frame index: frame order kept


def test_train_crop_and_flip_are_shared_by_all_frames_and_seeded():
    frames = positional_frames(4, 40, 60)
    transform = FrameTransform(crop_size=20, short_side=40, train=True)
    out = unnormalize(transform(frames, torch.Generator().manual_seed(3))).round()
    # every frame got the same crop and flip: the R/G planes are identical across time
    assert torch.equal(out[:, :2], out[:1, :2].expand(4, -1, -1, -1))
    cols, rows = out[0, 0, 0], out[0, 1, :, 0]
    assert rows.tolist() == list(range(int(rows[0]), int(rows[0]) + 20))  # a contiguous 20-row window
    step = (cols[1] - cols[0]).item()
    assert step in (1.0, -1.0) and (cols.diff() == step).all()  # contiguous, flipped when decreasing
    again = unnormalize(transform(frames, torch.Generator().manual_seed(3))).round()
    assert torch.equal(out, again)


def test_train_draws_cover_positions_and_flips():
    frames = positional_frames(1, 30, 30)
    transform = FrameTransform(crop_size=20, short_side=30, train=True)
    seen = set()
    for seed in range(60):
        out = unnormalize(transform(frames, torch.Generator().manual_seed(seed))).round()
        seen.add((int(out[0, 1, 0, 0]), int(out[0, 0, 0, 0]), bool(out[0, 0, 0, 1] < out[0, 0, 0, 0])))
    tops = {top for top, _, _ in seen}
    flips = {flip for _, _, flip in seen}
    assert len(tops) > 5 and tops <= set(range(11)) and flips == {True, False}


def test_scale_jitter_changes_scale_but_not_output_size():
    frames = positional_frames(2, 48, 64)
    transform = FrameTransform(crop_size=16, short_side=24, train=True, flip_prob=0.0, scale_jitter=(0.9, 1.33))
    spans = set()
    for seed in range(20):
        out = unnormalize(transform(frames, torch.Generator().manual_seed(seed)))
        assert out.shape == (2, 3, 16, 16)
        spans.add(round(float(out[0, 0, 0, -1] - out[0, 0, 0, 0]), 1))  # column span covered by the crop
    assert len(spans) > 3  # different zoom per draw


def test_uint8_output_then_normalize_equals_normalized_output():
    frames = positional_frames(3, 30, 50)
    kwargs = {"crop_size": 20, "short_side": 24, "train": True}
    raw = FrameTransform(**kwargs, normalize=False)(frames, torch.Generator().manual_seed(5))
    assert raw.dtype == torch.uint8 and raw.shape == (3, 3, 20, 20)
    normalized = FrameTransform(**kwargs)(frames, torch.Generator().manual_seed(5))
    assert torch.allclose(normalize_frames(raw), normalized, atol=1e-6)
    as_float = raw.float()
    assert torch.allclose(normalize_frames(as_float), normalized, atol=1e-6)
    assert torch.equal(as_float, raw.float())  # float input is not modified in place


def test_uint8_resize_matches_float_resize_within_rounding():
    video = torch.randint(0, 256, (2, 3, 30, 45), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    small = resize_short_side(video, 20)
    reference = resize_short_side(video.float(), 20)
    assert small.dtype == torch.uint8 and small.shape == (2, 3, 20, 30)
    assert (small.float() - reference).abs().max() <= 1.0


def test_rejects_bad_shapes_and_sizes():
    with pytest.raises(ValueError):
        FrameTransform(crop_size=32, short_side=16)
    with pytest.raises(ValueError, match="t, h, w, 3"):
        FrameTransform(crop_size=8, short_side=8)(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="uint8"):
        FrameTransform(crop_size=8, short_side=8)(torch.zeros(1, 8, 8, 3))
