"""The `unloc` command. Each subcommand lives in the module that owns its logic and registers itself there.

A module in `COMMANDS` exposes `register(subparsers)`, which adds its subcommand and sets `func` on the parser;
`func(args)` returns the process exit code. Only the module of the command being run is imported, so `unloc --help`
and light commands such as `unloc eval` start without importing torch. A command reports bad input by raising; the
exception becomes one line on stderr and exit status 2 here, in `unloc.cli.errors.call_command`, while a bug keeps
its traceback. `--debug` (before or after the command) shows the traceback of bad input too.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from unloc.cli.errors import call_command

# command -> (module that registers it, one-line help shown by `unloc --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "extract-features": ("unloc.cli.extract", "encode sampled frames once and cache the features"),
    "data": ("unloc.data.check", "inspect annotation files (data check)"),
    "eval": ("unloc.eval.cli", "score prediction files with the official-equivalent evaluators"),
    "train": ("unloc.cli.train", "train, predict and evaluate one stage (params.yaml section or paper config)"),
    "localize": ("unloc.cli.localize", "a trained run's predictions on any video"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with `command`'s full options (its module imported) and a one-line entry for every other one."""
    parser = argparse.ArgumentParser(prog="unloc", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of every error")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if name == command:
            importlib.import_module(module).register(subparsers)
            add_debug_flag(subparsers.choices[name])
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """`--debug` on a command's parser and on each of its own subcommands, so it may also follow the command; each
    records its `prog` ('unloc eval tal'), which error messages start with."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(command_prog=parser.prog)  # the innermost subcommand's wins
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                add_debug_flag(sub)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    return call_command(args.func, args, args.command_prog, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
