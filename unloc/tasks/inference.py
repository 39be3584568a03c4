"""Build a task object from its config, and run a task's prediction over a whole evaluation set (paper §4).

`build_task(cfg, ...)` is the one place where `TaskConfig.kind` picks a task class. `predict_all(task, model,
batches)` puts the model in eval mode, moves each `TaskBatch` to the model's device, calls `task.predict` under
no_grad and returns `task.merge(...)`: an ActivityNet submission (TAL), QVHighlights rows (MR), stitched per-video
logits (segmentation) or per-clip class scores (video pretraining).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn

from unloc.data.collate import TaskBatch
from unloc.tasks.action_segmentation import ActionSegmentation
from unloc.tasks.base import Task
from unloc.tasks.config import TaskConfig
from unloc.tasks.moment_retrieval import MomentRetrieval
from unloc.tasks.prompting import Tokenizer
from unloc.tasks.temporal_localization import TemporalLocalization
from unloc.tasks.video_pretraining import VideoPretraining
from unloc.train.batches import move_to_device


def build_task(cfg: TaskConfig, *, class_names: Sequence[str] = (), tokenizer: Tokenizer | None = None,
               eval_class_names: Sequence[str] | None = None, templates: Sequence[str] | None = None) -> Task:
    """The task object of `cfg.kind`.

    Args:
        cfg: task settings.
        class_names: the class list of the training data (class tasks; `TaskDataset.class_names`).
        tokenizer: `unloc.model.build.build_tokenizer(model_cfg.tower)` (class tasks).
        eval_class_names: class tasks: classes scored at prediction (zero-shot TAL: the unseen ones).
        templates: prompt templates (default the 28 Kinetics-700 ones).
    """
    if cfg.kind == "mr":
        return MomentRetrieval(cfg)
    if tokenizer is None:
        raise ValueError(f"task {cfg.kind!r} prompts class names: pass the model's tokenizer")
    cls = {"tal": TemporalLocalization, "seg": ActionSegmentation, "video_pretrain": VideoPretraining}[cfg.kind]
    return cls(cfg, class_names=class_names, tokenizer=tokenizer, eval_class_names=eval_class_names,
               templates=templates)


def predict_all(task: Task, model: nn.Module, batches: Iterable[TaskBatch],
                device: str | torch.device | None = None) -> Any:
    """Predictions of every batch, merged by the task.

    Args:
        task: the task.
        model: the model (put in eval mode here).
        batches: e.g. `unloc.data.datasets.eval_batches(dataset)`.
        device: where to run; default the model's device.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    parts = []
    with torch.no_grad():
        for batch in batches:
            parts.append(task.predict(model, move_to_device(batch, device)))
    return task.merge(parts)


__all__ = ["build_task", "predict_all"]
