"""Run one of the study's notebooks with papermill: the one command every DVC stage uses.

`python -m unloc.study notebook NOTEBOOK OUT_DIR -p NAME VALUE ...` executes `NOTEBOOK` from the repository root with
the given parameters and writes the executed copy to `OUT_DIR/notebook.ipynb` (the folder is created). Cell output is
streamed to the log as it runs. Values are passed as YAML scalars, so `-p seed 2` arrives as an int.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from unloc.cli.args import existing_file, output_dir
from unloc.cli.errors import UsageError

EXECUTED_NAME = "notebook.ipynb"


def run_notebook(notebook: str | Path, out_dir: str | Path, parameters: dict, cwd: str | Path = ".") -> Path:
    """Execute `notebook` with `parameters` in `cwd`; returns the path of the executed copy under `out_dir`."""
    import papermill  # imported here: `python -m unloc.study generate` does not need it

    out = Path(out_dir) / EXECUTED_NAME
    out.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name="python3",
                               cwd=str(cwd), progress_bar=False, log_output=True)
    return out


def _parameters(pairs: list[list[str]]) -> dict:
    """`-p NAME VALUE` pairs -> {name: YAML value}; a value that is not YAML names its parameter."""
    parameters = {}
    for name, value in pairs:
        try:
            parameters[name] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise UsageError(f"-p {name} {value!r}: the value is not valid YAML ({getattr(err, 'problem', err)})") \
                from err
    return parameters


def _check_notebook(path: Path) -> None:
    """A notebook file is JSON: refuse anything else before papermill starts a kernel."""
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"{path} is not a Jupyter notebook (not JSON: {err})") from err


def _run(args: argparse.Namespace) -> int:
    parameters = _parameters(args.parameter or [])
    _check_notebook(args.notebook)
    run_notebook(args.notebook, args.out_dir, parameters)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `notebook`."""
    p = subparsers.add_parser("notebook", help="execute a study notebook with papermill into OUT_DIR/notebook.ipynb")
    p.add_argument("notebook", type=existing_file, help="the notebook to run, e.g. notebooks/20_moment_retrieval.ipynb")
    p.add_argument("out_dir", type=output_dir, help="folder of the executed notebook (created)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="a notebook parameter (repeatable); the value is read as YAML")
    p.set_defaults(func=_run)
