"""Moment-retrieval videos in the three shapes of the paper's benchmarks (paper §4.1).

- Charades-STA look-alike: short videos, two to four captions, one window each, times on a 0.1 s grid.
- QVHighlights look-alike: fixed-length videos cut into 2 s clips, two or three captions, each with one to three
  windows on the clip grid and saliency scores (0–4, three annotators) for every relevant clip.
- ActivityNet Captions look-alike: long videos described by a paragraph of consecutive captions, one window each.
"""

from __future__ import annotations

import numpy as np

from unloc.study.miniworld.localization import draw_duration
from unloc.study.miniworld.retrieval import QueryScene, consecutive_spans
from unloc.study.miniworld.sizes import SetSize
from unloc.study.miniworld.world import Scene

CLIP_SEC = 2.0  # QVHighlights clip length


def charades_video(rng: np.random.Generator, spec: SetSize, fps: int) -> tuple[Scene, dict]:
    """Returns the scene and {"queries": [(sentence, start_sec, end_sec), ...]}, in time order."""
    duration = draw_duration(rng, spec, fps)
    qs = QueryScene(rng, duration, 0.1, span_sec=(1.0, 0.6 * duration))
    for _ in range(int(rng.integers(2, 5))):
        qs.add_query()
    qs.add_distractors()
    qs.add_fillers(int(rng.integers(0, 3)))
    scene, queries = qs.finish()
    rows = [(q.text, *q.windows[0]) for q in queries]
    return scene, {"queries": sorted(rows, key=lambda r: (r[1], r[2], r[0]))}


def saliency(rng: np.random.Generator, windows: tuple[tuple[float, float], ...]) -> tuple[list[int], list[list[int]]]:
    """Relevant clip ids and three annotators' 0–4 scores, highest near the middle of each window.

    Args:
        windows: (start_sec, end_sec) on the 2 s grid.

    Returns:
        clip ids (ascending) and one [a, b, c] score triple per id.
    """
    ids, scores = [], []
    for start, end in windows:
        for clip in range(round(start / CLIP_SEC), round(end / CLIP_SEC)):
            u = (clip * CLIP_SEC + CLIP_SEC / 2 - start) / (end - start)  # clip centre, 0..1 through the window
            base = 1.5 + 2.5 * (1.0 - abs(2.0 * u - 1.0))
            ids.append(clip)
            scores.append([int(np.clip(round(base + rng.normal(0.0, 0.8)), 0, 4)) for _ in range(3)])
    return ids, scores


def qvh_video(rng: np.random.Generator, spec: SetSize, fps: int) -> tuple[Scene, dict]:
    """Returns the scene and {"queries": [{"query", "relevant_windows", "relevant_clip_ids", "saliency_scores"}]}."""
    duration = float(spec.max_sec)
    qs = QueryScene(rng, duration, CLIP_SEC, span_sec=(CLIP_SEC, 0.3 * duration))
    for _ in range(int(rng.integers(2, 4))):
        qs.add_query(n_windows=int(rng.integers(1, 4)))
    qs.add_distractors()
    qs.add_fillers(int(rng.integers(1, 5)))
    scene, queries = qs.finish()
    items = []
    for q in queries:
        ids, scores = saliency(rng, q.windows)
        items.append({"query": q.text, "relevant_windows": [[round(s), round(e)] for s, e in q.windows],
                      "relevant_clip_ids": ids, "saliency_scores": scores})
    return scene, {"queries": items}


def anet_captions_video(rng: np.random.Generator, spec: SetSize, fps: int) -> tuple[Scene, dict]:
    """Returns the scene and {"timestamps": [[s, e], ...], "sentences": [...]}, one paragraph in time order.

    As in the real files, sentences are capitalised and every sentence after the first begins with a space.
    """
    duration = draw_duration(rng, spec, fps)
    qs = QueryScene(rng, duration, 0.01, span_sec=(1.0, 0.5 * duration))
    for span in consecutive_spans(rng, qs.builder, int(rng.integers(3, 7)), 1.0):
        qs.add_query(spans=[span])
    qs.add_distractors()
    qs.add_fillers(int(rng.integers(0, 3)))
    scene, queries = qs.finish()
    ordered = sorted(queries, key=lambda q: q.windows[0])
    sentences = [(" " if k else "") + q.text[0].upper() + q.text[1:] for k, q in enumerate(ordered)]
    return scene, {"timestamps": [list(q.windows[0]) for q in ordered], "sentences": sentences}
