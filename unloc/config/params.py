"""params.yaml -> one stage's merged mapping: the study's layering of sections, path variables and profiles.

A stage resolves exactly as DVC sees it: the dataclass defaults, then the params file's `common:` section, then the
stage's `base:` chain (outermost first), then the stage itself, then the active profile's delta for every stage
(`profiles.<name>.all`) and for that stage's task kind (`profiles.<name>.<task.kind>`, e.g. `mr`), and finally the
`{name}` path variables of `vars:` (with the profile's `vars` over them). The paper profile is resolved in
`unloc.config.paper`; `unloc.config.load_config` chooses between the two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from unloc.config.strict import ConfigError, merge, resolve_section
from unloc.tasks.config import TaskConfig

RESERVED = ("common", "profiles", "profile")


def read_params(params_file: str | Path) -> dict[str, Any]:
    """The params file as a mapping; a clear error when it is missing or not a mapping."""
    path = Path(params_file)
    if not path.is_file():
        raise ConfigError(f"params file {path} does not exist")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping):
        raise ConfigError(f"params file {path} must hold a mapping at the top level")
    return dict(data)


def profile_delta(params: Mapping[str, Any], profile: str | None) -> dict[str, Any]:
    """The `profiles.<profile>` mapping (empty for no profile); an undefined profile is an error."""
    profile = profile if profile is not None else params.get("profile")
    if not profile:
        return {}
    profiles = params.get("profiles") or {}
    if profile not in profiles:
        raise ConfigError(f"profile '{profile}' is not defined under 'profiles' (have: {sorted(profiles)})")
    return dict(profiles[profile] or {})


def merge_stage(params: Mapping[str, Any], stage: str, profile: str | None = None) -> dict[str, Any]:
    """The merged mapping of one stage: common <- base chain <- stage <- profile deltas (all, then its task kind)."""
    profile = profile if profile is not None else params.get("profile")
    prof = profile_delta(params, profile)
    merged = merge(dict(params.get("common") or {}), resolve_section(params, stage))
    if prof:
        kind = (merged.get("task") or {}).get("kind", TaskConfig.kind)
        merged = merge(merged, prof.get("all") or {})
        merged = merge(merged, prof.get(kind) or {})
    merged.setdefault("name", stage)
    return substitute(merged, path_vars(params, profile))


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
