"""ActivityNet Captions reader (Krishna et al., ICCV 2017; `train.json`, `val_1.json`, `val_2.json`), UnLoc §4.

Layout: `{video_id: {duration, timestamps: [[s, e], ...], sentences: [...]}}`, ids with the `v_` prefix (kept as
written), times in seconds, one timestamp per sentence. The query id is the 0-based position of the sentence when
walking the videos in file order and each video's sentences in order, the convention of the moment-retrieval
evaluation. Known quirks, all handled by `quirks.POLICIES` and counted: train has 2 reversed segments and 29 that end
after the duration (val_1: 5, val_2: 1), and most sentences begin with a space. The split is the file's stem.
"""

from __future__ import annotations

from pathlib import Path

from unloc.data.formats.builder import AnnotationBuilder
from unloc.data.formats.fileio import read_json, require_mapping
from unloc.data.formats.quirks import optional_duration
from unloc.data.records import AnnotationSet, VideoRecord

FORMAT = "activitynet_captions"


def read_activitynet_captions(path: Path, *, strict: bool = False, split: str | None = None,
                              split_name: str | None = None, as_given: bool = False) -> AnnotationSet:
    """Read an ActivityNet Captions json file.

    Args:
        path: `train.json`, `val_1.json` or `val_2.json` (or any file in that layout).
        strict: raise on every quirk instead of applying its policy.
        split: keep only this split (the file holds one).
        split_name: the file's split (default: the file stem, e.g. "val_1").
        as_given: keep every window as given (evaluation; a missing duration is then NaN, unknown).

    Returns:
        An `AnnotationSet` with one `Query` per sentence.
    """
    path = Path(path)
    file_split = split_name or path.stem
    b = AnnotationBuilder(FORMAT, path, strict=strict, split=split, as_given=as_given)
    if not b.wants(file_split):
        return b.build()
    data = require_mapping(read_json(path), path, "top level")
    query_id = 0
    for video_id, entry in data.items():
        where = f"video {video_id}"
        entry = require_mapping(entry, path, where)
        timestamps, sentences = entry.get("timestamps"), entry.get("sentences")
        if not isinstance(timestamps, list) or not isinstance(sentences, list):
            b.fail(where, "needs `duration`, and `timestamps` and `sentences` lists")
        if len(timestamps) != len(sentences):
            b.fail(where, f"{len(timestamps)} timestamps but {len(sentences)} sentences")
        b.add_video(VideoRecord(video_id, optional_duration(entry, "duration", b.quirks, where), file_split), where)
        for i, (pair, sentence) in enumerate(zip(timestamps, sentences)):
            b.add_query(query_id, video_id, sentence, [pair], f"video {video_id} sentence {i} (query {query_id})")
            query_id += 1
    return b.build()
