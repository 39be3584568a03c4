"""Frame preprocessing for the CLIP image tower: resize, crop, flip, normalise, with one random draw per clip.

Follows the official UnLoc input pipeline (paper §4.1; reference/unloc-official.md §4 "Augmentation"): resize the
shorter side to 256, take a random 224 crop and a random horizontal flip for training (optionally after a scale jitter
in [0.9, 1.33], as the TAL configs do), a single centre crop for testing, then normalise [0, 1] pixels with CLIP's mean
and std. The crop, flip and jitter are drawn once per clip and applied to every frame, so motion stays consistent in
time. The official TAL and COIN configs add RandAugment (3 layers, magnitude 10 of 10) after the flip: here
torchvision's RandAugment on the clip laid out as one tall image (c, t*h, w), as the official video RandAugment lays it
out, so each op and its magnitude are drawn once per clip and AutoContrast / Equalize use the clip's statistics; its
geometric ops are left out, as officially (whose op list also has Invert, SolarizeAdd and a clip-wide Cutout, which
torchvision's has not, and applies the enhance ops with a fixed factor 1.9 where torchvision draws 1 +- 0.9). Sizes are arguments because the mini-world's towers read small frames (e.g. 64 px). Resizing and cropping run
on uint8 pixels (torch's antialiased uint8 resize is an order of magnitude faster than on floats); with
`normalize=False` the clip stays uint8 (4x less to move between DataLoader workers and to the GPU) and
`normalize_frames` finishes the job on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from einops import rearrange
from torchvision.transforms import v2

# open_clip.constants.OPENAI_DATASET_MEAN / _STD; copied so that data workers need not import open_clip
# (tests/test_video_transforms.py checks they match).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RA_MAX_MAGNITUDE = 10  # the official (TF AutoAugment) magnitude scale: 0..10; torchvision bins 0..10 match it
GEOMETRIC_OPS = ("ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate")


class PhotometricRandAugment(v2.RandAugment):
    """torchvision's RandAugment without its geometric ops (the official video RandAugment has none)."""

    _AUGMENTATION_SPACE: ClassVar[dict] = {name: op for name, op in v2.RandAugment._AUGMENTATION_SPACE.items()
                                           if name not in GEOMETRIC_OPS}


def clip_rand_augment(video: torch.Tensor, num_ops: int, magnitude: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """RandAugment drawn once for a whole clip.

    Args:
        video: uint8 (t, 3, h, w).
        num_ops: ops applied in sequence (official 3); magnitude: 0..10 (official 10).
        generator: the clip's RNG; torchvision draws from the global RNG, which is seeded from it inside a fork so
            the caller's global RNG is untouched and the same generator state gives the same output.

    Returns:
        uint8 (t, 3, h, w).
    """
    if not 0 <= magnitude <= RA_MAX_MAGNITUDE or num_ops < 0:
        raise ValueError(f"rand_augment needs num_ops >= 0 and 0 <= magnitude <= {RA_MAX_MAGNITUDE}, got "
                         f"({num_ops}, {magnitude})")
    augment = PhotometricRandAugment(num_ops=num_ops, magnitude=magnitude, num_magnitude_bins=RA_MAX_MAGNITUDE + 1)
    seed = int(torch.randint(2**62, (), generator=generator))
    tall = rearrange(video, "t c h w -> c (t h) w")  # one image: ops and statistics shared by every frame
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tall = augment(tall)
    return rearrange(tall, "c (t h) w -> t c h w", t=video.shape[0])


@dataclass(frozen=True)
class FrameTransform:
    """Resize + crop (+ flip) + CLIP normalisation of a clip.

    Attributes:
        crop_size: side of the square output (224 at paper scale).
        short_side: the shorter side is resized to this before cropping (256 at paper scale).
        train: random crop + flip (+ jitter) when True; centre crop when False.
        flip_prob: probability of a horizontal flip in training.
        scale_jitter: (low, high) factor applied to `short_side` in training, None for no jitter.
        rand_augment: (num_ops, magnitude 0..10) of a clip-wide RandAugment in training (`clip_rand_augment`;
            official TAL / COIN: (3, 10)), None for none.
        mean: per-channel mean of [0, 1] pixels.
        std: per-channel standard deviation of [0, 1] pixels.
        normalize: return normalised float frames; False returns uint8 frames for `normalize_frames` later.
    """

    crop_size: int = 224
    short_side: int = 256
    train: bool = False
    flip_prob: float = 0.5
    scale_jitter: tuple[float, float] | None = None
    rand_augment: tuple[int, int] | None = None
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    normalize: bool = True

    def __post_init__(self):
        if self.short_side < self.crop_size:
            raise ValueError(f"short_side {self.short_side} must be >= crop_size {self.crop_size}")
        if self.rand_augment is not None:
            ops, magnitude = self.rand_augment
            if ops < 0 or not 0 <= magnitude <= RA_MAX_MAGNITUDE:
                raise ValueError(f"rand_augment=({ops}, {magnitude}) needs num_ops >= 0 and 0 <= magnitude <= "
                                 f"{RA_MAX_MAGNITUDE}")

    def to_dict(self) -> dict:
        """The preprocessing as plain data, for feature-cache keys (`normalize` only says where it happens;
        `rand_augment` appears only when set, so the keys of caches written before it existed stay valid)."""
        out = {"crop_size": self.crop_size, "short_side": self.short_side, "train": self.train,
               "flip_prob": self.flip_prob, "scale_jitter": self.scale_jitter,
               "mean": list(self.mean), "std": list(self.std)}
        if self.rand_augment is not None:
            out["rand_augment"] = list(self.rand_augment)
        return out

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Transform one clip.

        Args:
            frames: uint8 (t, h, w, 3) RGB frames of one clip.
            generator: RNG for the training draws (crop position, flip, jitter, RandAugment); the same seed gives the
                same output.

        Returns:
            (t, 3, crop_size, crop_size): float32 normalised frames, or uint8 with `normalize=False`.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(f"expected uint8 frames (t, h, w, 3), got {frames.dtype} {tuple(frames.shape)}")
        video = rearrange(frames, "t h w c -> t c h w")  # a channels-last view, which uint8 resizing prefers
        short = self.short_side
        if self.train and self.scale_jitter is not None:
            low, high = self.scale_jitter
            factor = low + (high - low) * float(torch.rand((), generator=generator))
            short = max(self.crop_size, round(short * factor))
        video = resize_short_side(video, short)
        video = self._crop(video, generator)
        if self.train and float(torch.rand((), generator=generator)) < self.flip_prob:
            video = video.flip(-1)
        if self.train and self.rand_augment is not None:
            video = clip_rand_augment(video.contiguous(), *self.rand_augment, generator=generator)
        video = video.contiguous()  # (t, 3, s, s) uint8
        return normalize_frames(video, self.mean, self.std) if self.normalize else video

    def _crop(self, video: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        height, width = video.shape[-2:]
        size = self.crop_size
        if self.train:
            top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
        else:
            top, left = (height - size) // 2, (width - size) // 2
        return video[..., top:top + size, left:left + size]


def normalize_frames(frames: torch.Tensor, mean: tuple[float, ...] = CLIP_MEAN,
                     std: tuple[float, ...] = CLIP_STD) -> torch.Tensor:
    """(pixel / 255 - mean) / std per channel, on whatever device `frames` live.

    Args:
        frames: (..., 3, h, w) uint8 pixels (or floats on the 0..255 scale).
        mean, std: per-channel statistics of [0, 1] pixels.

    Returns:
        float32 (..., 3, h, w).
    """
    mean_255 = torch.tensor(mean, device=frames.device).view(3, 1, 1) * 255.0
    std_255 = torch.tensor(std, device=frames.device).view(3, 1, 1) * 255.0
    return frames.to(torch.float32, copy=True).sub_(mean_255).div_(std_255)


def resize_short_side(video: torch.Tensor, short_side: int) -> torch.Tensor:
    """Bilinear (antialiased) resize so that min(h, w) == short_side, keeping the aspect ratio.

    Args:
        video: uint8 or float (t, 3, h, w).
        short_side: target length of the shorter side.

    Returns:
        (t, 3, h', w') of the same dtype with min(h', w') == short_side; the input itself when already that size.
    """
    height, width = video.shape[-2:]
    if min(height, width) == short_side:
        return video
    scale = short_side / min(height, width)
    size = (short_side, max(short_side, round(width * scale))) if height <= width else \
        (max(short_side, round(height * scale)), short_side)
    return F.interpolate(video, size=size, mode="bilinear", align_corners=False, antialias=True)
