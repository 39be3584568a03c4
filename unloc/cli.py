"""The `unloc` command. Each subcommand lives in the module that owns its logic and registers itself here.

A module listed in `_COMMAND_MODULES` exposes `register(subparsers)`, which adds one or more subcommands and sets
`func` on each parser; `func(args)` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMAND_MODULES = (
    "unloc.data.extract",
    "unloc.data.check",
    "unloc.data.miniworld.generate",
    "unloc.eval.cli",
    "unloc.train_cli",
    "unloc.localize_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unloc", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
