"""Untrimmed scenes for temporal action localization (ActivityNet-1.3 look-alike) and action segmentation (COIN).

The classes of both sets are recognisable from single frames, as most ActivityNet and COIN classes are from their
objects, but only from colour and shape together: a class is a coloured shape (`vocab.object_grid`: every colour in
two classes, every shape in five) whose actor is on screen only around its act (up to `SHOWN_MARGIN_SEC` before and
after), while the act itself, which sets the annotated boundaries, is motion. Look-alikes are on screen throughout: an
object of the class's colour in another shape and one of its shape in another colour (`vocab.lookalikes`), so neither
word alone finds the actor.

TAL classes are coloured shapes doing an action ("red circle moving left"), 20 of them. A video holds one to four
instances of one or two classes, each by its own object, with lengths log-uniform from 1 s to 80 % of the video, so
instances overlap and long background stretches remain (paper §4.2). The zero-shot splits hold out classes whose
colour and shape both occur among the seen classes: an unseen class is an unseen combination of seen words, all of
which the text tower knows from its captions (paper §4.3).

COIN look-alike tasks are fixed procedures of ordered steps, a step being an imperative on its own object such as
"move the red triangle up"; the nine step objects are distinct combinations of five colours and the four shapes. A
video performs the task's steps in order (sometimes skipping one) with about 60 % background between them; objects of
the step colours in shapes no step gives them move about meanwhile (paper §4.4, action segmentation).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from unloc.study.miniworld.schedule import SceneBuilder
from unloc.study.miniworld.sizes import SetSize
from unloc.study.miniworld.vocab import (
    ACTION_KEYS,
    CLASS_ACTIONS,
    COLOURS,
    SHAPES,
    lookalikes,
    object_grid,
    step_label,
    tal_class_name,
)
from unloc.study.miniworld.world import Scene

SHOWN_MARGIN_SEC = 2.0
_MAX_SPLIT_DRAWS = 10_000
COIN_STEP_COLOURS = 5


def draw_duration(rng: np.random.Generator, spec: SetSize, fps: int) -> float:
    """A video duration in [min_sec, max_sec] that is a whole number of frames."""
    return round(rng.uniform(spec.min_sec, spec.max_sec) * fps) / fps


def tal_classes() -> list[tuple[str, str, str]]:
    """All TAL classes as (colour, shape, action), in label-map order: the objects of `object_grid(0)`, each with an
    action of its own (the two classes of one colour act differently)."""
    return [(c, s, CLASS_ACTIONS[k % len(CLASS_ACTIONS)]) for k, (c, s) in enumerate(object_grid(0))]


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
    class_objects = {(c, s) for c, s, _ in classes}
    for colour, shape, _ in chosen:
        for lookalike in lookalikes(rng, colour, shape, class_objects):
            b.add_thing(*lookalike)
    scene = b.build()
    annotations = [{"segment": [act.start_sec, act.end_sec],
                    "label": tal_class_name(scene.things[i].colour, scene.things[i].shape, act.action)}
                   for i, act in scene.events()]
    return scene, {"annotations": annotations}


def zero_shot_split(seed: int, seen_fraction: float, split_idx: int) -> dict[str, list[str]]:
    """A random seen/unseen class split in which every unseen class's colour and shape occur among the seen classes.

    Splits are drawn until one qualifies (a fixed sequence per seed and split index).

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
    for _ in range(_MAX_SPLIT_DRAWS):
        order = rng.permutation(len(classes))
        seen = sorted(int(i) for i in order[:n_seen])
        colours, shapes = {classes[i][0] for i in seen}, {classes[i][1] for i in seen}
        if all(classes[i][0] in colours and classes[i][1] in shapes for i in order[n_seen:]):
            break
    else:
        raise RuntimeError(f"no {seen_fraction:.0%} split of the TAL classes keeps every unseen word seen")
    unseen = sorted(set(range(len(classes))) - set(seen))
    return {"seen": [tal_class_name(*classes[i]) for i in seen], "unseen": [tal_class_name(*classes[i]) for i in unseen]}


# name, domain, ordered actions: nine steps
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
    """The COIN look-alike taxonomy; every step gets its own object, a distinct combination of `COIN_STEP_COLOURS`
    colours and the shapes (seed-determined), so colours and shapes repeat across steps."""
    rng = np.random.default_rng([seed, zlib.crc32(b"coin-taxonomy")])
    colours = [str(c) for c in rng.permutation(list(COLOURS))[:COIN_STEP_COLOURS]]
    offsets = rng.integers(len(SHAPES), size=len(colours))
    n_steps = sum(len(actions) for _, _, actions in _PROCEDURES)
    objects = [(colours[i % len(colours)], SHAPES[(offsets[i % len(colours)] + i // len(colours)) % len(SHAPES)])
               for i in rng.permutation(n_steps)]
    tasks, step_id = [], 0
    for task_id, (name, domain, actions) in enumerate(_PROCEDURES):
        steps = []
        for action in actions:
            colour, shape = objects[step_id]
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
    step_objects = {(colour, shape) for k in tasks for _, colour, shape, *_ in k.steps}
    others = sorted({(c, s) for c, _ in step_objects for s in SHAPES} - step_objects)
    for _ in range(int(rng.integers(1, 4))):
        idx = b.add_thing(*others[int(rng.integers(len(others)))])
        for _ in range(int(rng.integers(0, 3))):
            action, span = str(rng.choice(ACTION_KEYS)), b.sample_span(1.0, 0.3 * duration)
            if b.can_add(idx, action, *span):
                b.add_act(idx, action, *span)
    if not annotation:
        raise AssertionError("a COIN video without steps")
    first, last = annotation[0]["segment"][0], annotation[-1]["segment"][1]
    roi = (round(max(0.0, first - rng.uniform(0, 3)), 4), round(min(duration, last + rng.uniform(0, 3)), 4))
    return b.build(), {"task": task, "annotation": annotation, "start": roi[0], "end": roi[1]}
