"""Kinetics csv reader (Kay et al., 2017; `kinetics-{400,600,700}_*.csv`), for the video pretraining of UnLoc §3.

Columns `label, youtube_id, time_start, time_end, split[, is_cc]`; the test lists have no `label`. Each row is a
trimmed clip, so it becomes a video of duration `time_end - time_start` with one segment covering the whole clip and
carrying the label. The video id is `{youtube_id}_{time_start:06d}_{time_end:06d}`: the file name (without `.mp4`)
that the ActivityNet crawler's Kinetics downloader gives each trimmed clip (`construct_video_filename`,
`trim_format='%06d'`), which `unloc.data.paths` then finds under the video root, flat or in per-label folders.
The classes are the sorted labels met (the order of the official label maps) unless a class list is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from unloc.data.formats.builder import AnnotationBuilder
from unloc.data.formats.fileio import read_csv
from unloc.data.formats.quirks import parse_float
from unloc.data.records import AnnotationSet, VideoRecord

FORMAT = "kinetics"
_REQUIRED = ("youtube_id", "time_start", "time_end")


def kinetics_video_id(youtube_id: str, time_start: float, time_end: float) -> str:
    """Clip id as the Kinetics downloaders name files: `{youtube_id}_{start:06d}_{end:06d}` (whole seconds)."""
    return f"{youtube_id}_{int(time_start):06d}_{int(time_end):06d}"


def read_kinetics(path: Path, *, strict: bool = False, split: str | None = None,
                  classes: Sequence[str] | None = None, as_given: bool = False) -> AnnotationSet:
    """Read a Kinetics csv file.

    Args:
        path: e.g. `kinetics-400_val.csv` (Kinetics-400/600/700 lists share the layout).
        strict: raise on every quirk instead of applying its policy.
        split: keep only rows whose `split` column matches ("train", "val", "test").
        classes: class list in index order (e.g. `label_map_k400.txt`); labels outside it are errors.
        as_given: accepted for a uniform reader signature (a Kinetics clip has no window to repair).

    Returns:
        An `AnnotationSet` with one video (and, when labelled, one whole-clip segment) per row.
    """
    path = Path(path)
    b = AnnotationBuilder(FORMAT, path, strict=strict, split=split, classes=classes, as_given=as_given)
    for line_no, row in read_csv(path, required=_REQUIRED):
        row_split = row.get("split") or None
        if not b.wants(row_split):
            continue
        where = f"line {line_no}"
        start_sec = parse_float(row["time_start"], b.quirks, where, "time_start")
        end_sec = parse_float(row["time_end"], b.quirks, where, "time_end")
        if end_sec <= start_sec:
            b.fail(where, f"time_end {end_sec} must be after time_start {start_sec}")
        video_id = kinetics_video_id(row["youtube_id"].strip(), start_sec, end_sec)
        if b.has_video(video_id):
            b.quirks.note("duplicate_video", where, f"clip {video_id} listed again; the first row is kept")
            continue
        b.add_video(VideoRecord(video_id, end_sec - start_sec, row_split), where)
        if row.get("label") is not None:
            b.add_class_segment(video_id, (0.0, end_sec - start_sec), row["label"], f"{where} (clip {video_id})")
    return b.build()
