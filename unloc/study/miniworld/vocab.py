"""The mini-world's vocabulary: colours, shapes, actions, and the phrases built from them.

Every class name and caption of every mini-world dataset is composed from these primitives, so a held-out class
still consists of words the text tower has seen in its captions: this is what the zero-shot splits of the
temporal-localization set test (paper §4.3, zero-shot TAL). A class of the class datasets is an object, a colour and a
shape together (`object_grid`): each colour and each shape belongs to several classes, so recognising a class takes
both words, and an unseen class can be an unseen combination of seen ones (see `localization.py`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

# RGB in [0, 1]; saturated so they survive yuv420p chroma subsampling on a dark background.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.92, 0.16, 0.14),
    "green": (0.16, 0.80, 0.22),
    "blue": (0.22, 0.42, 1.00),
    "yellow": (0.96, 0.86, 0.10),
    "purple": (0.72, 0.26, 0.92),
    "orange": (1.00, 0.55, 0.08),
    "cyan": (0.10, 0.85, 0.88),
    "pink": (1.00, 0.50, 0.78),
    "white": (0.95, 0.95, 0.95),
    "brown": (0.62, 0.38, 0.18),
}

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")


@dataclass(frozen=True)
class Action:
    """One kind of motion and the three ways the datasets phrase it.

    Attributes:
        key: identifier used in code and in the pair set.
        verb: third-person phrase for captions ("moves left").
        gerund: phrase for class names ("moving left").
        imperative: COIN-style step phrase with a slot for the object ("move {} left").
    """

    key: str
    verb: str
    gerund: str
    imperative: str


ACTIONS: tuple[Action, ...] = (
    Action("move_left", "moves left", "moving left", "move {} left"),
    Action("move_right", "moves right", "moving right", "move {} right"),
    Action("move_up", "moves up", "moving up", "move {} up"),
    Action("move_down", "moves down", "moving down", "move {} down"),
    Action("grow", "grows", "growing", "grow {}"),
    Action("shrink", "shrinks", "shrinking", "shrink {}"),
    Action("spin", "spins", "spinning", "spin {}"),
    Action("blink", "blinks", "blinking", "blink {}"),
    Action("bounce", "bounces", "bouncing", "bounce {}"),
    Action("appear", "appears", "appearing", "show {}"),
    Action("disappear", "disappears", "disappearing", "hide {}"),
)
ACTION_BY_KEY: dict[str, Action] = {a.key: a for a in ACTIONS}
ACTION_KEYS: tuple[str, ...] = tuple(a.key for a in ACTIONS)
# what a class's actor does: everything but fading in or out (class actors come and go with their act instead)
CLASS_ACTIONS: tuple[str, ...] = tuple(k for k in ACTION_KEYS if k not in ("appear", "disappear"))

# Sentence frames for queries; "{c} {s} {v}" = colour, shape, verb phrase.
_QUERY_FRAMES: tuple[str, ...] = (
    "the {c} {s} {v}.",
    "a {c} {s} {v}.",
    "the {c} {s} {v} on the screen.",
    "we see the {c} {s} as it {v}.",
)


def object_grid(offset: int) -> list[tuple[str, str]]:
    """Class objects as (colour, shape): colour i with shapes i + offset and i + offset + 2 (modulo the four shapes).

    `object_grid(0)` (the TAL classes) and `object_grid(1)` (the Kinetics-shaped ones) are disjoint and together hold
    every colour-shape combination; in each, every colour is in two classes and every shape in five.
    """
    n = len(SHAPES)
    return [(c, SHAPES[(i + offset + 2 * j) % n]) for i, c in enumerate(COLOURS) for j in (0, 1)]


def lookalikes(rng: np.random.Generator, colour: str, shape: str, avoid: Collection[tuple[str, str]]
               ) -> list[tuple[str, str]]:
    """Two distractor objects for a class object: one of its colour in another shape, one of its shape in another
    colour, neither an object of `avoid` (e.g. the dataset's class objects), so telling the class apart from them
    takes both words.

    Returns:
        [(colour, other shape), (other colour, shape)], each drawn uniformly among the allowed ones.
    """
    same_colour = [(colour, s) for s in SHAPES if s != shape and (colour, s) not in avoid]
    same_shape = [(c, shape) for c in COLOURS if c != colour and (c, shape) not in avoid]
    if not same_colour or not same_shape:
        raise ValueError(f"no look-alike of {colour} {shape} outside {sorted(avoid)}")
    return [same_colour[int(rng.integers(len(same_colour)))], same_shape[int(rng.integers(len(same_shape)))]]


def tal_class_name(colour: str, shape: str, action: str) -> str:
    """Temporal-localization class: a coloured shape doing an action, e.g. "red circle spinning"."""
    return f"{colour} {shape} {ACTION_BY_KEY[action].gerund}"


def kinetics_class_name(colour: str, shape: str, action: str) -> str:
    """Clip-classification class: a coloured shape doing an action, e.g. "red triangle spinning"."""
    return f"{colour} {shape} {ACTION_BY_KEY[action].gerund}"


def step_label(colour: str, shape: str, action: str) -> str:
    """COIN-style step: an imperative on one object, e.g. "move the red circle left"."""
    return ACTION_BY_KEY[action].imperative.format(f"the {colour} {shape}")


def caption(colour: str, shape: str, action: str, frame_idx: int = 0) -> str:
    """A query sentence naming appearance and motion, e.g. "the red circle moves left."

    Args:
        frame_idx: which sentence frame to use (taken modulo the number of frames).
    """
    frame = _QUERY_FRAMES[frame_idx % len(_QUERY_FRAMES)]
    return frame.format(c=colour, s=shape, v=ACTION_BY_KEY[action].verb)


_COUNTS = ("a", "two", "three", "four", "five", "six", "seven", "eight")


def scene_caption(objects: list[tuple[str, str]]) -> str:
    """Appearance-only description of the visible objects, e.g. "two red circles and a blue star."."""
    if not objects:
        return "an empty background."
    counts: dict[tuple[str, str], int] = {}
    for obj in objects:
        counts[obj] = counts.get(obj, 0) + 1
    names = [f"{_COUNTS[min(n, len(_COUNTS)) - 1]} {c} {s}{'s' if n > 1 else ''}" for (c, s), n in counts.items()]
    if len(names) == 1:
        return names[0] + "."
    return ", ".join(names[:-1]) + " and " + names[-1] + "."
