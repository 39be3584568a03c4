"""`unloc eval {mr,tal,seg}`: official metrics of a prediction file as JSON, offline and in about a second.

Prints the metrics as JSON on stdout (and writes them with `--out`); counted warnings go to stderr as well; bad input
exits with status 2 and a message naming the file and record (paper §4, evaluation protocols).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from unloc.eval.inputs import EvalInputError
from unloc.eval.moment_retrieval import evaluate_moment_retrieval
from unloc.eval.mr_inputs import MR_FORMATS
from unloc.eval.segmentation import evaluate_segmentation
from unloc.eval.temporal_localization import evaluate_temporal_localization


def _json_safe(value: object) -> object:
    """NaN / inf are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _report(metrics: dict, out: Path | None) -> int:
    text = json.dumps(_json_safe(metrics), indent=2)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    for kind, info in metrics.get("warnings", {}).items():
        print(f"warning: {kind}: {info['count']} (e.g. {info['example']})", file=sys.stderr)
    return 0


def _guarded(run):
    def func(args: argparse.Namespace) -> int:
        try:
            return _report(run(args), args.out)
        except (EvalInputError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return func


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", type=Path, required=True, help="ground-truth file")
    parser.add_argument("--pred", type=Path, required=True, help="prediction file")
    parser.add_argument("--out", type=Path, default=None, help="also write the metrics JSON here")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `eval` with the `mr`, `tal` and `seg` subcommands."""
    parser = subparsers.add_parser("eval", help="official metrics of a prediction file (mr, tal, seg)",
                                   description=__doc__.splitlines()[0])
    tasks = parser.add_subparsers(dest="task", required=True)

    mr = tasks.add_parser("mr", help="moment retrieval: R@{1,5} IoU {.3,.5,.7}, mIoU; QVHighlights official MR/HL")
    _common(mr)
    mr.add_argument("--format", choices=MR_FORMATS, default=None, help="ground-truth format (default: detected)")
    mr.set_defaults(func=_guarded(lambda a: evaluate_moment_retrieval(a.gt, a.pred, a.format)))

    tal = tasks.add_parser("tal", help="temporal action localization: ActivityNet-1.3 mAP@0.5:0.05:0.95")
    _common(tal)
    tal.add_argument("--split", default="validation", help="ground-truth subset (default: validation)")
    tal.add_argument("--blocked", type=Path, default=None, help="video ids to leave out (json list or one a line)")
    tal.set_defaults(func=_guarded(lambda a: evaluate_temporal_localization(a.gt, a.pred, a.split, a.blocked)))

    seg = tasks.add_parser("seg", help="action segmentation: frame accuracy, frame mAP, Edit, F1@{10,25,50}")
    _common(seg)
    seg.add_argument("--split", default=None, help="COIN subset to evaluate (default: every video)")
    seg.add_argument("--fps", type=float, default=None, help="frame rate at which COIN ground truth is sampled")
    seg.add_argument("--classes", type=Path, default=None, help="class order: COIN taxonomy csv or one id a line")
    seg.add_argument("--threshold", type=float, default=0.0,
                     help="a frame is background when its best score is <= this (default 0, for logits)")
    seg.set_defaults(func=_guarded(lambda a: evaluate_segmentation(
        a.gt, a.pred, fps=a.fps, split=a.split, classes_path=a.classes, background_threshold=a.threshold)))
