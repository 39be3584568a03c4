"""Where the study's files are: the repository root, the profile's roots (`vars:` of params.yaml) and each stage's
run directory. Light on purpose (no torch), so the tables notebook imports only what it runs."""

from __future__ import annotations

import os
from pathlib import Path

from unloc.config.params import path_vars, read_params


def enter_repo(start: str | Path = ".") -> Path:
    """Change into the nearest folder at or above `start` that holds params.yaml (notebooks run from notebooks/)."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file():
            os.chdir(folder)
            return folder
    raise FileNotFoundError(f"no params.yaml at or above {here}")


def study_vars(params_file: str | Path, profile: str | None) -> dict[str, str]:
    """The resolved roots (world, models, reports, ...) of a profile."""
    return path_vars(read_params(params_file), profile)


def stage_dir(params_file: str | Path, profile: str | None, stage: str, seed: int | None = None) -> Path:
    """reports/<stage path>/[seed<k>/] for the profile (dots of the stage name become folders)."""
    root = Path(study_vars(params_file, profile)["reports"]) / Path(*stage.split("."))
    return root / f"seed{seed}" if seed is not None else root
