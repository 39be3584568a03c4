"""ActivityNet-1.3 reader (Caba Heilbron et al., CVPR 2015), temporal action localization, UnLoc §4.

Two layouts are read, detected from the contents:
- official (`activity_net.v1-3.min.json` and the substitute built from BSN here): `{version, taxonomy, database:
  {id: {subset, duration, annotations: [{segment, label}]}}}`, ids without `v_`. The classes are the taxonomy's leaf
  nodes (nodes that are no other node's parent; the substitute lists the 200 leaves only).
- BSN (`anet_anno_action.json`): `{v_id: {duration_second, duration_frame, annotations, feature_frame}}` with no
  subset; subsets, fps and frame counts come from `video_info_new.csv` next to it and the class names from
  `action_name.csv`. Ids lose their `v_` prefix, so both layouts name a video the same way (the official one);
  `unloc.data.paths` finds `v_`-prefixed video files too.
Classes are sorted alphabetically in both layouts (the order of mmaction2's `label_map.txt`), so a class has the same
index whichever layout was read; an explicit `classes` list keeps its own order. Subsets keep their official names
("training", "validation", "testing"); the split filter also accepts "train", "val", "test". Testing videos have no
annotations. Zero-length and past-the-end segments are handled by `quirks.POLICIES` and counted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from unloc.data.formats.builder import AnnotationBuilder
from unloc.data.formats.fileio import read_csv, read_json, read_lines, require_mapping
from unloc.data.formats.quirks import AnnotationError, QuirkCounter, optional_duration, parse_float, to_duration
from unloc.data.records import AnnotationSet, VideoRecord

FORMAT = "activitynet13"
BSN_INFO_FILE = "video_info_new.csv"
BSN_CLASSES_FILE = "action_name.csv"
BSN_PREFIX = "v_"
_OTHER_LAYOUT = {"annotations": ("annotation", "COIN"), "annotation": ("annotations", "ActivityNet-1.3")}


def taxonomy_classes(taxonomy: object, path: Path) -> tuple[str, ...] | None:
    """Leaf class names of an ActivityNet taxonomy list (None when the file has no taxonomy)."""
    if not taxonomy:
        return None
    if not isinstance(taxonomy, list) or not all(
            isinstance(n, dict) and isinstance(n.get("nodeName"), str)
            and all(isinstance(n.get(k), (str, int, type(None))) for k in ("nodeId", "parentId")) for n in taxonomy):
        raise AnnotationError(f"{path}: taxonomy: expected a list of {{nodeName, nodeId?, parentId?}} objects "
                              f"(a string name, string or integer ids)")
    parents = {n.get("parentId") for n in taxonomy}
    return tuple(sorted({n["nodeName"] for n in taxonomy if "nodeId" not in n or n["nodeId"] not in parents}))


def database_entries(database: object, b: AnnotationBuilder, annotations_key: str
                     ) -> Iterator[tuple[str, dict, list, str]]:
    """Walk an ActivityNet-style `database` (also COIN's), keeping the entries of the wanted subset.

    Yields:
        (video id, entry, its annotation list, record description) for each kept video.
    """
    for video_id, entry in require_mapping(database, b.path, "database").items():
        where = f"video {video_id}"
        entry = require_mapping(entry, b.path, where)
        subset = entry.get("subset")
        if subset is not None and not isinstance(subset, str):
            b.fail(where, f"`subset` must be a string, got {subset!r}")
        if annotations_key not in entry:
            other_key, other_format = _OTHER_LAYOUT[annotations_key]
            hint = f"; it has `{other_key}`: is this a {other_format} file?" if other_key in entry else ""
            b.fail(where, f"no `{annotations_key}` list{hint}")
        if not b.wants(subset):
            continue
        annotations = entry[annotations_key]
        if not isinstance(annotations, list):
            b.fail(where, f"`{annotations_key}` must be a list")
        yield video_id, entry, annotations, where


def add_labelled_segments(b: AnnotationBuilder, video_id: str, raw_anns: object, where: str) -> None:
    """Add each `{segment, label}` annotation of a video as a class segment."""
    if not isinstance(raw_anns, list):
        b.fail(where, "`annotations` must be a list")
    for i, ann in enumerate(raw_anns):
        ann_where = f"{where} annotation {i}"
        if not isinstance(ann, dict) or "segment" not in ann or "label" not in ann:
            b.fail(ann_where, "an annotation needs `segment` and `label`")
        b.add_class_segment(video_id, ann["segment"], ann["label"], ann_where)


def _read_official(path: Path, data: dict, b_kwargs: dict, classes: Sequence[str] | None) -> AnnotationSet:
    b = AnnotationBuilder(FORMAT, path, classes=classes or taxonomy_classes(data.get("taxonomy"), path), **b_kwargs)
    for video_id, entry, raw_anns, where in database_entries(data["database"], b, "annotations"):
        duration_sec = optional_duration(entry, "duration", b.quirks, where)
        b.add_video(VideoRecord(video_id, duration_sec, entry.get("subset")), where)
        add_labelled_segments(b, video_id, raw_anns, where)
    return b.build()


def _bsn_info(path: Path) -> dict[str, tuple[str, float, int]]:
    """`video_info_new.csv` beside `path`: v_id -> (subset, fps, number of frames); empty when absent."""
    info_path = path.parent / BSN_INFO_FILE
    if not info_path.exists():
        return {}
    quirks = QuirkCounter(info_path)
    info = {}
    for line_no, row in read_csv(info_path, required=("video", "numFrame", "fps", "subset")):
        where = f"line {line_no}"
        info[row["video"]] = (row["subset"], parse_float(row["fps"], quirks, where, "fps"),
                              int(parse_float(row["numFrame"], quirks, where, "numFrame")))
    return info


def _bsn_classes(path: Path) -> tuple[str, ...] | None:
    names_path = path.parent / BSN_CLASSES_FILE
    if not names_path.exists():
        return None
    names = [line.strip() for _, line in read_lines(names_path)]
    return tuple(sorted(names[1:] if names and names[0] == "action" else names))


def _read_bsn(path: Path, data: dict, b_kwargs: dict, classes: Sequence[str] | None) -> AnnotationSet:
    info = _bsn_info(path)
    if not info and b_kwargs.get("split") is not None:
        raise AnnotationError(f"{path}: the BSN layout has no subsets; {BSN_INFO_FILE} must sit beside it to filter "
                              f"by split")
    b = AnnotationBuilder(FORMAT, path, classes=classes or _bsn_classes(path), **b_kwargs)
    for raw_id, entry in data.items():
        where = f"video {raw_id}"
        entry = require_mapping(entry, path, where)
        subset, fps, num_frames = info.get(raw_id, (None, None, entry.get("duration_frame")))
        if not b.wants(subset):
            continue
        video_id = raw_id.removeprefix(BSN_PREFIX)
        duration_sec = to_duration(entry.get("duration_second"), b.quirks, where)
        if not isinstance(entry.get("annotations", []), list):
            b.fail(where, "`annotations` must be a list")
        b.add_video(VideoRecord(video_id, duration_sec, subset, fps=fps, num_frames=num_frames), where)
        add_labelled_segments(b, video_id, entry.get("annotations", []), where)
    return b.build()


def is_bsn_layout(data: object) -> bool:
    """True for the BSN `anet_anno_action.json` layout (entries with `duration_second`)."""
    if not isinstance(data, dict) or not data or "database" in data:
        return False
    first = next(iter(data.values()))
    return isinstance(first, dict) and "duration_second" in first


def read_activitynet13(path: Path, *, strict: bool = False, split: str | None = None,
                       classes: Sequence[str] | None = None, as_given: bool = False,
                       data: object = None) -> AnnotationSet:
    """Read ActivityNet-1.3 annotations in the official or the BSN layout.

    Args:
        path: `activity_net.v1-3.min.json` (or the substitute) or BSN's `anet_anno_action.json`.
        strict: raise on every quirk instead of applying its policy.
        as_given: keep every segment as given (evaluation; a missing `duration` is then NaN, unknown).
        data: the file's parsed JSON when the caller already holds it (`path` then only names it in messages).
        split: keep only this subset ("training"/"train", "validation"/"val", "testing"/"test").
        classes: the class list in index order (default: sorted taxonomy leaves, or sorted `action_name.csv`).

    Returns:
        An `AnnotationSet` with class-labelled segments; labels outside the class list are errors.
    """
    path = Path(path)
    data = read_json(path) if data is None else data
    b_kwargs = {"strict": strict, "split": split, "as_given": as_given}
    if isinstance(data, dict) and "database" in data:
        return _read_official(path, data, b_kwargs, classes)
    if is_bsn_layout(data):
        return _read_bsn(path, data, b_kwargs, classes)
    raise AnnotationError(f"{path}: not an ActivityNet-1.3 file: expected a `database` object (official layout) "
                          f"or BSN entries with `duration_second`")
