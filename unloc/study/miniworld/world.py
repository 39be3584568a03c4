"""Objects, their actions, and where they are at any time: the mini-world's physics.

A `Scene` is a duration plus `Thing`s (a coloured shape with a time-ordered list of `Act`s). `plan_tracks` turns a
scene into `Track`s: a start position, size and rotation for each thing plus the numeric parameters of every act,
chosen so that each thing stays inside the frame for its whole life. `track_state` evaluates a track at any times in
closed form (sums of clipped ramps), so a frame can be rendered without simulating the frames before it. Annotations
are read from the same `Act`s that drive the motion, so they are exact by construction.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

MIN_RADIUS_FRAC = 0.07  # object radius range, as a fraction of the frame side
MAX_RADIUS_FRAC = 0.16
EXTENT = {"circle": 1.0, "square": 1.15, "triangle": 1.3, "star": 1.3}  # circumradius / nominal radius


@dataclass(frozen=True)
class Act:
    """One action of one object over [start_sec, end_sec)."""

    action: str
    start_sec: float
    end_sec: float


@dataclass(frozen=True)
class Thing:
    """A coloured shape and its acts, sorted by time and never overlapping.

    `shown` limits when the object is on screen to [start_sec, end_sec) (None: the whole video); the class datasets
    use it so that an actor is present only around its act, as the props of a real activity mostly are.
    """

    colour: str
    shape: str
    acts: tuple[Act, ...] = ()
    shown: tuple[float, float] | None = None


@dataclass(frozen=True)
class Scene:
    """What one video shows: its duration and its objects (drawn in order, later ones on top)."""

    duration_sec: float
    things: tuple[Thing, ...]

    def events(self) -> list[tuple[int, Act]]:
        """All (thing index, act) pairs, sorted by start time."""
        pairs = [(i, a) for i, t in enumerate(self.things) for a in t.acts]
        return sorted(pairs, key=lambda p: (p[1].start_sec, p[0]))


@dataclass(frozen=True)
class Track:
    """Numeric plan of one thing. Each entry of `params` is (kind, start_sec, end_sec, values)."""

    x0: float
    y0: float
    log_r0: float
    angle0: float
    alpha0: float
    params: tuple[tuple[str, float, float, tuple[float, ...]], ...]
    shown: tuple[float, float] | None = None


def _cycles(duration_sec: float, fps: float) -> int:
    """Whole blink/bounce cycles in an act: about one per second, never under four frames per cycle."""
    period = max(1.0, 4.0 / fps)
    return max(1, round(duration_sec / period))


def _act_params(act: Act, rng: np.random.Generator, px: int, fps: float) -> tuple[str, tuple[float, ...]]:
    dur = act.end_sec - act.start_sec
    key = act.action
    if key.startswith("move_"):
        dist = rng.uniform(0.3, 0.55) * px
        dx, dy = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1), "move_down": (0, 1)}[key]
        return "move", (dx * dist, dy * dist)
    if key in ("grow", "shrink"):
        factor = math.log(rng.uniform(1.5, 2.0))
        return "scale", (factor if key == "grow" else -factor,)
    if key == "spin":
        # at most ~1/12 turn per frame, so the rotation is never aliased
        omega = rng.uniform(0.6, 0.9) * 2 * math.pi * fps / 12
        return "spin", (omega * rng.choice([-1.0, 1.0]),)
    if key == "blink":
        return "blink", (float(_cycles(dur, fps)),)
    if key == "bounce":
        return "bounce", (float(_cycles(dur, fps)), 0.15 * px)
    if key in ("appear", "disappear"):
        return "fade", (1.0 if key == "appear" else -1.0,)
    raise ValueError(f"unknown action {key!r}")


def _fit_start(offsets: np.ndarray, lo: float, hi: float) -> tuple[float, float, float]:
    """Scale a cumulative offset path to fit [lo, hi] and return (scale, start_lo, start_hi) for the start value."""
    span = float(offsets.max() - offsets.min())
    scale = 1.0 if span <= hi - lo or span == 0 else (hi - lo) / span
    start_lo = lo - scale * float(offsets.min())
    return scale, start_lo, max(start_lo, hi - scale * float(offsets.max()))  # max: rounding when it just fits


def _plan_one(thing: Thing, rng: np.random.Generator, px: int, fps: float, others: list[np.ndarray],
              probe_sec: np.ndarray) -> Track:
    raw = [(kind, a.start_sec, a.end_sec, vals) for a in thing.acts for kind, vals in [_act_params(a, rng, px, fps)]]
    # size first: the margin that keeps the shape inside the frame depends on its largest radius
    log_steps = np.cumsum([0.0] + [v[0] for k, _, _, v in raw if k == "scale"])
    r_scale, lr_lo, lr_hi = _fit_start(log_steps, math.log(MIN_RADIUS_FRAC * px), math.log(MAX_RADIUS_FRAC * px))
    log_r0 = rng.uniform(lr_lo, lr_hi)
    margin = math.exp(log_r0 + r_scale * log_steps.max()) * EXTENT[thing.shape] + 1.0
    # position: every point the path visits (bounces reach up by their amplitude) must lie inside the margin
    xs, ys, x, y = [0.0], [0.0], 0.0, 0.0
    for kind, _, _, v in raw:
        if kind == "move":
            x, y = x + v[0], y + v[1]
            xs.append(x), ys.append(y)
        elif kind == "bounce":
            ys.append(y - v[1])
    sx, x_lo, x_hi = _fit_start(np.array(xs), margin, px - margin)
    sy, y_lo, y_hi = _fit_start(np.array(ys), margin, px - margin)
    params = []
    for kind, s, e, v in raw:
        if kind == "move":
            v = (v[0] * sx, v[1] * sy)
        elif kind == "scale":
            v = (v[0] * r_scale,)
        elif kind == "bounce":  # the hop was part of the fitted path, so it shrinks with it
            v = (v[0], v[1] * sy)
        params.append((kind, s, e, v))
    first_fade = next((v[0] for k, _, _, v in params if k == "fade"), -1.0)
    base = Track(0.0, 0.0, log_r0, rng.uniform(0, 2 * math.pi), 0.0 if first_fade > 0 else 1.0, tuple(params),
                 thing.shown)
    path = _positions(base, probe_sec)  # (2, probes) offsets from the start point
    best, best_gap = (x_lo, y_lo), -1.0
    for _ in range(12 if others else 1):  # keep objects apart: best of a few random starts
        start = (rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi))
        pos = path + np.array(start)[:, None]
        gap = min((float(np.min(np.hypot(*(pos - o)))) for o in others), default=math.inf)
        if gap > best_gap:
            best, best_gap = start, gap
    return dataclasses.replace(base, x0=best[0], y0=best[1])


def _positions(track: Track, times: np.ndarray) -> np.ndarray:
    state = track_state(track, times)
    return np.stack([state["x"], state["y"]])


def plan_tracks(scene: Scene, rng: np.random.Generator, frame_px: int, fps: float) -> list[Track]:
    """Choose numeric motion parameters for every thing of a scene.

    Args:
        scene: the scene to lay out.
        rng: consumed in a fixed order, so the same generator state gives the same tracks.
        frame_px: frame side in pixels.
        fps: frame rate, which bounds spin speed and blink/bounce cycles.

    Returns:
        One `Track` per thing, in scene order.
    """
    probe_sec = np.linspace(0.0, scene.duration_sec, 16)
    tracks: list[Track] = []
    for thing in scene.things:
        tracks.append(_plan_one(thing, rng, frame_px, fps, [_positions(t, probe_sec) for t in tracks], probe_sec))
    return tracks


def track_state(track: Track, times_sec: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate a track at the given times.

    Args:
        track: the plan of one thing.
        times_sec: (t,) times in seconds.

    Returns:
        Dict of (t,) float arrays: x, y (pixels, y down), r (nominal radius, pixels), angle (radians), alpha (0..1).
    """
    t = np.asarray(times_sec, dtype=np.float64)
    x = np.full_like(t, track.x0)
    y = np.full_like(t, track.y0)
    log_r = np.full_like(t, track.log_r0)
    angle = np.full_like(t, track.angle0)
    alpha = np.full_like(t, track.alpha0)
    for kind, s, e, v in track.params:
        u = np.clip((t - s) / (e - s), 0.0, 1.0)  # progress through the act, held at 1 afterwards
        inside = (t >= s) & (t < e)
        if kind == "move":
            x += v[0] * u
            y += v[1] * u
        elif kind == "scale":
            log_r += v[0] * u
        elif kind == "spin":
            angle += v[0] * u * (e - s)
        elif kind == "fade":
            alpha += v[0] * u
        elif kind == "bounce":
            y -= np.where(inside, v[1] * np.abs(np.sin(math.pi * v[0] * u)), 0.0)
        elif kind == "blink":
            alpha = np.where(inside & (np.mod(v[0] * u, 1.0) >= 0.5), 0.0, alpha)
    if track.shown is not None:
        alpha = np.where((t >= track.shown[0]) & (t < track.shown[1]), alpha, 0.0)
    return {"x": x, "y": y, "r": np.exp(log_r), "angle": angle, "alpha": np.clip(alpha, 0.0, 1.0)}
