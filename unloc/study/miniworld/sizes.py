"""How big the mini-world is: frame size, frame rate, and the number and length of videos of each dataset.

`WorldSize` is frozen; `SIZES` holds the presets (`default` for the study, `tiny` for tests and smoke runs) and
`override` applies dotted `key=value` changes such as `anet13.num_videos=40` from the command line or params.yaml.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SetSize:
    """One video dataset: how many videos, the range of their durations (seconds) and the fraction that trains (the
    first videos; the rest are held out for evaluation)."""

    num_videos: int
    min_sec: float
    max_sec: float
    train_fraction: float = 0.7


@dataclass(frozen=True)
class PairSize:
    """The frame–caption set for the two-tower model: pairs, and frames stored per pair (spread over the act)."""

    num_pairs: int
    frames_per_pair: int


@dataclass(frozen=True)
class WorldSize:
    """All sizes of one mini-world. Defaults are the `default` preset (a few minutes on 2 cores).

    The default evaluation splits hold at least 200 items each (issue 16: videos for Kinetics, TAL and COIN, queries
    for the moment-retrieval sets, about 3 per Charades-shaped video, 2.5 per QVHighlights-shaped one and 4.5 per
    ActivityNet-Captions-shaped paragraph); the class sets hold out more than they train on, as training time is what
    the study's many runs multiply.
    """

    frame_px: int = 64
    fps: int = 4
    kinetics: SetSize = field(default_factory=lambda: SetSize(700, 2.0, 4.0))
    anet13: SetSize = field(default_factory=lambda: SetSize(340, 30.0, 60.0, 0.4))
    # Charades-shaped: 888 training videos (2,684 queries; 484 from 168 videos left R1@0.5 at 11-14, memorised,
    # while 2,684 gave 17.8-18.7 on a test set of the same difficulty, random windows 10.2 / 10.7), 72 for test
    charades_sta: SetSize = field(default_factory=lambda: SetSize(960, 15.0, 30.0, 0.925))
    qvhighlights: SetSize = field(default_factory=lambda: SetSize(170, 150.0, 150.0, 0.5))
    anet_captions: SetSize = field(default_factory=lambda: SetSize(160, 60.0, 120.0))
    coin: SetSize = field(default_factory=lambda: SetSize(290, 30.0, 60.0, 0.3))
    pairs: PairSize = field(default_factory=lambda: PairSize(4000, 4))

    def __post_init__(self):
        if self.frame_px % 2 or self.frame_px < 16:
            raise ValueError(f"frame_px must be even and >= 16 (H.264 yuv420p), got {self.frame_px}")
        if self.fps < 1:
            raise ValueError(f"fps must be >= 1, got {self.fps}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, SetSize) and not (value.num_videos >= 2 and 0 < value.min_sec <= value.max_sec
                                                   and 0 < value.train_fraction < 1):
                raise ValueError(f"{f.name}: need num_videos >= 2 (one per split), 0 < min_sec <= max_sec and "
                                 f"0 < train_fraction < 1, got {value}")
        if self.qvhighlights.max_sec % 2:
            raise ValueError(f"qvhighlights.max_sec must be a multiple of the 2 s clip, got {self.qvhighlights.max_sec}")


SIZES: dict[str, WorldSize] = {
    "default": WorldSize(),
    "tiny": WorldSize(
        frame_px=32,
        fps=4,
        kinetics=SetSize(12, 2.0, 3.0),
        anet13=SetSize(6, 12.0, 20.0),
        charades_sta=SetSize(6, 8.0, 12.0),
        qvhighlights=SetSize(3, 30.0, 30.0),
        anet_captions=SetSize(4, 20.0, 30.0),
        coin=SetSize(6, 16.0, 24.0),
        pairs=PairSize(64, 2),
    ),
}


def _parse(text: str, like: object) -> object:
    if isinstance(like, bool):
        raise TypeError("no boolean sizes")
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    raise TypeError(f"cannot set a {type(like).__name__} from text")


def override(size: WorldSize, assignments: list[str]) -> WorldSize:
    """Apply `key=value` or `dataset.key=value` assignments.

    Args:
        size: the starting sizes.
        assignments: e.g. ["fps=8", "anet13.num_videos=40"].

    Returns:
        A new `WorldSize` (validated again).

    Raises:
        ValueError: on an unknown key or a malformed assignment, naming it.
    """
    for item in assignments:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) > 2:
            raise ValueError(f"size override {item!r}: expected key=value or dataset.key=value")
        try:
            if len(parts) == 1:
                size = dataclasses.replace(size, **{parts[0]: _parse(text, getattr(size, parts[0]))})
            else:
                inner = getattr(size, parts[0])
                new_inner = dataclasses.replace(inner, **{parts[1]: _parse(text, getattr(inner, parts[1]))})
                size = dataclasses.replace(size, **{parts[0]: new_inner})
        except (AttributeError, TypeError) as err:
            raise ValueError(f"size override {item!r}: {err}") from err
    return size
