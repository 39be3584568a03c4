"""The experiment config: one frozen dataclass tree per stage, resolved from params.yaml.

`ExperimentConfig` groups the model, task, data and training configs (each the schema and defaults of its own
package) plus the run's identity (name, seed) and where its weights start from. `load_config(stage, params_file)`
resolves a stage exactly as DVC sees it: the dataclass defaults, then the params file's `common:` section, then the
stage's `base:` chain (outermost first), then the stage itself, then the active profile's delta for that stage kind
(`profiles.<name>.<kind>`, e.g. the `smoke` profile that shrinks every stage for tests). Unknown keys are errors that
name the dotted path.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unloc.configio import ConfigError, from_dict, merge, resolve_section, to_dict
from unloc.data.task_config import TaskDataConfig
from unloc.model.config import ModelConfig
from unloc.tasks.config import TaskConfig
from unloc.train.config import TrainConfig

RESERVED = ("common", "profiles", "profile")


@dataclass(frozen=True)
class InitConfig:
    """Where the weights start: an UnLoc checkpoint (e.g. video pretraining) loaded by parameter name.

    `ignore` lists parameter-name prefixes left at their fresh initialisation (e.g. the heads when the pretraining
    task differs); shape mismatches are errors.
    """

    checkpoint: str | None = None
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything one stage of the study needs. `group` names the kind of stage for profiles and reports."""

    name: str = "experiment"
    group: str = "tal"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    data: TaskDataConfig = field(default_factory=TaskDataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init: InitConfig = field(default_factory=InitConfig)
    eval_every_epochs: int = 0  # 0 = evaluate once at the end

    def __post_init__(self) -> None:
        if self.task.kind == "mr" and self.task.mr_pairs == "batch" and self.train.grad_accum_steps > 1:
            raise ValueError("train.grad_accum_steps > 1 with moment retrieval: its in-batch negatives and loss "
                             "normaliser would cover one micro-step, not the global batch; use grad_accum_steps 1 "
                             "(fit memory with model.chunk_size / checkpoint_chunks, or more ranks)")
        if self.data.feature_cache and self.model.tower.freeze_image and self.model.tower.frame_token == "frame_cls":
            raise ValueError("data.feature_cache with frame_token 'frame_cls': per-frame CLS tokens depend on the "
                             "frame's position in the clip, so frames cannot be cached one by one; unset the cache")

    def to_yaml(self) -> str:
        return yaml.safe_dump(to_dict(self), sort_keys=False)


def read_params(params_file: str | Path) -> dict[str, Any]:
    """The params file as a mapping; a clear error when it is missing or not a mapping."""
    path = Path(params_file)
    if not path.is_file():
        raise ConfigError(f"params file {path} does not exist")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping):
        raise ConfigError(f"params file {path} must hold a mapping at the top level")
    return dict(data)


def resolve_stage(params: Mapping[str, Any], stage: str, profile: str | None = None) -> dict[str, Any]:
    """The merged mapping of one stage: common <- base chain <- stage <- profile delta for its group.

    A profile with a `paper_configs: {stage: name}` mapping replaces the listed stages by the packaged paper-scale
    configuration `name` (`unloc.paper_configs`, data under the profile's `{paper}` variable), then applies the
    profile's `all` delta; a stage the mapping does not list is an error under that profile, so a real-data run never
    falls back to mini-world settings.
    """
    profile = profile if profile is not None else params.get("profile")
    prof: Mapping[str, Any] = {}
    if profile:
        profiles = params.get("profiles") or {}
        if profile not in profiles:
            raise ConfigError(f"profile '{profile}' is not defined under 'profiles' (have: {sorted(profiles)})")
        prof = profiles[profile] or {}
    if "paper_configs" in prof:
        return _resolve_paper_stage(params, stage, profile, prof)
    section = resolve_section(params, stage)
    merged = merge(dict(params.get("common") or {}), section)
    if profile:
        group = merged.get("group", ExperimentConfig.group)
        merged = merge(merged, prof.get("all") or {})
        merged = merge(merged, prof.get(group) or {})
    merged.setdefault("name", stage)
    return substitute(merged, path_vars(params, profile))


def _resolve_paper_stage(params: Mapping[str, Any], stage: str, profile: str, prof: Mapping[str, Any]) -> dict:
    from unloc.paper_configs import resolve_paper  # paper_configs builds on this module

    mapping = prof["paper_configs"] or {}
    if stage not in mapping:
        raise ConfigError(f"profile '{profile}' maps no paper configuration to stage '{stage}' (it maps: "
                          f"{', '.join(sorted(mapping))}); the mini-world settings of that stage do not apply to "
                          "real data")
    variables = path_vars(params, profile)
    merged = resolve_paper(str(mapping[stage]), variables=variables)  # the profile's paper, kinetics_b, ... roots
    merged = merge(merged, substitute(dict(prof.get("all") or {}), variables))
    merged["name"] = stage
    return merged


def path_vars(params: Mapping[str, Any], profile: str | None = None) -> dict[str, str]:
    """The `vars:` mapping of the params file (e.g. world, models, reports roots), with the profile's `vars` over it."""
    values = dict(params.get("vars") or {})
    profile = profile if profile is not None else params.get("profile")
    if profile:
        values.update((params.get("profiles") or {}).get(profile, {}).get("vars") or {})
    return {k: str(v) for k, v in values.items()}


def substitute(node: Any, values: Mapping[str, str]) -> Any:
    """Replace `{name}` in every string of a nested mapping by `values[name]`; an unknown `{name}` is an error."""
    if isinstance(node, Mapping):
        return {k: substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, values) for v in node]
    if isinstance(node, str) and "{" in node:
        def repl(match: re.Match) -> str:
            if match.group(1) not in values:
                raise ConfigError(f"unknown variable {{{match.group(1)}}} in {node!r} (vars: {sorted(values)})")
            return values[match.group(1)]
        return re.sub(r"\{([a-z_]+)\}", repl, node)
    return node


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


def replace(cfg: Any, **changes: Any) -> Any:
    """`dataclasses.replace` that also takes dotted keys: replace(cfg, **{'train.epochs': 3})."""
    nested: dict[str, dict[str, Any]] = {}
    flat = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            flat[key] = value
    for head, sub in nested.items():
        flat[head] = replace(getattr(cfg, head), **sub)
    return dataclasses.replace(cfg, **flat)


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    """Write the resolved config (YAML, or JSON for a .json path) so a run's inputs are tracked."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_dict(cfg), indent=2) if path.suffix == ".json" else cfg.to_yaml()
    path.write_text(text)
