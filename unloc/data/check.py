"""`unloc data check`: read an annotation file, report what it holds, which quirks it has, and which videos are missing.

The summary is JSON on stdout: format, number of records read, of videos, queries, segments and classes, counts per
split, the count of every quirk policy of `unloc.data.formats.quirks.POLICIES` (0 included, so a clean file shows it
is clean) with a few examples, and, given `--videos DIR`, how many video files were found and which are missing.
It is the first thing to run on a new dataset copy, and what the tests run on the real annotation files. A file that
yields no record at all (empty, or a split that matches nothing) is reported with a warning on stderr and in the
summary's `warnings`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from unloc.data.formats import POLICIES, READERS, read_annotations
from unloc.data.formats.fileio import read_names
from unloc.data.paths import VideoPaths, resolve_videos
from unloc.data.records import AnnotationSet

MAX_MISSING_LISTED = 20


def summarize(ann_set: AnnotationSet, videos: VideoPaths | None = None) -> dict:
    """The JSON-ready summary of an annotation set (and of its video files when resolved).

    Args:
        ann_set: what a reader returned.
        videos: the result of `resolve_videos` on its ids, or None.

    Returns:
        A dict with counts, per-split counts, quirk counts and examples, and missing videos.
    """
    summary = {
        "path": str(ann_set.path),
        "format": ann_set.format,
        "records": ann_set.num_records,
        "videos": len(ann_set.videos),
        "queries": len(ann_set.queries),
        "segments": ann_set.num_segments,
        "classes": len(ann_set.classes),
        "splits": ann_set.split_counts(),
        "quirks": {name: ann_set.quirks.count(name) for name in POLICIES},
        "quirk_examples": {name: list(ex) for name, ex in ann_set.quirks.examples.items()},
        "warnings": empty_warnings(ann_set),
    }
    if videos is not None:
        summary.update({
            "videos_dir": str(videos.root),
            "videos_found": len(videos.found),
            "missing_videos": len(videos.missing),
            "missing_examples": list(videos.missing[:MAX_MISSING_LISTED]),
        })
    return summary


def empty_warnings(ann_set: AnnotationSet) -> list[str]:
    """A warning when the file yielded nothing (an empty file passes every check but holds no data)."""
    if ann_set.num_records or ann_set.videos:
        return []
    return [f"{ann_set.path}: no records read (an empty file, or no record of the requested split)"]


def _reader_options(args: argparse.Namespace) -> dict:
    options = {}
    if args.classes is not None:
        options["classes"] = read_names(args.classes)
    if args.taxonomy is not None:
        options["taxonomy"] = args.taxonomy
    if args.durations:
        options["durations"] = args.durations
    return options


def run_check(args: argparse.Namespace) -> int:
    """Entry point of `unloc data check`; returns the exit code (0 ok, 1 missing videos with
    --require-videos, 2 bad input)."""
    try:
        ann_set = read_annotations(args.path, args.format, split=args.split, strict=args.strict,
                                   **_reader_options(args))
        videos = resolve_videos(ann_set.videos, args.videos) if args.videos is not None else None
    except (ValueError, FileNotFoundError) as err:  # AnnotationError is a ValueError
        print(f"unloc data check: error: {err}", file=sys.stderr)
        return 2
    summary = summarize(ann_set, videos)
    print(json.dumps(summary, indent=2))
    for warning in summary["warnings"]:
        print(f"unloc data check: warning: {warning}", file=sys.stderr)
    if videos is not None and videos.missing:
        print(videos.report(), file=sys.stderr)
        return 1 if args.require_videos else 0
    return 0


def data_subcommands(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `unloc data` subcommand group, created on first use so that several modules can add to it."""
    parser = subparsers.choices.get("data")
    if parser is None:
        parser = subparsers.add_parser("data", help="inspect and prepare datasets")
        parser.unloc_subcommands = parser.add_subparsers(dest="data_command", required=True)
    return parser.unloc_subcommands


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `unloc data check` to the `unloc` command."""
    parser = data_subcommands(subparsers).add_parser(
        "check", help="summarize an annotation file: counts, quirks, missing videos (JSON on stdout)")
    parser.add_argument("path", type=Path, help="annotation file in one of the official formats")
    parser.add_argument("--format", choices=sorted(READERS), help="format (default: detected)")
    parser.add_argument("--videos", type=Path, metavar="DIR", help="video root to look the videos up in")
    parser.add_argument("--split", help="keep one split or subset (e.g. training, val)")
    parser.add_argument("--strict", action="store_true", help="fail on the first quirk instead of fixing it")
    parser.add_argument("--classes", type=Path, metavar="FILE",
                        help="class list, one name a line (ActivityNet-1.3, Kinetics)")
    parser.add_argument("--taxonomy", type=Path, metavar="CSV", help="COIN taxonomy_target_action_mapping.csv")
    parser.add_argument("--durations", type=Path, nargs="+", metavar="CSV",
                        help="Charades_v1_*.csv files with video lengths (default: those beside PATH)")
    parser.add_argument("--require-videos", action="store_true", help="exit 1 when a video file is missing")
    parser.set_defaults(func=run_check)
