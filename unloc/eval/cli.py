"""`unloc eval {mr,tal,seg}`: official metrics of a prediction file as JSON, offline and in about a second.

Prints the metrics as JSON on stdout (and writes them with `--out`); the input quirks met (`input_quirks`, see
`unloc.eval.quirks`) go to stderr as well; `--strict` makes each an error; bad input exits with status 2 and one line
naming the file and record (paper §4, evaluation protocols). This module imports only the standard library: the
evaluators (numpy) are imported when a subcommand runs, so `unloc --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

MR_FORMATS = ("qvhighlights", "charades_sta", "activitynet_captions", "anet_captions")  # the last: an old alias


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
    for kind, info in metrics.get("input_quirks", {}).items():
        example = f" (e.g. {info['examples'][0]})" if info["examples"] else ""
        print(f"input quirk: {kind}: {info['count']}{example}", file=sys.stderr)
    return 0


def _run_mr(args: argparse.Namespace) -> dict:
    from unloc.eval.moment_retrieval import evaluate_moment_retrieval
    return evaluate_moment_retrieval(args.gt, args.pred, args.format, strict=args.strict)


def _run_tal(args: argparse.Namespace) -> dict:
    from unloc.eval.temporal_localization import evaluate_temporal_localization
    return evaluate_temporal_localization(args.gt, args.pred, args.split, args.blocked, strict=args.strict)


def _run_seg(args: argparse.Namespace) -> dict:
    from unloc.eval.segmentation import evaluate_segmentation
    return evaluate_segmentation(args.gt, args.pred, fps=args.fps, split=args.split, classes_path=args.classes,
                                 background_threshold=args.threshold, strict=args.strict)


def run(args: argparse.Namespace) -> int:
    """Runs the parsed `unloc eval <task>` command; bad input raises (`unloc`'s dispatcher prints one line, exit 2)."""
    return _report(args.eval_run(args), args.out)


def _positive_fps(text: str) -> float:
    """A finite frame rate above 0 (argparse names the option when this raises)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _common(parser: argparse.ArgumentParser, run_task) -> None:
    parser.add_argument("--gt", type=Path, required=True, help="ground-truth file")
    parser.add_argument("--pred", type=Path, required=True, help="prediction file")
    parser.add_argument("--out", type=Path, default=None, help="also write the metrics JSON here")
    parser.add_argument("--strict", action="store_true",
                        help="make every input quirk of the prediction file an error (default: counted)")
    parser.set_defaults(func=run, eval_run=run_task)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `eval` with the `mr`, `tal` and `seg` subcommands (standard library only)."""
    parser = subparsers.add_parser("eval", help="official metrics of a prediction file (mr, tal, seg)",
                                   description=__doc__.splitlines()[0])
    tasks = parser.add_subparsers(dest="task", required=True)

    mr = tasks.add_parser("mr", help="moment retrieval: R@{1,5} IoU {.3,.5,.7}, mIoU; QVHighlights official MR/HL")
    _common(mr, _run_mr)
    mr.add_argument("--format", choices=MR_FORMATS, default=None, help="ground-truth format (default: detected)")

    tal = tasks.add_parser("tal", help="temporal action localization: ActivityNet-1.3 mAP@0.5:0.05:0.95")
    _common(tal, _run_tal)
    tal.add_argument("--split", default="validation", help="ground-truth subset (default: validation)")
    tal.add_argument("--blocked", type=Path, default=None, help="video ids to leave out (json list or one a line)")

    seg = tasks.add_parser("seg", help="action segmentation: frame accuracy, frame mAP, Edit, F1@{10,25,50}")
    _common(seg, _run_seg)
    seg.add_argument("--split", default=None, help="COIN subset to evaluate (default: every video)")
    seg.add_argument("--fps", type=_positive_fps, default=None, help="frame rate at which COIN ground truth is sampled")
    seg.add_argument("--classes", type=Path, default=None, help="class order: COIN taxonomy csv or one id a line")
    seg.add_argument("--threshold", type=float, default=0.0,
                     help="a frame is background when its best score is <= this (default 0, for logits)")


def main(argv: list[str] | None = None) -> int:
    """`python -m unloc.eval.cli {mr,tal,seg} ...`: the `unloc eval` command on its own."""
    parser = argparse.ArgumentParser(prog="unloc", description=__doc__.splitlines()[0])
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval", *(sys.argv[1:] if argv is None else argv)])
    from unloc.data.formats.quirks import AnnotationError  # EvalInputError is one

    try:
        return int(args.func(args))
    except (AnnotationError, OSError) as err:  # bad input: one line, as `unloc eval` prints it
        print(f"unloc eval {args.task}: error: {err}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
