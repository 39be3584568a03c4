"""COIN reader (Tang et al., CVPR 2019; coin-dataset/annotations `COIN.json`), action segmentation, UnLoc §4.

Layout (ActivityNet-like, from COIN's README): `{database: {youtube_id: {duration, class, subset, recipe_type,
start, end, video_url, annotation: [{id, segment, label}]}}}`. `class` is the task (kept as `VideoRecord.task`);
each annotation is a step whose `id` is the step's Action Id in `taxonomy_target_action_mapping.csv`. Step names are
not unique across tasks (778 ids, 749 names), so a step's class is its id: the classes are the steps in Action Id
order, `class_idx` = position of the id, and the names may repeat. The taxonomy csv next to `COIN.json` (or passed)
fixes the 778 classes; without it the classes are the step ids met in the file. A label that differs from the
taxonomy's name for its id is counted (`label_mismatch`) and the taxonomy's name is used.
"""

from __future__ import annotations

from pathlib import Path

from unloc.data.formats.activitynet13 import database_entries
from unloc.data.formats.builder import AnnotationBuilder
from unloc.data.formats.fileio import read_csv, read_json, require_mapping
from unloc.data.formats.quirks import AnnotationError, QuirkCounter, clean_text, to_duration
from unloc.data.records import AnnotationSet, VideoRecord

FORMAT = "coin"
TAXONOMY_FILE = "taxonomy_target_action_mapping.csv"


def _step_id(value: object, quirks: QuirkCounter, where: str) -> int:
    """A step id: a JSON integer or the digits of one (COIN.json writes ids as strings, the taxonomy csv as text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    quirks.fail(where, f"step id must be an integer, got {value!r}")


def load_coin_taxonomy(csv_path: Path) -> dict[int, str]:
    """Step id -> step name from COIN's `taxonomy_target_action_mapping.csv` (columns `Action Id`, `Action Label`)."""
    quirks = QuirkCounter(Path(csv_path))
    steps: dict[int, str] = {}
    for line_no, row in read_csv(csv_path, required=("Action Id", "Action Label")):
        where = f"line {line_no}"
        step = _step_id(row["Action Id"], quirks, where)
        if step in steps:
            quirks.fail(where, f"Action Id {step} listed twice")
        steps[step] = row["Action Label"].strip()
    return steps


def _steps_in_file(database: dict, path: Path) -> dict[int, str]:
    """Step id -> first label met for it, when no taxonomy is available."""
    quirks = QuirkCounter(path)
    steps: dict[int, str] = {}
    for video_id, entry in database.items():
        anns = entry.get("annotation") if isinstance(entry, dict) else None
        for i, ann in enumerate(anns if isinstance(anns, list) else []):
            where = f"video {video_id} annotation {i}"
            if isinstance(ann, dict) and "id" in ann and isinstance(ann.get("label"), str):
                steps.setdefault(_step_id(ann["id"], quirks, where), ann["label"].strip())
    return steps


def read_coin(path: Path, *, strict: bool = False, split: str | None = None,
              taxonomy: Path | dict[int, str] | None = None, as_given: bool = False) -> AnnotationSet:
    """Read a COIN json file.

    Args:
        path: `COIN.json` (or a file in its layout).
        strict: raise on every quirk instead of applying its policy.
        as_given: keep every segment as given (evaluation); quirks are still counted.
        split: keep only this subset ("training"/"train", "testing"/"test", ...).
        taxonomy: step id -> name, or the taxonomy csv; default: `taxonomy_target_action_mapping.csv` beside `path`,
            else the step ids met in the file.

    Returns:
        An `AnnotationSet` whose classes are the step names in step-id order (`class_ids`: the step ids).
    """
    path = Path(path)
    data = require_mapping(read_json(path), path, "top level")
    if "database" not in data:
        raise AnnotationError(f"{path}: not a COIN file: no `database` object")
    database = require_mapping(data["database"], path, "database")
    if taxonomy is None and (path.parent / TAXONOMY_FILE).exists():
        taxonomy = path.parent / TAXONOMY_FILE
    from_taxonomy = taxonomy is not None
    if taxonomy is None:
        taxonomy = _steps_in_file(database, path)
    elif not isinstance(taxonomy, dict):
        taxonomy = load_coin_taxonomy(Path(taxonomy))
    step_ids = sorted(taxonomy)
    class_idx = {step: i for i, step in enumerate(step_ids)}
    b = AnnotationBuilder(FORMAT, path, strict=strict, split=split, classes=[taxonomy[s] for s in step_ids],
                          as_given=as_given, class_ids=[str(s) for s in step_ids])
    for video_id, entry, raw_anns, where in database_entries(database, b, "annotation"):
        duration_sec = to_duration(entry.get("duration"), b.quirks, where)
        task = clean_text(entry["class"], b.quirks, where, field="class") if "class" in entry else None
        b.add_video(VideoRecord(video_id, duration_sec, entry.get("subset"), task=task), where)
        for i, ann in enumerate(raw_anns):
            ann_where = f"{where} annotation {i}"
            if not isinstance(ann, dict) or any(k not in ann for k in ("id", "segment", "label")):
                b.fail(ann_where, "a COIN annotation needs `id`, `segment` and `label`")
            step = _step_id(ann["id"], b.quirks, ann_where)
            if step not in class_idx:
                b.fail(ann_where, f"unknown step id {step} (label {ann['label']!r})"
                                  + (" not in the taxonomy" if from_taxonomy else ""))
            label = clean_text(ann["label"], b.quirks, ann_where, field="label")
            if label != taxonomy[step]:
                b.quirks.note("label_mismatch", ann_where, f"step {step} is {taxonomy[step]!r}, file says {label!r}")
            b.add_class_segment(video_id, ann["segment"], taxonomy[step], ann_where, class_idx=class_idx[step])
    return b.build()
