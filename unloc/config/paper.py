"""The paper-scale configurations: UnLoc-B and UnLoc-L on every dataset of the official release (paper §4).

`unloc/resources/paper.yaml` holds the hyper-parameters of the eight official Scenic/JAX configs (ActivityNet TAL B/L,
ActivityNet Captions B/L, Charades-STA B, QVHighlights B/L, COIN L) plus the zero-shot TAL variants, in the
params.yaml layout, with the port's deviations written next to them. `load_paper_config(name)` resolves one of them
through the same strict loader as params.yaml (`common` <- `base:` chain <- section <- overrides). Data paths in the
file start with the path variable `{paper}` (default `data/paper`); `paper_root` sets it. `nest_dotted` turns
`{'train.epochs': 3}` into nested overrides; the `unloc train --set` option uses it too.

Zero-shot configs name their class split `{zero_shot}/zs75_split_{split}.json`: `{zero_shot}` is the packaged folder of
the 10 canonical splits per protocol (`unloc/resources/zero_shot/`), `{split}` is 0, and `<name>_split<k>` (listed in
`PAPER_CONFIGS` too) is the same config on split k.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from unloc.config.params import RESERVED, merge_stage, path_vars, substitute
from unloc.config.schema import ExperimentConfig
from unloc.config.strict import ConfigError, from_dict, merge

PAPER_FILE = "paper.yaml"
PAPER_ROOT_VAR = "paper"  # the path variable every data path of paper.yaml starts with
EXTRA_EVAL = "also_evaluate"  # {config: {label: annotation file}}: further evaluation sets of a finished run
_NOT_CONFIGS = (*RESERVED, "vars", "bases", EXTRA_EVAL)
ZERO_SHOT_VAR, SPLIT_VAR = "zero_shot", "split"
NUM_SPLITS = 10  # canonical class splits per zero-shot protocol
_SPLIT_NAME = re.compile(r"^(?P<base>.+)_split(?P<k>[0-9]+)$")


def zero_shot_dir() -> Path:
    """The packaged folder of the canonical zero-shot class splits (`zs{75,50}_split_{k}.json`, lists, licence)."""
    return Path(str(resources.files("unloc").joinpath("resources", "zero_shot")))


def zero_shot_split(protocol: str, k: int) -> Path:
    """The class-split file of split k (0..9) of protocol 'zs75' or 'zs50'."""
    if protocol not in ("zs75", "zs50") or not 0 <= k < NUM_SPLITS:
        raise ConfigError(f"no zero-shot split {protocol!r} {k}: protocols zs75, zs50, splits 0..{NUM_SPLITS - 1}")
    return zero_shot_dir() / f"{protocol}_split_{k}.json"


@functools.cache
def _packaged_text() -> str:
    return resources.files("unloc").joinpath("resources", PAPER_FILE).read_text(encoding="utf-8")


def paper_params() -> dict[str, Any]:
    """A fresh copy of the parsed paper.yaml (YAML anchors resolved into independent mappings)."""
    data = yaml.safe_load(_packaged_text())
    if not isinstance(data, Mapping):
        raise ConfigError(f"unloc/resources/{PAPER_FILE} must hold a mapping at the top level")
    data = copy.deepcopy(dict(data))
    variables = data.setdefault("vars", {})
    variables.setdefault(ZERO_SHOT_VAR, str(zero_shot_dir()))
    variables.setdefault(SPLIT_VAR, "0")
    return data


def _split_configs(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The configs whose class split names `{split}` (the zero-shot ones)."""
    return tuple(name for name, section in params.items() if name not in _NOT_CONFIGS
                 and "{" + SPLIT_VAR + "}" in yaml.safe_dump(section))


def _config_names() -> tuple[str, ...]:
    params = paper_params()
    names = [name for name in params if name not in _NOT_CONFIGS]
    return (*names, *(f"{name}_split{k}" for name in _split_configs(params) for k in range(1, NUM_SPLITS)))


PAPER_CONFIGS: tuple[str, ...] = _config_names()


def nest_dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Nested overrides from dotted keys: {'train.epochs': 3, 'model': {'chunk_size': 8}} ->
    {'train': {'epochs': 3}, 'model': {'chunk_size': 8}}. Later keys merge into earlier ones.

    Raises:
        ConfigError: an empty path component ('train..epochs').
    """
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = str(key).split(".")
        if not all(parts):
            raise ConfigError(f"bad override key {key!r}: empty component")
        for part in reversed(parts[1:]):
            value = {part: value}
        out = merge(out, {parts[0]: value})
    return out


def resolve_paper(name: str, overrides: Mapping[str, Any] | None = None,
                  paper_root: str | Path | None = None, variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The merged mapping of paper config `name` with nested or dotted `overrides`, its data under `paper_root`.

    `variables` replaces path variables that paper.yaml declares (e.g. a profile's `paper`, `kinetics_b`); others in
    it are ignored.
    """
    if name not in PAPER_CONFIGS:
        raise ConfigError(f"no paper config {name!r}; choose one of {', '.join(PAPER_CONFIGS)}")
    params = paper_params()
    declared = params["vars"]
    declared.update({k: str(v) for k, v in (variables or {}).items() if k in declared})
    if paper_root is not None:
        declared[PAPER_ROOT_VAR] = str(Path(paper_root))
    section, split = name, _SPLIT_NAME.match(name)
    if split and split["base"] in _split_configs(params):
        section, params["vars"][SPLIT_VAR] = split["base"], split["k"]
    merged = merge_stage(params, section)
    merged["name"] = name
    return merge(merged, nest_dotted(overrides)) if overrides else merged


def extra_eval_sets(name: str, paper_root: str | Path | None = None) -> dict[str, str]:
    """{label: annotation file} of the further evaluation sets of paper config `name` (`also_evaluate` in
    paper.yaml, e.g. ActivityNet Captions val_1 beside the paper's val_2), data under `paper_root`."""
    params = paper_params()
    if paper_root is not None:
        params.setdefault("vars", {})[PAPER_ROOT_VAR] = str(Path(paper_root))
    sets = (params.get(EXTRA_EVAL) or {}).get(name) or {}
    return substitute({str(k): str(v) for k, v in sets.items()}, path_vars(params))


def missing_init(cfg: ExperimentConfig) -> str | None:
    """Why the run cannot start: its `init.checkpoint` file is missing (None when it exists or is not set)."""
    path = cfg.init.checkpoint
    if not path or Path(path).exists():
        return None
    return (f"init.checkpoint {path} does not exist (run the stage that writes it first; the paper task configs "
            "start from the Kinetics-700 video pretraining, `unloc train --paper kinetics700_b` (or _l); or start "
            "from the towers' own weights with --set init.checkpoint=null)")


def resolve_paper_stage(params: Mapping[str, Any], stage: str, profile: str) -> dict[str, Any]:
    """A study stage under a profile with `paper_configs: {stage: name}`: the packaged paper configuration `name`
    (with the profile's path variables: `paper`, `kinetics_b`, ...), then the profile's `all` delta. A stage the
    mapping does not list is an error, so a real-data run never falls back to mini-world settings."""
    prof = (params.get("profiles") or {}).get(profile) or {}
    mapping = prof.get("paper_configs") or {}
    if stage not in mapping:
        raise ConfigError(f"profile '{profile}' maps no paper configuration to stage '{stage}' (it maps: "
                          f"{', '.join(sorted(mapping))}); the mini-world settings of that stage do not apply to "
                          "real data")
    variables = path_vars(params, profile)
    merged = resolve_paper(str(mapping[stage]), variables=variables)
    merged = merge(merged, substitute(dict(prof.get("all") or {}), variables))
    merged["name"] = stage
    return merged


def load_paper_config(name: str, *, paper_root: str | Path | None = None, **overrides: Any) -> ExperimentConfig:
    """The `ExperimentConfig` of paper config `name` (one of `PAPER_CONFIGS`).

    Args:
        name: e.g. 'anet_tal_b', 'qvh_l', 'coin_l', 'anet_tal_zs75_b'.
        paper_root: the directory holding the datasets (the `{paper}` path variable; None: data/paper).
        **overrides: last deltas, nested (train={'world_size': 8}) or dotted (**{'train.world_size': 8}).

    Raises:
        ConfigError: unknown name, or an override key or value that does not fit the schema.
    """
    return from_dict(ExperimentConfig, resolve_paper(name, overrides, paper_root), where=f"paper:{name}")


__all__ = ["NUM_SPLITS", "PAPER_CONFIGS", "extra_eval_sets", "load_paper_config", "missing_init", "nest_dotted",
           "paper_params", "resolve_paper", "resolve_paper_stage", "zero_shot_dir", "zero_shot_split"]
