"""Untrimmed scenes for temporal action localization (ActivityNet-1.3 look-alike) and action segmentation (COIN).

The classes of both sets are made to be recognisable from single frames, as most ActivityNet and COIN classes are
from their objects and scenes: each class has an actor of its own colour (the attribute the two-tower stand-in for
CLIP learns from its captions; it does not learn shapes, and actions need motion), present on screen only around its
act (up to `SHOWN_MARGIN_SEC` before and after), while the act itself, which sets the annotated boundaries, is motion.

TAL classes are coloured shapes doing an action ("red circle moving left"), one per colour. A video holds one to
four instances of one or two classes, each by its own object, with lengths log-uniform from 1 s to 80 % of the
video, so instances overlap and long background stretches remain; still objects of the other colours are
distractors (paper §4.2). The zero-shot splits hold out classes whose colours the text tower knows from its captions
but TAL training never shows (paper §4.3).

COIN look-alike tasks are fixed procedures of ordered steps, a step being an imperative on its own object such as
"move the red triangle up" (each step its own colour). A video performs the task's steps in order (sometimes skipping
one) with about 60 % background between them; objects of the colours no step uses move about meanwhile
(paper §4.4, action segmentation).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from unloc.study.miniworld.schedule import SceneBuilder
from unloc.study.miniworld.sizes import SetSize
from unloc.study.miniworld.vocab import ACTION_KEYS, CLASS_ACTIONS, COLOURS, SHAPES, step_label, tal_class_name
from unloc.study.miniworld.world import Scene

SHOWN_MARGIN_SEC = 2.0


def draw_duration(rng: np.random.Generator, spec: SetSize, fps: int) -> float:
    """A video duration in [min_sec, max_sec] that is a whole number of frames."""
    return round(rng.uniform(spec.min_sec, spec.max_sec) * fps) / fps


def tal_classes() -> list[tuple[str, str, str]]:
    """All TAL classes as (colour, shape, action), in label-map order: one per colour."""
    return [(c, SHAPES[i % len(SHAPES)], CLASS_ACTIONS[i % len(CLASS_ACTIONS)]) for i, c in enumerate(COLOURS)]


def tal_video(rng: np.random.Generator, spec: SetSize, fps: int) -> tuple[Scene, dict]:
    """One untrimmed TAL video.

    Returns:
        The scene and {"annotations": [{"segment": [start_sec, end_sec], "label": class name}, ...]}.
    """
    duration = draw_duration(rng, spec, fps)
    b = SceneBuilder(rng, duration, 0.01)
    classes = tal_classes()
    chosen = [classes[i] for i in rng.choice(len(classes), size=1 + int(rng.random() < 0.3), replace=False)]
    for _ in range(int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))):
        colour, shape, action = chosen[int(rng.integers(len(chosen)))]
        span = b.sample_span(1.0, 0.8 * duration)
        b.add_act(b.add_thing(colour, shape, b.shown_around(*span, SHOWN_MARGIN_SEC)), action, *span)
    others = [c for c in COLOURS if c not in {k[0] for k in chosen}]
    for _ in range(int(rng.integers(1, 4))):
        b.add_thing(str(rng.choice(others)), str(rng.choice(SHAPES)))
    scene = b.build()
    annotations = [{"segment": [act.start_sec, act.end_sec],
                    "label": tal_class_name(scene.things[i].colour, scene.things[i].shape, act.action)}
                   for i, act in scene.events()]
    return scene, {"annotations": annotations}


def zero_shot_split(seed: int, seen_fraction: float, split_idx: int) -> dict[str, list[str]]:
    """A random seen/unseen class split (each class is its own colour, so an unseen class is an unseen colour).

    Args:
        seed: world seed.
        seen_fraction: e.g. 0.75 for the 75/25 protocol.
        split_idx: which of the random splits.

    Returns:
        {"seen": [class names], "unseen": [class names]}, each in label-map order.
    """
    classes = tal_classes()
    n_seen = min(len(classes) - 1, max(1, round(seen_fraction * len(classes))))
    rng = np.random.default_rng([seed, zlib.crc32(b"zero-shot"), round(seen_fraction * 100), split_idx])
    order = rng.permutation(len(classes))
    seen = sorted(int(i) for i in order[:n_seen])
    unseen = sorted(set(range(len(classes))) - set(seen))
    return {"seen": [tal_class_name(*classes[i]) for i in seen], "unseen": [tal_class_name(*classes[i]) for i in unseen]}


# name, domain, ordered actions: nine steps, so one colour is left for the objects that move about meanwhile
_PROCEDURES = (
    ("LaunchRocket", "Vehicles", ("grow", "move_up", "spin")),
    ("ParkCar", "Vehicles", ("move_right", "shrink")),
    ("WaveFlag", "Signals", ("move_left", "blink")),
    ("InflateBalloon", "Household", ("bounce", "move_down")),
)


@dataclass(frozen=True)
class CoinTask:
    """One procedure: id, name, domain and its steps as (step id, colour, shape, action, label)."""

    task_id: int
    name: str
    domain: str
    steps: tuple[tuple[int, str, str, str, str], ...]


def coin_taxonomy(seed: int) -> list[CoinTask]:
    """The COIN look-alike taxonomy; every step gets its own colour and a shape (seed-determined)."""
    rng = np.random.default_rng([seed, zlib.crc32(b"coin-taxonomy")])
    colours = [str(c) for c in rng.permutation(list(COLOURS))]
    tasks, step_id = [], 0
    for task_id, (name, domain, actions) in enumerate(_PROCEDURES):
        steps = []
        for action in actions:
            colour, shape = colours[step_id], str(rng.choice(SHAPES))
            steps.append((step_id, colour, shape, action, step_label(colour, shape, action)))
            step_id += 1
        tasks.append(CoinTask(task_id, name, domain, tuple(steps)))
    return tasks


def coin_video(rng: np.random.Generator, spec: SetSize, fps: int, tasks: list[CoinTask]) -> tuple[Scene, dict]:
    """One procedure video: the task's steps in order, about 40 % of the time, on a 1 s grid.

    Returns:
        The scene and {"task": CoinTask, "annotation": [{"id": str, "segment": [s, e], "label"}], "start", "end"}.
    """
    duration = draw_duration(rng, spec, fps)
    task = tasks[int(rng.integers(len(tasks)))]
    steps = list(task.steps)
    if len(steps) >= 3 and rng.random() < 0.2:
        del steps[int(rng.integers(1, len(steps) - 1))]  # a skipped middle step
    b = SceneBuilder(rng, duration, 1.0)
    limit = b.snap(duration)
    fg_sec = rng.uniform(0.3, 0.5) * limit
    lengths = 1.0 + max(0.0, fg_sec - len(steps)) * rng.dirichlet(np.full(len(steps), 2.0))
    gaps = 1.0 + max(0.0, limit - fg_sec - len(steps) - 1) * rng.dirichlet(np.full(len(steps) + 1, 1.5))
    annotation, t = [], 0.0
    for (step_id, colour, shape, action, label), length, gap in zip(steps, lengths, gaps, strict=False):
        start, end = b.snap(t + gap), b.snap(t + gap + length)
        if end - start >= 1.0:
            actor = b.add_thing(colour, shape, b.shown_around(start, end, SHOWN_MARGIN_SEC))
            b.add_act(actor, action, start, end)
            annotation.append({"id": str(step_id), "segment": [start, end], "label": label})
            t = end
    step_colours = {colour for k in tasks for _, colour, *_ in k.steps}
    others = [c for c in COLOURS if c not in step_colours]
    for _ in range(int(rng.integers(1, 4))):
        idx = b.add_thing(str(rng.choice(others)), str(rng.choice(SHAPES)))
        for _ in range(int(rng.integers(0, 3))):
            action, span = str(rng.choice(ACTION_KEYS)), b.sample_span(1.0, 0.3 * duration)
            if b.can_add(idx, action, *span):
                b.add_act(idx, action, *span)
    if not annotation:
        raise AssertionError("a COIN video without steps")
    first, last = annotation[0]["segment"][0], annotation[-1]["segment"][1]
    roi = (round(max(0.0, first - rng.uniform(0, 3)), 4), round(min(duration, last + rng.uniform(0, 3)), 4))
    return b.build(), {"task": task, "annotation": annotation, "start": roi[0], "end": roi[1]}
