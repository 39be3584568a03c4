"""The experiment config's schema: one frozen dataclass tree per stage.

`ExperimentConfig` groups the model, task, data and training configs (each the schema and defaults of its own
package) plus the run's identity (name, seed) and where its weights start from. Dataclasses are the schema and the
defaults; `unloc.config.params` resolves params.yaml sections into them through the strict loader.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unloc.config.strict import from_dict, to_dict
from unloc.data.config import TaskDataConfig
from unloc.model.config import ModelConfig
from unloc.tasks.config import TaskConfig
from unloc.train.config import TrainConfig


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
    """Everything one stage needs: its name and seed, the model, task, data and training configs, and its init."""

    name: str = "experiment"
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    data: TaskDataConfig = field(default_factory=TaskDataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init: InitConfig = field(default_factory=InitConfig)

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


def save_config(cfg: ExperimentConfig, path: str | Path, run_dir: str | Path | None = None) -> None:
    """Write the resolved config (YAML, or JSON for a .json path) so a run's inputs are tracked; a run's YAML also
    names the directory it ran in (`run_dir`), in a first comment line, so the file still loads as the config."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        text = json.dumps(to_dict(cfg), indent=2)
    else:
        text = (f"# run directory: {run_dir}\n" if run_dir is not None else "") + cfg.to_yaml()
    path.write_text(text)


def load_run_config(path: str | Path) -> ExperimentConfig:
    """A run's config.yaml. Runs written before the seed and the output directory left `TrainConfig` also hold
    `train.seed` (unused: the run took the top-level seed) and `train.out_dir`; those two keys are dropped."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if isinstance(data, dict) and isinstance(data.get("train"), dict):
        data = {**data, "train": {k: v for k, v in data["train"].items() if k not in ("seed", "out_dir")}}
    return from_dict(ExperimentConfig, data, where=str(path))
