"""Clip-wide RandAugment of the official TAL and COIN configs: torchvision's photometric ops, drawn once per clip."""

from typing import ClassVar

import pytest
import torch

from unloc.config.paper import load_paper_config
from unloc.data import transforms
from unloc.data.build import frame_transform
from unloc.data.config import ImageConfig, TaskDataConfig
from unloc.data.transforms import GEOMETRIC_OPS, FrameTransform, PhotometricRandAugment, clip_rand_augment


def _clip(t=4, h=24, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, 3, h, w), dtype=torch.uint8, generator=g)


def test_only_photometric_ops_are_drawn():
    ops = set(PhotometricRandAugment._AUGMENTATION_SPACE)
    assert ops == {"Identity", "Brightness", "Color", "Contrast", "Sharpness", "Posterize", "Solarize",
                   "AutoContrast", "Equalize"}
    assert not ops & set(GEOMETRIC_OPS)


def test_same_generator_state_same_output_and_the_global_rng_is_untouched():
    video = _clip()
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a = clip_rand_augment(video, 3, 10, torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), before)
    b = clip_rand_augment(video, 3, 10, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == torch.uint8 and a.shape == video.shape
    outputs = [clip_rand_augment(video, 3, 10, torch.Generator().manual_seed(s)) for s in range(20)]
    assert sum(not torch.equal(o, video) for o in outputs) >= 15  # three ops of nine: rarely all Identity
    assert len({o.float().mean().item() for o in outputs}) > 5  # different draws, different ops


def test_every_frame_gets_the_same_ops_and_statistics():
    """A clip of one frame repeated comes out as one frame repeated, whatever ops are drawn: the op, its magnitude and
    the AutoContrast / Equalize statistics are shared. Only Sharpness' 3x3 blur reaches across the seams between the
    stacked frames, one row deeper per Sharpness drawn (three ops: at most three rows)."""
    frame = _clip(t=1, h=20, w=20)[0]
    video = frame.expand(5, -1, -1, -1).contiguous()
    exact = 0
    for seed in range(40):
        out = clip_rand_augment(video, 3, 10, torch.Generator().manual_seed(seed)).int()
        inner = out[:, :, 3:-3]  # (t, 3, h-6, w)
        assert torch.equal(inner, inner[:1].expand_as(inner)), seed
        exact += torch.equal(out, out[:1].expand_as(out))
    assert exact >= 10  # draws without Sharpness: every frame identical


def test_clip_statistics_not_frame_statistics():
    """AutoContrast alone (num_ops 1, forced) stretches with the clip's range: a dark frame stays darker than a
    bright one, where per-frame statistics would stretch both to the full range."""
    dark = torch.full((1, 3, 8, 8), 10, dtype=torch.uint8)
    dark[..., 0, 0] = 60
    bright = torch.full((1, 3, 8, 8), 150, dtype=torch.uint8)
    bright[..., 0, 0] = 200
    video = torch.cat([dark, bright])

    class AutoContrastOnly(PhotometricRandAugment):
        _AUGMENTATION_SPACE: ClassVar[dict] = {"AutoContrast": PhotometricRandAugment._AUGMENTATION_SPACE["AutoContrast"]}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transforms, "PhotometricRandAugment", AutoContrastOnly)
        out = clip_rand_augment(video, 1, 10, torch.Generator().manual_seed(0))
    assert out[0].max() < out[1].min()  # clip-wide stretch keeps the order of the frames
    assert out[0].min() == 0 and out[1].max() == 255


def test_frame_transform_applies_it_in_training_only():
    frames = torch.randint(0, 256, (3, 40, 50, 3), dtype=torch.uint8)
    plain = FrameTransform(crop_size=32, short_side=36, train=True, normalize=False)
    ra = FrameTransform(crop_size=32, short_side=36, train=True, normalize=False, rand_augment=(3, 10))
    outs = [(plain(frames, torch.Generator().manual_seed(s)), ra(frames, torch.Generator().manual_seed(s)))
            for s in range(6)]
    assert any(not torch.equal(p, r) for p, r in outs)
    test = FrameTransform(crop_size=32, short_side=36, train=False, rand_augment=(3, 10))
    assert torch.equal(test(frames), FrameTransform(crop_size=32, short_side=36, train=False)(frames))
    assert "rand_augment" not in plain.to_dict() and ra.to_dict()["rand_augment"] == [3, 10]


def test_config_path_and_bad_values():
    cfg = TaskDataConfig(image=ImageConfig(crop_size=32, short_side=36, rand_augment=(3, 10)))
    assert frame_transform(cfg, True).rand_augment == (3, 10)
    for bad in ((3, 11), (-1, 5)):
        with pytest.raises(ValueError, match="rand_augment"):
            ImageConfig(rand_augment=bad)
        with pytest.raises(ValueError, match="rand_augment"):
            FrameTransform(rand_augment=bad)


@pytest.mark.parametrize("name", ["anet_tal_b", "anet_tal_l", "anet_tal_zs75_b", "coin_l"])
def test_official_ra_jitter_configs_use_it(name):
    image = load_paper_config(name).data.image
    assert image.rand_augment == (3, 10) and image.scale_jitter == (0.9, 1.33)


@pytest.mark.parametrize("name", ["qvh_b", "charades_b", "anet_captions_l"])
def test_crop_flip_configs_do_not(name):
    assert load_paper_config(name).data.image.rand_augment is None
