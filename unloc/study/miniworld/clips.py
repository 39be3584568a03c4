"""Short trimmed scenes: Kinetics-style classification clips and the frame–caption pairs.

A Kinetics look-alike clip lasts a whole number of seconds (as a `youtube_id_start_end` file does) and shows the
class's object (a coloured shape) doing the class's action over most of the clip, among still look-alikes: one of its
colour in another shape and one of its shape in another colour, neither a class object (paper §3.4, video
pretraining on Kinetics). As in the other class datasets, a class takes colour and shape together; the 20 class
objects are `object_grid(1)`, the combinations the TAL classes do not use, so pretraining never shows a TAL class. A pair shows one object acting among still distractors and keeps a few frames spread
over the act with two captions: the act ("the red circle moves left.") and the appearance of the first frame. Pairs
train the small two-tower model that stands in for CLIP, so they cover every colour × shape × action.
"""

from __future__ import annotations

import math

import numpy as np

from unloc.study.miniworld.render import background, render_frames
from unloc.study.miniworld.schedule import SceneBuilder
from unloc.study.miniworld.sizes import WorldSize
from unloc.study.miniworld.vocab import (
    ACTION_KEYS,
    CLASS_ACTIONS,
    COLOURS,
    SHAPES,
    caption,
    kinetics_class_name,
    lookalikes,
    object_grid,
    scene_caption,
)
from unloc.study.miniworld.world import Scene, plan_tracks, track_state


def kinetics_actions() -> list[tuple[str, str, str]]:
    """Every clip class as (colour, shape, action), in label-map order: the objects of `object_grid(1)`."""
    offset = len(CLASS_ACTIONS) // 2
    return [(c, s, CLASS_ACTIONS[(k + offset) % len(CLASS_ACTIONS)]) for k, (c, s) in enumerate(object_grid(1))]


def kinetics_classes() -> list[str]:
    """All clip classes, in label-map order."""
    return [kinetics_class_name(*c) for c in kinetics_actions()]


def _pick(rng: np.random.Generator, options) -> str:
    return str(rng.choice(list(options)))


def _one_actor(rng: np.random.Generator, duration_sec: float, quantum_sec: float, span: tuple[float, float],
               colour: str, shape: str, action: str) -> SceneBuilder:
    """A scene with one acting object over `span` and one to three still distractors of any colour and shape."""
    b = SceneBuilder(rng, duration_sec, quantum_sec)
    b.add_act(b.add_thing(colour, shape), action, *span)
    for _ in range(int(rng.integers(1, 4))):
        b.add_thing(_pick(rng, COLOURS), _pick(rng, SHAPES))
    return b


def kinetics_clip(rng: np.random.Generator, size: WorldSize) -> tuple[Scene, dict]:
    """One classification clip.

    Returns:
        The scene and {"label", "time_start", "time_end"} (whole seconds; the clip covers that span).
    """
    spec = size.kinetics
    duration = int(rng.integers(math.ceil(spec.min_sec), math.floor(spec.max_sec) + 1))
    classes = kinetics_actions()
    colour, shape, action = classes[int(rng.integers(len(classes)))]
    frame_sec = 1.0 / size.fps
    length = max(frame_sec, round(rng.uniform(0.75, 1.0) * duration * size.fps) / size.fps)
    start = round(rng.uniform(0.0, duration - length) * size.fps) / size.fps
    b = SceneBuilder(rng, duration, frame_sec)
    b.add_act(b.add_thing(colour, shape), action, start, start + length)
    for lookalike in lookalikes(rng, colour, shape, {(c, s) for c, s, _ in classes}):
        b.add_thing(*lookalike)
    scene = b.build()
    time_start = int(rng.integers(0, 600))
    return scene, {"label": kinetics_class_name(colour, shape, action), "time_start": time_start,
                   "time_end": time_start + duration}


def frame_caption_pair(rng: np.random.Generator, size: WorldSize) -> tuple[np.ndarray, dict]:
    """One training pair for the two-tower model.

    Returns:
        frames: (k, h, w, 3) uint8, k = size.pairs.frames_per_pair, evenly spread over the act.
        record: caption, scene_caption, colour, shape, action, time_sec (the k frame times).
    """
    colour, shape, action = _pick(rng, COLOURS), _pick(rng, SHAPES), _pick(rng, ACTION_KEYS)
    length = rng.uniform(1.0, 3.0)
    scene = _one_actor(rng, length + 1.0, 1e-3, (0.5, 0.5 + length), colour, shape, action).build()
    tracks = plan_tracks(scene, rng, size.frame_px, size.fps)
    k = size.pairs.frames_per_pair
    times_sec = 0.5 + (np.arange(k) + 0.5) / k * length
    frames = render_frames(scene, tracks, background(rng, size.frame_px), times_sec)
    first = [track_state(t, times_sec[:1])["alpha"][0] > 0 for t in tracks]
    visible = [(th.colour, th.shape) for th, shown in zip(scene.things, first, strict=True) if shown]
    record = {"caption": caption(colour, shape, action, int(rng.integers(1 << 16))),
              "scene_caption": scene_caption(visible), "colour": colour, "shape": shape, "action": action,
              "time_sec": [round(float(t), 4) for t in times_sec]}
    return frames, record
