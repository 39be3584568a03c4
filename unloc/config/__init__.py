"""Configuration: the frozen dataclass schema of a stage, the one strict loader, params.yaml sections and the packaged
paper-scale configurations.

`load_config(stage, params_file, profile)` is the entry point: it merges the stage's sections (`unloc.config.params`),
or, under a profile that maps stages to paper configurations, the packaged official configuration
(`unloc.config.paper`), and converts the result with the strict loader (`unloc.config.strict`: an unknown key is an
error naming the dotted path and the nearest valid key).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unloc.config.paper import resolve_paper_stage
from unloc.config.params import RESERVED, merge_stage, path_vars, profile_delta, read_params, substitute
from unloc.config.schema import ExperimentConfig, InitConfig, load_run_config, replace, save_config
from unloc.config.strict import ConfigError, from_dict, merge, to_dict


def resolve_stage(params: Mapping[str, Any], stage: str, profile: str | None = None) -> dict[str, Any]:
    """The merged mapping of one stage under `profile` (None: the file's `profile:`), paper profiles included."""
    profile = profile if profile is not None else params.get("profile")
    if "paper_configs" in profile_delta(params, profile):
        return resolve_paper_stage(params, stage, profile)
    return merge_stage(params, stage, profile)


def load_config(stage: str, params_file: str | Path = "params.yaml", profile: str | None = None,
                overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Resolve stage `stage` (a dotted section name) of `params_file` into an `ExperimentConfig`.

    Args:
      stage: dotted name of the section, e.g. 'tal.finetune' or 'ablations.pyramid_none'.
      params_file: the params YAML.
      profile: profile name overriding the file's `profile:` key (None keeps the file's choice).
      overrides: a last nested delta (e.g. {'seed': 2} for one seed of an ablation).
    """
    merged = resolve_stage(read_params(params_file), stage, profile)
    if overrides:
        merged = merge(merged, overrides)
    return from_dict(ExperimentConfig, merged, where=stage)


__all__ = [
    "RESERVED", "ConfigError", "ExperimentConfig", "InitConfig", "from_dict", "load_config", "load_run_config", "merge",
    "path_vars", "read_params", "replace", "resolve_stage", "save_config", "substitute", "to_dict",
]
