"""Video files of an annotation set: resolve each video id to a file under a video root, and list what is missing.

Datasets arrive in different layouts: flat (`Charades_v1_480/ID.mp4`, QVHighlights `videos/VID.mp4`), per class or
per split folders (Kinetics downloaders write `label/ID.mp4`), ActivityNet files with or without the `v_` prefix,
and containers of several kinds. The root is therefore indexed once, recursively, by file stem, for the extensions in
`VIDEO_EXTENSIONS`; an id is looked up as written, then with the `v_` prefix added or removed. When several files
share a stem, the extension earlier in `VIDEO_EXTENSIONS` wins, then the shallower path, then the name order.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")
ANET_PREFIX = "v_"


@dataclass(frozen=True)
class VideoPaths:
    """Where the videos of a set of ids are.

    Attributes:
        root: the video root searched.
        found: video id -> file path, for the ids that have a file.
        missing: ids with no file, in the order they were asked for.
    """

    root: Path
    found: dict[str, Path]
    missing: tuple[str, ...]

    def report(self, max_listed: int = 10) -> str:
        """One human-readable paragraph: how many were found, and the first missing ids."""
        total = len(self.found) + len(self.missing)
        text = f"{len(self.found)} of {total} videos found under {self.root}"
        if self.missing:
            listed = ", ".join(self.missing[:max_listed])
            more = f" and {len(self.missing) - max_listed} more" if len(self.missing) > max_listed else ""
            text += f"; {len(self.missing)} missing: {listed}{more}"
        return text


def index_video_dir(root: Path) -> dict[str, Path]:
    """Map each video file stem under `root` (recursively) to its path.

    Args:
        root: a directory.

    Returns:
        stem -> path; ties resolved by extension rank, then depth, then path order.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: video root is not a directory")
    rank = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    best: dict[str, tuple[tuple[int, int, str], Path]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        depth = len(Path(dirpath).relative_to(root).parts)
        for name in filenames:
            stem, ext = os.path.splitext(name)
            if ext.lower() not in rank:
                continue
            key = (rank[ext.lower()], depth, os.path.join(dirpath, name))
            if stem not in best or key < best[stem][0]:
                best[stem] = (key, Path(dirpath) / name)
    return {stem: path for stem, (_, path) in best.items()}


def candidate_names(video_id: str) -> tuple[str, ...]:
    """File stems under which a video may be stored: the id, then the id with the ActivityNet `v_` prefix toggled."""
    if video_id.startswith(ANET_PREFIX):
        return (video_id, video_id[len(ANET_PREFIX):])
    return (video_id, ANET_PREFIX + video_id)


def resolve_videos(video_ids: Iterable[str], root: Path, index: dict[str, Path] | None = None) -> VideoPaths:
    """Find the file of each video id under `root`.

    Args:
        video_ids: ids as the annotation reader returns them.
        root: the video root.
        index: a prebuilt `index_video_dir(root)` (to resolve several annotation files against one root).

    Returns:
        `VideoPaths` with the found files and the missing ids.
    """
    index = index_video_dir(root) if index is None else index
    found: dict[str, Path] = {}
    missing: list[str] = []
    for video_id in video_ids:
        path = next((index[name] for name in candidate_names(video_id) if name in index), None)
        if path is None:
            missing.append(video_id)
        else:
            found[video_id] = path
    return VideoPaths(root=Path(root), found=found, missing=tuple(missing))
