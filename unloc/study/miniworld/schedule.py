"""Placing actions on objects: the bookkeeping shared by all mini-world scenarios.

`SceneBuilder` holds draft objects and their acts and only accepts an act that keeps every object consistent: acts
of one object never overlap (a short gap separates them), an object can only appear as its first act and disappear
as its last, and times sit on the dataset's time grid. Scenarios ask it for a free object that matches a predicate
("red, but not a circle") and for free time, then `build()` freezes the result into a `Scene`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from unloc.study.miniworld.world import Act, Scene, Thing

GAP_SEC = 0.5  # idle time kept between two acts of one object, so their boundaries are visible


@dataclass
class _Draft:
    colour: str
    shape: str
    acts: list[Act] = field(default_factory=list)
    shown: tuple[float, float] | None = None


class SceneBuilder:
    """Mutable draft of a scene.

    Args:
        rng: source of all random choices the builder makes.
        duration_sec: video duration.
        quantum_sec: time grid of the annotation format (e.g. 0.1 for Charades-STA, 2 for QVHighlights).
    """

    def __init__(self, rng: np.random.Generator, duration_sec: float, quantum_sec: float):
        self.rng = rng
        self.duration_sec = duration_sec
        self.quantum_sec = quantum_sec
        self.drafts: list[_Draft] = []

    def snap(self, t_sec: float) -> float:
        """Round a time onto the grid, inside [0, duration]."""
        q = self.quantum_sec
        t = round(round(t_sec / q) * q, 6)
        return min(max(t, 0.0), math.floor(self.duration_sec / q + 1e-9) * q)

    def add_thing(self, colour: str, shape: str, shown: tuple[float, float] | None = None) -> int:
        """A new object; `shown` = (start_sec, end_sec) keeps it on screen only then (None: always)."""
        self.drafts.append(_Draft(colour, shape, shown=shown))
        return len(self.drafts) - 1

    def can_add(self, idx: int, action: str, start_sec: float, end_sec: float) -> bool:
        """Whether object `idx` may do `action` over [start_sec, end_sec)."""
        if not 0.0 <= start_sec < end_sec <= self.duration_sec + 1e-9:
            return False
        acts = self.drafts[idx].acts
        if any(start_sec < a.end_sec + GAP_SEC and a.start_sec < end_sec + GAP_SEC for a in acts):
            return False
        before = [a for a in acts if a.end_sec <= start_sec]
        after = [a for a in acts if a.start_sec >= end_sec]
        if any(a.action == "disappear" for a in before) or any(a.action == "appear" for a in after):
            return False
        if action == "appear":
            return not before
        if action == "disappear":
            return not after
        return True

    def add_act(self, idx: int, action: str, start_sec: float, end_sec: float) -> None:
        if not self.can_add(idx, action, start_sec, end_sec):
            raise ValueError(f"object {idx} cannot {action} over [{start_sec}, {end_sec})")
        self.drafts[idx].acts.append(Act(action, start_sec, end_sec))
        self.drafts[idx].acts.sort(key=lambda a: a.start_sec)

    def shown_around(self, start_sec: float, end_sec: float, max_margin_sec: float) -> tuple[float, float]:
        """An on-screen window around an act: up to `max_margin_sec` earlier and later (uniform), inside the video."""
        before, after = self.rng.uniform(0.0, max_margin_sec, size=2)
        return max(0.0, round(start_sec - before, 4)), min(self.duration_sec, round(end_sec + after, 4))

    def sample_span(self, min_sec: float, max_sec: float, within: tuple[float, float] | None = None
                    ) -> tuple[float, float]:
        """A random grid-aligned span: log-uniform length in [min_sec, max_sec], uniform start.

        Args:
            within: if given, the span must overlap this (start, end) interval.
        """
        q = self.quantum_sec
        max_sec = max(min(max_sec, self.duration_sec), min_sec)
        length = max(q, self.snap(math.exp(self.rng.uniform(math.log(min_sec), math.log(max_sec)))))
        length = max(length, math.ceil(min_sec / q - 1e-9) * q)
        lo, hi = 0.0, max(0.0, self.duration_sec - length)
        if within is not None:  # overlap: start in (within.start - length, within.end)
            lo, hi = max(lo, within[0] - length + q), min(hi, within[1] - q)
            if hi < lo:
                lo = hi = min(within[0], max(0.0, self.duration_sec - length))
        limit = self.snap(self.duration_sec)
        start = max(0.0, min(self.snap(self.rng.uniform(lo, hi)), round(limit - length, 6)))
        return start, round(min(start + length, limit), 6)

    def find_free(self, action: str, span: tuple[float, float], accept: Callable[[str, str], bool]) -> int | None:
        """A random existing object that matches `accept(colour, shape)` and can do `action` over `span`."""
        candidates = [i for i, d in enumerate(self.drafts) if accept(d.colour, d.shape)
                      and self.can_add(i, action, *span)]
        return int(self.rng.choice(candidates)) if candidates else None

    def triples(self) -> list[tuple[str, str, str, float, float]]:
        """Every act as (colour, shape, action, start_sec, end_sec)."""
        return [(d.colour, d.shape, a.action, a.start_sec, a.end_sec) for d in self.drafts for a in d.acts]

    def build(self, shuffle: bool = True) -> Scene:
        """Freeze the drafts; `shuffle` randomises the drawing order so targets are not always on top."""
        order = self.rng.permutation(len(self.drafts)) if shuffle else np.arange(len(self.drafts))
        things = tuple(Thing(d.colour, d.shape, tuple(d.acts), d.shown) for d in (self.drafts[i] for i in order))
        return Scene(self.duration_sec, things)


def windows_of(scene: Scene, colour: str, shape: str, action: str) -> list[tuple[float, float]]:
    """Ground truth of a query: the merged spans where any object of this colour and shape does this action."""
    spans = sorted((a.start_sec, a.end_sec) for t in scene.things if (t.colour, t.shape) == (colour, shape)
                   for a in t.acts if a.action == action)
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]
