"""Where a task's videos and annotations come from and how they are sampled (paper §4.1; reference §2.2, §4, §5).

Defaults are the official ActivityNet TAL-B input: 128 frames at floor(linspace(0, N-1, 128)), resize the shorter
side to 256 and crop 224 (random crop + flip in training, centre crop at test), at most 24 segments per video.
Action segmentation sets `sampling.fps` (2 frames per second, windows of 512 samples, as the paper's COIN setting).
The text context length is not repeated here: it is `TowerConfig.context_length` of the model, whose tokenizer the
dataset builders take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from unloc.schema import check_literals


@dataclass(frozen=True)
class SplitSource:
    """One annotation file and the split of it to use (None = every video of the file)."""

    annotations: str = ""
    split: str | None = None


@dataclass(frozen=True)
class SamplingConfig:
    """Frame sampling: `num_frames` evenly spread over the whole video, or, with `fps` > 0, a fixed-rate stream cut
    into windows of `window` samples (training: one random window per video; evaluation: every window)."""

    num_frames: int = 128  # official: 128 (ANet, Charades), 144 (QVH), 160 (ANet TAL-L)
    fps: float = 0.0  # 0 = linspace; segmentation: 2.0
    window: int = 512  # official COIN window

    def __post_init__(self) -> None:
        if self.fps < 0 or self.window < 1 or (self.fps == 0 and self.num_frames < 2):
            raise ValueError(f"sampling needs fps >= 0, window >= 1 and (with linspace) num_frames >= 2, got {self}")


@dataclass(frozen=True)
class ImageConfig:
    """Frame preprocessing (official dmvr pipeline): shorter side to `short_side`, square crop of `crop_size` (the
    image tower's input size), random crop + flip in training, optional scale jitter (TAL configs: (0.9, 1.33)) and
    clip-wide RandAugment (num_ops, magnitude 0..10; TAL and COIN configs: (3, 10); `unloc.data.transforms`)."""

    crop_size: int = 224
    short_side: int = 256
    flip_prob: float = 0.5
    scale_jitter: tuple[float, float] | None = None
    rand_augment: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.rand_augment is not None and (len(self.rand_augment) != 2 or self.rand_augment[0] < 0
                                              or not 0 <= self.rand_augment[1] <= 10):
            raise ValueError(f"rand_augment={self.rand_augment} must be (num_ops >= 0, magnitude 0..10)")
        if self.crop_size < 1:
            raise ValueError(f"image.crop_size must be >= 1 pixel, got {self.crop_size}")
        if self.short_side < self.crop_size or not 0 <= self.flip_prob <= 1:
            raise ValueError(f"need short_side >= crop_size and 0 <= flip_prob <= 1, got {self}")


@dataclass(frozen=True)
class TaskDataConfig:
    """Data of one task: training and evaluation sources, videos, sampling, and the optional feature cache.

    `feature_cache` is either a cache root (the cache whose spec matches the model's image tower and this sampling is
    looked up, `unloc.data.features.find_cache`) or one cache directory holding `manifest.json`. It is read instead of
    decoding only when the image tower is frozen. `class_split` is a zero-shot split file `{"seen": [...], "unseen":
    [...]}` (class names): training keeps the seen classes, evaluation the unseen ones, relabelled 0..q-1 in file order.
    """

    train: SplitSource = field(default_factory=SplitSource)
    eval: SplitSource = field(default_factory=SplitSource)  # annotations "" = the training file
    video_root: str = ""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    feature_cache: str | None = None
    feature_dtype: Literal["float16", "float32"] = "float16"  # the cached dtype, part of the cache key (`unloc extract-features --dtype`)
    max_segments: int = 24  # official TAL 24 (the first ones), QVH 12 windows per caption, COIN 28; 0 = no limit
    class_split: str | None = None
    classes_file: str | None = None  # class names, one per line (e.g. Kinetics label_map.txt): the class list of
    # training and evaluation, instead of the classes found in each file
    mr_items: Literal["video", "query"] = "video"  # MR training items: 'video' (one random caption per video per epoch, official
    # ANet-Captions) or 'query' (one item per caption, as Charades-STA's 12408 examples)
    skip_bad: bool = True  # undecodable / missing videos are skipped and counted instead of stopping the run
    num_workers: int = 0  # DataLoader workers of the evaluation loader (training uses TrainConfig.num_workers)

    def __post_init__(self) -> None:
        check_literals(self)
        if self.max_segments < 0 or self.num_workers < 0:
            raise ValueError(f"max_segments and num_workers must be >= 0, got {self.max_segments}, {self.num_workers}")

    def source(self, role: str) -> SplitSource:
        """The annotation source of `role` ('train' or 'eval'); eval falls back to the training file."""
        if role == "train":
            return self.train
        if role != "eval":
            raise ValueError(f"role must be 'train' or 'eval', got {role!r}")
        return self.eval if self.eval.annotations else SplitSource(self.train.annotations, self.eval.split)


__all__ = ["ImageConfig", "SamplingConfig", "SplitSource", "TaskDataConfig"]
