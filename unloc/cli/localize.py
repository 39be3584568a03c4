"""`unloc localize VIDEO --run RUN`: a trained run's predictions on any video as JSON, optionally as a timeline plot.

`--query` (repeatable) for a moment-retrieval run, `--classes a,b,c` or `--classes-file` (one name a line, or a JSON
list) for a localization or segmentation run (default: the run's own classes), `--segment` to insist on
segmentation. Long videos are cut into overlapping windows of `--window-sec` (paper §3-§4; see `unloc.infer.localize`).
Prints the JSON on stdout, writes it with `--out`, draws `--plot out.png`; bad input (raised here, reported by the
`unloc` dispatcher) exits with status 2 and one line naming the argument, run, video or file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from unloc.cli.args import existing_dir, existing_file, int_at_least, output_file, positive_float, torch_device
from unloc.data.formats.fileio import read_json, read_names
from unloc.infer.localize import LocalizeError, localize, to_json


def read_class_file(path: Path) -> list[str]:
    """Class names from a text file (one a line; blank lines and '#' comments skipped) or a JSON list of strings."""
    if path.suffix != ".json":
        return read_names(path)
    names = read_json(path)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise LocalizeError(f"{path}: expected a JSON list of class names")
    return names


def _classes(args: argparse.Namespace) -> list[str] | None:
    if args.classes_file is not None:
        return read_class_file(args.classes_file)
    if args.classes is not None:
        return [name.strip() for name in args.classes.split(",")]
    return None


def run(args: argparse.Namespace) -> int:
    """The `localize` subcommand; returns the exit code."""
    result = localize(args.run, args.video, queries=args.query, classes=_classes(args), segment=args.segment,
                      window_sec=args.window_sec, top_k=args.top_k, device=args.device)
    if args.plot is not None:
        from unloc.infer.timeline import plot_timeline  # matplotlib only when a plot is asked for

        plot_timeline(args.video, result, args.plot)
    text = json.dumps(to_json(result, frame_scores=args.frame_scores), indent=1)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `localize`."""
    parser = subparsers.add_parser("localize", help="a trained run's predictions on a video (mr, tal, seg)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, help="the video file")
    parser.add_argument("--run", type=existing_dir, required=True,
                        help="run directory (config.yaml, model.safetensors)")
    parser.add_argument("--query", action="append", default=None, help="moment retrieval: a sentence (repeatable)")
    names = parser.add_mutually_exclusive_group()
    names.add_argument("--classes", default=None, help="localization / segmentation: comma-separated class names")
    names.add_argument("--classes-file", type=existing_file, default=None,
                       help="class names, one a line (or a JSON list)")
    parser.add_argument("--segment", action="store_true", help="action segmentation (needs a 'seg' run)")
    parser.add_argument("--window-sec", type=positive_float(allow_inf=True), default=None,
                        help="window length for long videos (default: from the run's training videos; inf = none)")
    parser.add_argument("--top-k", type=int_at_least(1), default=10,
                        help="segments kept per query / per video (default 10)")
    parser.add_argument("--plot", type=output_file, default=None, help="draw a timeline PNG here")
    parser.add_argument("--out", type=output_file, default=None, help="also write the JSON here")
    parser.add_argument("--frame-scores", action="store_true", help="segmentation: add per-frame scores to the JSON")
    parser.add_argument("--device", type=torch_device, default="cpu", help="torch device (default cpu)")
    parser.set_defaults(func=run)
