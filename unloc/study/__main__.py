"""`python -m unloc.study generate|notebook ...`: the study's own commands (the mini-world generator and the notebook
runner of the DVC stages), kept out of the library's `unloc` command. Bad input exits with status 2 and one line on
stderr naming the argument or file, as `unloc` does (`--debug` shows the traceback)."""

from __future__ import annotations

import argparse
import sys

from unloc.cli import add_debug_flag
from unloc.cli.errors import call_command
from unloc.study import notebook
from unloc.study.miniworld import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unloc.study", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of every error")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generate.register(subparsers)
    notebook.register(subparsers)
    for command in subparsers.choices.values():
        add_debug_flag(command)
    args = parser.parse_args(argv)
    return call_command(args.func, args, args.command_prog, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
