"""Scenes for moment retrieval: captions that only appearance *and* motion together resolve.

A query names a colour, a shape and an action ("the red circle moves left"). For every window of every query the
builder adds a *colour distractor* (an object of the same colour doing something else at an overlapping time) and a
*motion distractor* (an object of another colour doing the same action at an overlapping time); objects share a small
per-video palette, so same-shape and same-colour look-alikes are common. Other acts never reproduce a query's
(colour, shape, action), so each query's ground truth is exactly the windows planned for it; `windows_of` recomputes
it from the finished scene and the scenario checks the two agree. Used by the Charades-STA, QVHighlights and
ActivityNet Captions look-alikes (paper §4.1, moment retrieval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unloc.study.miniworld.schedule import SceneBuilder, windows_of
from unloc.study.miniworld.vocab import ACTION_KEYS, COLOURS, SHAPES, caption
from unloc.study.miniworld.world import Scene

MAX_TRIES = 40


@dataclass(frozen=True)
class Query:
    """One caption and its ground-truth windows (seconds)."""

    colour: str
    shape: str
    action: str
    text: str
    windows: tuple[tuple[float, float], ...]


class QueryScene:
    """Builds one moment-retrieval video.

    Args:
        rng: random source (consumed in a fixed order).
        duration_sec: video duration.
        quantum_sec: time grid of the format's windows.
        span_sec: (min, max) length of a query window and of a distractor act.
    """

    def __init__(self, rng: np.random.Generator, duration_sec: float, quantum_sec: float,
                 span_sec: tuple[float, float]):
        self.rng = rng
        self.builder = SceneBuilder(rng, duration_sec, quantum_sec)
        self.span_sec = span_sec
        n_colours, n_shapes = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        self.colours = [str(c) for c in rng.choice(list(COLOURS), size=n_colours, replace=False)]
        self.shapes = [str(s) for s in rng.choice(SHAPES, size=n_shapes, replace=False)]
        self.planned: dict[tuple[str, str, str], list[tuple[float, float]]] = {}

    def _target(self, colour: str, shape: str) -> int:
        """The object that carries every query about (colour, shape); one per pair, so windows stay distinct."""
        for i, d in enumerate(self.builder.drafts):
            if (d.colour, d.shape) == (colour, shape) and any((colour, shape) == k[:2] for k in self.planned):
                return i
        return self.builder.add_thing(colour, shape)

    def add_query(self, spans: list[tuple[float, float]] | None = None, n_windows: int = 1) -> bool:
        """Plan one new query: either on the given spans, or on `n_windows` random spans.

        Returns:
            False if no new (colour, shape, action) could be placed (the video is too full).
        """
        b = self.builder
        for _ in range(MAX_TRIES):
            key = (str(self.rng.choice(self.colours)), str(self.rng.choice(self.shapes)),
                   str(self.rng.choice(ACTION_KEYS)))
            if key in self.planned:
                continue
            count = 1 if key[2] in ("appear", "disappear") else n_windows
            n_before = len(b.drafts)
            idx = self._target(key[0], key[1])
            chosen: list[tuple[float, float]] = []
            for span in spans if spans is not None else (b.sample_span(*self.span_sec) for _ in range(MAX_TRIES)):
                if b.can_add(idx, key[2], *span):
                    b.add_act(idx, key[2], *span)
                    chosen.append(span)
                if len(chosen) == count:
                    break
            if chosen:
                self.planned[key] = sorted(chosen)
                return True
            del b.drafts[n_before:]  # an unused new target
        return False

    def _distractor(self, action: str, window: tuple[float, float], colour_ok, make_colour: str | None) -> None:
        """One act overlapping `window` by an object whose colour passes `colour_ok` (new object if none is free)."""
        b = self.builder
        for attempt in range(MAX_TRIES):
            span = b.sample_span(self.span_sec[0], max(self.span_sec[0], window[1] - window[0]), within=window)
            idx = b.find_free(action, span, lambda c, s: colour_ok(c) and (c, s, action) not in self.planned)
            if idx is None and attempt >= MAX_TRIES // 2:
                palette = [c for c in self.colours if colour_ok(c)] or [c for c in COLOURS if colour_ok(c)]
                colour = make_colour or str(self.rng.choice(palette))
                shapes = [s for s in self.shapes if (colour, s, action) not in self.planned]
                idx = b.add_thing(colour, str(self.rng.choice(shapes or list(SHAPES))))
                if (colour, b.drafts[idx].shape, action) in self.planned or not b.can_add(idx, action, *span):
                    del b.drafts[idx:]
                    continue
            if idx is not None:
                b.add_act(idx, action, *span)
                return
        raise RuntimeError(f"could not place a distractor for window {window}")

    def add_distractors(self) -> None:
        """For each planned window: a same-colour object acting otherwise, an other-colour object acting alike."""
        for (colour, _, action), windows in list(self.planned.items()):
            for window in windows:
                other = str(self.rng.choice([a for a in ACTION_KEYS if a != action]))
                self._distractor(other, window, lambda c, col=colour: c == col, colour)
                self._distractor(action, window, lambda c, col=colour: c != col, None)

    def add_fillers(self, count: int) -> None:
        """Extra acts anywhere, never repeating a query's (colour, shape, action)."""
        b = self.builder
        for _ in range(count * 4):
            if count == 0 or not b.drafts:
                return
            idx = int(self.rng.integers(len(b.drafts)))
            action = str(self.rng.choice(ACTION_KEYS))
            span = b.sample_span(*self.span_sec)
            d = b.drafts[idx]
            if (d.colour, d.shape, action) not in self.planned and b.can_add(idx, action, *span):
                b.add_act(idx, action, *span)
                count -= 1

    def finish(self) -> tuple[Scene, list[Query]]:
        """Freeze the scene; each query's windows are read back from the scene and checked against the plan."""
        scene = self.builder.build()
        queries = []
        for (colour, shape, action), planned in self.planned.items():
            found = windows_of(scene, colour, shape, action)
            if found != planned:
                raise AssertionError(f"query {(colour, shape, action)}: planned {planned}, scene has {found}")
            text = caption(colour, shape, action, int(self.rng.integers(1 << 16)))
            queries.append(Query(colour, shape, action, text, tuple(found)))
        return scene, queries


def consecutive_spans(rng: np.random.Generator, builder: SceneBuilder, count: int, min_sec: float
                      ) -> list[tuple[float, float]]:
    """`count` back-to-back spans covering most of the video, with small gaps or overlaps between neighbours.

    The neighbours of one paragraph may overlap by up to a second, as in ActivityNet Captions.
    """
    duration = builder.duration_sec
    t0, t1 = rng.uniform(0, 0.08) * duration, (1 - rng.uniform(0, 0.08)) * duration
    lengths = min_sec + (t1 - t0 - count * min_sec) * rng.dirichlet(np.full(count, 2.0))
    bounds = t0 + np.concatenate([[0.0], np.cumsum(lengths)])
    spans = []
    for k in range(count):
        start = bounds[k] - (rng.uniform(0, 1.0) if k and rng.random() < 0.3 else 0.0)
        end = bounds[k + 1] - rng.uniform(0, min(1.5, 0.3 * lengths[k]))
        spans.append((builder.snap(start), builder.snap(end)))
    return spans
