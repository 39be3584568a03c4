"""Untrimmed scenes for temporal action localization (ActivityNet-1.3 look-alike) and action segmentation (COIN).

TAL classes are shape × action ("circle spinning"). A video holds one to four instances of one or two classes, each
by its own object of any colour, with lengths log-uniform from 1 s to 80 % of the video, so instances overlap and
long background stretches remain; still objects are distractors (paper §4.2). The zero-shot splits hold out classes
so that every held-out class is a new combination of a seen shape and a seen action (paper §4.3).

COIN look-alike tasks are fixed procedures: each task gives one object (its own colour and shape) an ordered list of
steps, a step being an imperative such as "move the red triangle up". A video performs the task's steps in order
(sometimes skipping one) with about 60 % background between them; other objects act meanwhile, but never as any
task's step (paper §4.4, action segmentation).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from unloc.data.miniworld.schedule import SceneBuilder
from unloc.data.miniworld.sizes import SetSize
from unloc.data.miniworld.vocab import ACTION_KEYS, COLOURS, SHAPES, step_label, tal_class_name
from unloc.data.miniworld.world import Scene


def draw_duration(rng: np.random.Generator, spec: SetSize, fps: int) -> float:
    """A video duration in [min_sec, max_sec] that is a whole number of frames."""
    return round(rng.uniform(spec.min_sec, spec.max_sec) * fps) / fps


def tal_classes() -> list[tuple[str, str]]:
    """All TAL classes as (shape, action), in label-map order."""
    return [(s, a) for s in SHAPES for a in ACTION_KEYS]


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
        shape, action = chosen[int(rng.integers(len(chosen)))]
        idx = b.add_thing(str(rng.choice(list(COLOURS))), shape)
        b.add_act(idx, action, *b.sample_span(1.0, 0.8 * duration))
    for _ in range(int(rng.integers(1, 4))):
        b.add_thing(str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES)))
    scene = b.build()
    annotations = [{"segment": [act.start_sec, act.end_sec], "label": tal_class_name(scene.things[i].shape, act.action)}
                   for i, act in scene.events()]
    return scene, {"annotations": annotations}


def zero_shot_split(seed: int, seen_fraction: float, split_idx: int) -> dict[str, list[str]]:
    """A random seen/unseen class split in which every shape and action of an unseen class is also seen.

    Args:
        seed: world seed.
        seen_fraction: e.g. 0.75 for the 75/25 protocol.
        split_idx: which of the random splits.

    Returns:
        {"seen": [class names], "unseen": [class names]}, each in label-map order.
    """
    classes = tal_classes()
    n_seen = round(seen_fraction * len(classes))
    rng = np.random.default_rng([seed, zlib.crc32(b"zero-shot"), round(seen_fraction * 100), split_idx])
    while True:
        order = rng.permutation(len(classes))
        seen = sorted(int(i) for i in order[:n_seen])
        if {classes[i][0] for i in seen} == set(SHAPES) and {classes[i][1] for i in seen} == set(ACTION_KEYS):
            break
    unseen = sorted(set(range(len(classes))) - set(seen))
    return {"seen": [tal_class_name(*classes[i]) for i in seen], "unseen": [tal_class_name(*classes[i]) for i in unseen]}


# name, domain, ordered actions (appear only first, disappear only last)
_PROCEDURES = (
    ("LaunchRocket", "Vehicles", ("appear", "grow", "move_up", "disappear")),
    ("ParkCar", "Vehicles", ("move_right", "shrink", "blink")),
    ("LandPlane", "Vehicles", ("move_down", "move_left", "shrink", "disappear")),
    ("InflateBalloon", "Household", ("appear", "grow", "bounce", "move_up")),
    ("DeflateBalloon", "Household", ("shrink", "spin", "move_down", "disappear")),
    ("WindClock", "Household", ("spin", "grow", "move_right")),
    ("SignalTraffic", "Signals", ("appear", "blink", "spin", "disappear")),
    ("WaveFlag", "Signals", ("move_left", "move_right", "blink")),
    ("DanceRoutine", "Games", ("bounce", "spin", "move_left", "move_right")),
    ("HideAndSeek", "Games", ("move_left", "shrink", "disappear")),
)


@dataclass(frozen=True)
class CoinTask:
    """One procedure: id, name, domain, its object, and its steps as (step id, action, label)."""

    task_id: int
    name: str
    domain: str
    colour: str
    shape: str
    steps: tuple[tuple[int, str, str], ...]


def coin_taxonomy(seed: int) -> list[CoinTask]:
    """The COIN look-alike taxonomy; each task's object gets its own colour × shape (seed-determined)."""
    rng = np.random.default_rng([seed, zlib.crc32(b"coin-taxonomy")])
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    picks = rng.choice(len(pairs), size=len(_PROCEDURES), replace=False)
    tasks, step_id = [], 0
    for task_id, ((name, domain, actions), pick) in enumerate(zip(_PROCEDURES, picks, strict=True)):
        colour, shape = pairs[int(pick)]
        steps = []
        for action in actions:
            steps.append((step_id, action, step_label(colour, shape, action)))
            step_id += 1
        tasks.append(CoinTask(task_id, name, domain, colour, shape, tuple(steps)))
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
        del steps[int(rng.integers(1, len(steps) - 1))]  # a skipped middle step keeps first/last rules
    b = SceneBuilder(rng, duration, 1.0)
    actor = b.add_thing(task.colour, task.shape)
    limit = b.snap(duration)
    fg_sec = rng.uniform(0.3, 0.5) * limit
    lengths = 1.0 + max(0.0, fg_sec - len(steps)) * rng.dirichlet(np.full(len(steps), 2.0))
    gaps = 1.0 + max(0.0, limit - fg_sec - len(steps) - 1) * rng.dirichlet(np.full(len(steps) + 1, 1.5))
    annotation, t = [], 0.0
    for (step_id, action, label), length, gap in zip(steps, lengths, gaps, strict=False):
        start, end = b.snap(t + gap), b.snap(t + gap + length)
        if end - start >= 1.0 and b.can_add(actor, action, start, end):
            b.add_act(actor, action, start, end)
            annotation.append({"id": str(step_id), "segment": [start, end], "label": label})
            t = end
    step_triples = {(k.colour, k.shape, a) for k in tasks for _, a, _ in k.steps}
    for _ in range(int(rng.integers(1, 4))):
        colour, shape = str(rng.choice(list(COLOURS))), str(rng.choice(SHAPES))
        if (colour, shape) == (task.colour, task.shape):
            continue
        idx = b.add_thing(colour, shape)
        for _ in range(int(rng.integers(0, 3))):
            action, span = str(rng.choice(ACTION_KEYS)), b.sample_span(1.0, 0.3 * duration)
            if (colour, shape, action) not in step_triples and b.can_add(idx, action, *span):
                b.add_act(idx, action, *span)
    if not annotation:
        raise AssertionError("a COIN video without steps")
    first, last = annotation[0]["segment"][0], annotation[-1]["segment"][1]
    roi = (round(max(0.0, first - rng.uniform(0, 3)), 4), round(min(duration, last + rng.uniform(0, 3)), 4))
    return b.build(), {"task": task, "annotation": annotation, "start": roi[0], "end": roi[1]}
