"""Videos that feature extraction could not read, remembered in the cache, so training can say why one has no features.

A feature cache holds one `<id>.safetensors` per encoded video (`unloc.data.features`). For a video that could not be
decoded, `unloc.data.extract.extract_features` writes `<id>.failed.json` beside them instead (the video's path, the
decoder's reason and the file's size, written atomically) and removes it once the video is encoded. A dataset that
reads the cache then reports each video without features under its cause (`missing_reasons`): unreadable (with the
reason), no video file under the video root, or not extracted yet. A record whose video file has changed size since
is stale and ignored (the file was replaced; it has simply not been extracted again).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from unloc.data.features import FeatureCache, file_bytes
from unloc.data.paths import candidate_names, resolve_videos
from unloc.train.atomic import atomic_write_bytes

FAILED_SUFFIX = ".failed.json"
UNREADABLE = "videos that could not be read"
NO_FILE = "videos without a file"
NOT_EXTRACTED = "videos not in the feature cache (not extracted yet)"


def failure_path(cache: FeatureCache, video_id: str) -> Path:
    """Where the failure record of `video_id` goes (the id is checked as for its cache file)."""
    return cache.path(video_id).with_name(f"{video_id}{FAILED_SUFFIX}")


def record_failure(cache: FeatureCache, video_id: str, video_path: str | os.PathLike, reason: str) -> Path:
    """Remember that `video_path` (cached as `video_id`) could not be read, and why."""
    record = {"video_id": video_id, "video_path": str(video_path), "reason": reason,
              "video_bytes": file_bytes(video_path)}
    path = failure_path(cache, video_id)
    atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())
    return path


def clear_failure(cache: FeatureCache, video_id: str) -> None:
    """Forget a failure of `video_id` (it has been encoded since)."""
    failure_path(cache, video_id).unlink(missing_ok=True)


def recorded_failure(cache: FeatureCache, video_id: str) -> tuple[str, str] | None:
    """(video path, reason) of a recorded, still current failure of `video_id`; None when there is none."""
    try:
        record = json.loads(failure_path(cache, video_id).read_text(encoding="utf-8"))
        video_path, reason, size = record["video_path"], record["reason"], int(record["video_bytes"])
    except (OSError, ValueError, KeyError, TypeError):  # none, or a damaged record: nothing known
        return None
    if not isinstance(video_path, str) or not isinstance(reason, str) or file_bytes(video_path) != size:
        return None
    return video_path, reason


def missing_reasons(cache: FeatureCache, video_ids: Iterable[str],
                    video_root: str | os.PathLike | None) -> dict[str, tuple[str, str]]:
    """Why each of `video_ids` (annotation ids without a cache entry) has no features.

    Args:
        cache: the cache the dataset reads.
        video_ids: the ids without an entry.
        video_root: where their videos would be ('' or None when unknown).

    Returns:
        id -> (cause, detail): `UNREADABLE` with 'id (path: reason)', `NO_FILE` with 'id (none under ROOT)', or
        `NOT_EXTRACTED` with the id.
    """
    ids = list(video_ids)
    reasons: dict[str, tuple[str, str]] = {}
    for video_id in ids:
        failure = next(filter(None, (recorded_failure(cache, name) for name in candidate_names(video_id)
                                     if _usable(cache, name))), None)
        if failure is not None:
            reasons[video_id] = (UNREADABLE, f"{video_id} ({failure[0]}: {failure[1]})")
    rest = [video_id for video_id in ids if video_id not in reasons]
    if rest and video_root and Path(video_root).is_dir():
        missing = set(resolve_videos(rest, Path(video_root)).missing)
        reasons.update({v: (NO_FILE, f"{v} (none under {video_root})") for v in rest if v in missing})
    reasons.update({v: (NOT_EXTRACTED, v) for v in rest if v not in reasons})
    return {video_id: reasons[video_id] for video_id in ids}


def _usable(cache: FeatureCache, name: str) -> bool:
    try:
        cache.path(name)
    except ValueError:
        return False
    return True


__all__ = ["FAILED_SUFFIX", "NOT_EXTRACTED", "NO_FILE", "UNREADABLE", "clear_failure", "failure_path",
           "missing_reasons", "record_failure", "recorded_failure"]
