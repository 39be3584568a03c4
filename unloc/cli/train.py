"""`unloc train`: resolve one stage's config, train it, predict, evaluate, and print the metrics as JSON (paper §4).

The stage comes from a params file (`--params FILE --stage SECTION [--profile P]`) or from the packaged paper-scale
configurations (`--paper NAME [--paper-root DIR]`, see `unloc.config.paper`). `--set key.path=value` (repeatable,
values parsed as YAML) is the last delta; unknown keys and bad values exit with status 2 and name the dotted key.
Several GPUs on one machine: `--world-size N` (the ranks are spawned by `unloc.train.launch`). Several machines: start
this module with torchrun on each, e.g.

    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        -m unloc.cli.train --paper anet_tal_l --paper-root /datasets/unloc --out runs/anet_tal_l

where every rank joins torchrun's group and the world size is torchrun's WORLD_SIZE. Only rank 0 writes the run
directory (`unloc.run.experiment`) and prints the metrics.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from unloc.cli.args import existing_file, int_at_least, output_dir
from unloc.cli.errors import UsageError, call_command
from unloc.config import ExperimentConfig, load_config, replace
from unloc.config.paper import PAPER_CONFIGS, load_paper_config, missing_init, nest_dotted
from unloc.config.strict import ConfigError
from unloc.train import ResumeError
from unloc.train.distributed import is_main, under_torchrun

_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")  # YAML 1.1 reads '1e-3' as a string


def parse_set(item: str) -> tuple[str, Any]:
    """'train.base_lr=1e-3' -> ('train.base_lr', 0.001). Values are YAML ('null', '[0, 4]', 'true', '3'); numbers in
    scientific notation are floats.

    Raises:
        ConfigError: no '=' or an empty key, or a value that is not YAML.
    """
    key, sep, text = item.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. train.epochs=3")
    if _SCIENTIFIC.match(text):
        return key, float(text)
    try:
        return key, yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {item!r}: the value is not valid YAML ({getattr(err, 'problem', err)})") from err


def world_size_for(requested: int | None, configured: int) -> int:
    """The number of ranks: torchrun's WORLD_SIZE when torchrun started this process, else `--world-size`, else the
    config's `train.world_size`.

    Raises:
        ConfigError: `--world-size` disagrees with the processes torchrun started.
    """
    if under_torchrun():
        launched = int(os.environ["WORLD_SIZE"])
        if requested is not None and requested != launched:
            raise ConfigError(f"--world-size {requested} but torchrun started WORLD_SIZE={launched} processes")
        return launched
    return requested if requested is not None else configured


def resolve(args: argparse.Namespace) -> ExperimentConfig:
    """The stage's `ExperimentConfig` from the parsed arguments (source, overrides, world size).

    Raises:
        ConfigError: a bad or inconsistent configuration (also a value a config dataclass rejected).
    """
    source = args.params or f"paper config {args.paper}"
    try:
        return _resolve(args)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{source}: not a UTF-8 text file ({err.reason} at byte {err.start})") from err
    except ValueError as err:  # a dataclass rejected a value (e.g. batch vs ranks): a configuration error too
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(str(err)) from err


def _resolve(args: argparse.Namespace) -> ExperimentConfig:
    overrides = nest_dotted(dict(parse_set(item) for item in args.set))
    if args.paper:
        if args.stage or args.profile:
            raise ConfigError("--stage and --profile go with --params, not --paper")
        cfg = load_paper_config(args.paper, paper_root=args.paper_root, **overrides)
    else:
        if not args.stage:
            raise ConfigError("--params needs --stage SECTION (a dotted section name of the params file)")
        if args.paper_root:
            raise ConfigError("--paper-root goes with --paper")
        cfg = load_config(args.stage, args.params, profile=args.profile, overrides=overrides)
    world = world_size_for(args.world_size, cfg.train.world_size)
    return replace(cfg, **{"train.world_size": world}) if world != cfg.train.world_size else cfg


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or inf: they print as null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()}


def run(args: argparse.Namespace) -> int:
    """`unloc train`: exit status 0 after a finished run. A bad configuration, a run that cannot resume or a non-finite
    loss raise (one line on stderr and status 2 from `unloc.cli.errors.call_command`)."""
    cfg = resolve(args)
    if args.print_config:
        print(cfg.to_yaml(), end="")
        return 0
    if args.dry_run:
        from unloc.config.dry_run import dry_run_text

        print(dry_run_text(cfg, args.paper), end="")
        return 0
    if problem := missing_init(cfg):  # before any data is read or a process started
        raise UsageError(problem)
    from unloc.run.experiment import run_experiment  # lazy: the model and data stacks are heavy

    out = Path(args.out) if args.out else Path("runs") / cfg.name
    resume = "or_start" if args.resume_or_start else args.resume
    try:
        result = run_experiment(cfg, out, resume=resume, progress=not args.no_progress)
    except ResumeError as err:
        if err.reason != "missing":
            raise
        raise UsageError(f"{err} (--resume-or-start starts from scratch when there is none)") from err
    if args.paper and is_main():  # further evaluation sets of the paper config (ActivityNet Captions val_1)
        from unloc.run.paper_eval import evaluate_extra_sets

        result.metrics.update(evaluate_extra_sets(args.paper, out, paper_root=args.paper_root))
    if is_main():
        print(f"run directory: {out}", file=sys.stderr)
        print(json.dumps(_finite(result.metrics), indent=2, sort_keys=True))
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `unloc train` (shared by the `unloc` command and `python -m unloc.cli.train`)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--params", type=existing_file, help="params YAML holding the stage")
    source.add_argument("--paper", choices=PAPER_CONFIGS, metavar="NAME",
                        help=f"a packaged paper-scale configuration: {', '.join(PAPER_CONFIGS)}")
    parser.add_argument("--stage", help="dotted section of --params, e.g. tal.finetune")
    parser.add_argument("--profile", help="profile of --params applied last (default: the file's `profile:`)")
    parser.add_argument("--paper-root", help="directory of the datasets of --paper (default data/paper; need not "
                        "exist for --print-config)")
    parser.add_argument("--out", type=output_dir, help="run directory (default runs/<stage name>)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue from the newest readable checkpoint in --out (an error when there is none)")
    resume.add_argument("--resume-or-start", action="store_true",
                        help="continue from the newest checkpoint in --out, or start from scratch when there is none")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override one config value (YAML), e.g. --set train.epochs=3; repeatable")
    parser.add_argument("--world-size", type=int_at_least(1),
                        help="processes (GPUs) on this machine; under torchrun its own")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved config beside the official config's keys (for review) and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `train`."""
    parser = subparsers.add_parser("train", help="train and evaluate one stage (params file or paper config)",
                                   description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m unloc.cli.train ...` (what torchrun starts): the options of `unloc train`."""
    parser = argparse.ArgumentParser(prog="unloc.cli.train", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of every error")
    args = parser.parse_args(argv)
    return call_command(run, args, "unloc.cli.train", debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
