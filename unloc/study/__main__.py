"""`python -m unloc.study generate|notebook ...`: the study's own commands (the mini-world generator and the notebook
runner of the DVC stages), kept out of the library's `unloc` command."""

from __future__ import annotations

import argparse
import sys

from unloc.study import notebook
from unloc.study.miniworld import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unloc.study", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generate.register(subparsers)
    notebook.register(subparsers)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
