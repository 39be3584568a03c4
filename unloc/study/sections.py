"""The study's plain params.yaml sections, `world` and `clip_pretrain`, through the one strict loader.

Each section is deep-merged with the active profile's section of the same name (`profiles.<p>.world`, ...) and then
converted with `unloc.config.strict.from_dict`, so a typo is an error naming the dotted key and the nearest valid one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unloc.config.params import profile_delta, read_params
from unloc.config.strict import ConfigError, from_dict, merge
from unloc.train.config import TrainConfig


@dataclass(frozen=True)
class WorldConfig:
    """`world:` the generated mini-world: size preset, seed, and generator processes (output identical for any)."""

    size: str = "default"
    seed: int = 0
    workers: int = 1


@dataclass(frozen=True)
class ClipPretrainConfig:
    """`clip_pretrain:` the two-tower stand-in's training. `negative_groups`: mini-world word groups by name
    (`shapes`, `colours`) or explicit word lists for hard-negative captions; None trains without them.
    `action_weight` > 0 adds the act-caption term; `word_weight` > 0 the bag-of-words term."""

    action_weight: float = 0.0
    word_weight: float = 0.0
    negative_groups: tuple[str | tuple[str, ...], ...] | None = None
    train: TrainConfig = field(default_factory=TrainConfig)


def section(params_file: str | Path, name: str, profile: str | None) -> dict[str, Any]:
    """A plain (non-stage) section with the profile's section of the same name deep-merged over it."""
    params = read_params(params_file)
    if name not in params:
        raise ConfigError(f"params file {params_file} has no section '{name}'")
    return merge(dict(params[name] or {}), profile_delta(params, profile).get(name) or {})


def world_config(params_file: str | Path, profile: str | None) -> WorldConfig:
    return from_dict(WorldConfig, section(params_file, "world", profile), where="world")


def clip_pretrain_config(params_file: str | Path, profile: str | None) -> ClipPretrainConfig:
    return from_dict(ClipPretrainConfig, section(params_file, "clip_pretrain", profile), where="clip_pretrain")
