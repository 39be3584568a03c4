"""Action-segmentation predictions: per-frame class scores, `.npz` (one float array (t, q) per video id) or json
`{"scores": {id: [[...], ...]}, "classes"?: [...]}`.

Column k is class k of the ground truth's class list, unless the file names its columns (`__classes__` in the npz,
`"classes"` in the json; then they are matched by name, and a name listed twice is an error: its columns would
overwrite each other). Scores must be finite numbers (json: numbers, not text or booleans; npz: a numeric array, loaded
without pickle). A video of the ground truth without scores is predicted background everywhere, scores for a video
outside the evaluated split are ignored, a repeated json key keeps the last value; all counted. Paper §4, COIN.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path

import numpy as np

from unloc.data.formats.quirks import input_error
from unloc.eval.quirks import QuirkLog
from unloc.eval.segmentation_inputs import CLASSES_KEY, FrameLabels, label_arrays


def _check_scores(vid: str, values: object, n_frames: int, source: Path) -> np.ndarray:
    where = f"video {vid!r}"
    if isinstance(values, np.ndarray):
        if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
            raise input_error(source, where, f"scores must be a numeric array, got dtype {values.dtype}")
        scores = values.astype(float)
    elif isinstance(values, list) and all(isinstance(row, list) for row in values) and set(
            map(type, chain.from_iterable(values))) <= {int, float}:
        try:
            scores = np.asarray(values, dtype=float) if values else np.zeros((0, 0))
        except ValueError:
            raise input_error(source, where, "scores must be (frames, classes): rows of different lengths") from None
    else:
        raise input_error(source, where, "scores must be a (frames, classes) list of lists of numbers")
    if scores.ndim != 2:
        raise input_error(source, where, f"scores must be (frames, classes), got shape {scores.shape}")
    if len(scores) != n_frames:
        raise input_error(source, where, f"{len(scores)} frames of scores, the ground truth has {n_frames}")
    bad = np.argwhere(~np.isfinite(scores))
    if len(bad):
        raise input_error(source, f"{where} frame {bad[0][0]} class {bad[0][1]}", "score is NaN or infinite")
    return scores


def read_segmentation_predictions(path: str | Path, gt: FrameLabels, log: QuirkLog | None = None) -> list[np.ndarray]:
    """Reads per-frame scores aligned with the ground truth's videos and classes (see the module docstring).

    Args:
        path: `.npz` or json scores.
        gt: evaluated ground truth.
        log: counts the input quirks.

    Returns:
        Per evaluated video (in `gt.labels` order) a (t, q) float array; -inf where nothing was predicted.

    Raises:
        EvalInputError: unknown video or class, a class named twice, wrong shape or type, NaN/infinite score, or a
            damaged file.
    """
    path, log = Path(path), log if log is not None else QuirkLog()
    raw, names = label_arrays(path, "scores", log)
    for vid in raw:
        if vid not in gt.all_videos:
            raise input_error(path, f"video {vid!r}", "is not in the ground truth")
    outside = [v for v in raw if v not in gt.labels]
    log.add_each("pred.outside_split", path, [(f"video {v!r}", "outside the evaluated split; ignored")
                                              for v in outside[:3]], len(outside))
    columns = None  # where each score column goes in the ground-truth class order
    if names is not None and gt.classes is not None:
        col_of = {c: i for i, c in enumerate(gt.classes)}
        unknown = [c for c in names if c not in col_of]
        if unknown:
            raise input_error(path, CLASSES_KEY, f"class {unknown[0]!r} is not in the ground-truth class list")
        columns = np.array([col_of[c] for c in names], dtype=int)
    width = len(names) if names is not None else None
    q = len(gt.classes) if gt.classes is not None else None
    missing = [vid for vid in gt.labels if vid not in raw]
    log.add_each("pred.missing_id", path, [(f"video {v!r}", "no scores: every frame background") for v in missing[:3]],
                 len(missing))
    scores: list[np.ndarray | None] = []
    for vid, y in gt.labels.items():
        if vid not in raw:
            scores.append(None)
            continue
        s = _check_scores(vid, raw[vid], len(y), path)
        width = width if width is not None else s.shape[1]
        if s.shape[1] != width or (columns is None and q is not None and width != q):
            expected = q if columns is None else width
            raise input_error(path, f"video {vid!r}", f"{s.shape[1]} score columns, expected {expected}")
        if columns is not None:
            full = np.full((len(y), q), -np.inf)  # classes the file does not score rank last
            full[:, columns] = s
            s = full
        scores.append(s)
    q = q if q is not None else (width or 0)
    return [np.full((len(y), q), -np.inf) if s is None else s for s, y in zip(scores, gt.labels.values())]
