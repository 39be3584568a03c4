"""Class names as text queries: token ids of prompted class names and prompt ensembling (paper §3.3, §4.2).

Class tasks (temporal localization, segmentation, video pretraining) pair every video with every class prompt. In
training each class gets one random template per step (official `add_class_names`: a random prompt per class); at
evaluation a fixed template ('first' or 'middle', as `unloc.data.prompts.eval_prompts`) or all of them, whose raw
outputs (relevancy logits and displacements) are averaged before any sigmoid (official `temporal_localization_test_step`
averages the raw outputs over prompts). All prompts are tokenized once and kept as a table; the per-step template draw
uses torch's global generator, so seeding and checkpoint resume cover it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from einops import rearrange, reduce
from torch import nn

from unloc.data.collate import TaskBatch
from unloc.data.prompts import eval_prompts, load_templates
from unloc.model.outputs import HeadOutputs
from unloc.model.towers import TextFeatures
from unloc.tasks.config import TaskConfig

Tokenizer = Callable[[list[str]], torch.Tensor]


class ClassPrompts:
    """Token ids of every (class, template) prompt.

    Args:
        class_names: q class names.
        tokenizer: texts -> (k, n) int64 token ids (`unloc.model.build.build_tokenizer`).
        templates: prompt templates with one '{}' each; default the 28 Kinetics-700 templates.
    """

    def __init__(self, class_names: Sequence[str], tokenizer: Tokenizer,
                 templates: Sequence[str] | None = None) -> None:
        if not class_names:
            raise ValueError("a class task needs at least one class name")
        self.class_names = list(class_names)
        self.tokenizer = tokenizer
        self.templates = tuple(templates) if templates is not None else load_templates()
        self._ids: dict[str, torch.Tensor] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def eval_ids(self, mode: str) -> torch.Tensor:
        """(q, p, n) token ids of the evaluation prompts: p = 1 for 'first' / 'middle', all templates for 'ensemble'."""
        if mode not in self._ids:
            prompts = eval_prompts(self.class_names, mode, self.templates)  # (q, p) strings
            ids = self.tokenizer([text for row in prompts for text in row])  # (q*p, n)
            self._ids[mode] = rearrange(ids, "(q p) n -> q p n", q=self.num_classes)
        return self._ids[mode]

    def train_ids(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """(q, n) token ids with one uniformly drawn template per class."""
        table = self.eval_ids("ensemble")  # (q, p, n)
        picks = torch.randint(table.shape[1], (table.shape[0],), generator=generator)
        return table[torch.arange(table.shape[0]), picks]


def prompt_outputs(model: nn.Module, video: torch.Tensor, video_mask: torch.Tensor,
                   ids: torch.Tensor, text: TextFeatures | None = None) -> HeadOutputs:
    """Model outputs for every class, averaged over its prompts (raw logits and displacements, before any sigmoid).

    The image tower and the video run once; the q*p prompts are fused as q*p texts.

    Args:
        model: UnLoc (or anything with its call signature).
        video: (b, t, 3, h, w) frames or (b, t, d) features; video_mask: (b, t).
        ids: (q, p, n) token ids (`ClassPrompts.eval_ids`).
        text: optional text-tower features of those q*p prompts (computed once by the caller); used instead of ids.

    Returns:
        HeadOutputs with logits (b, q, t_l) and offsets (b, q, t_l, 2) per level.
    """
    p = ids.shape[1]
    texts = text if text is not None else rearrange(ids, "q p n -> (q p) n").to(video.device)
    out = model(video, texts, video_mask)
    logits = [reduce(z, "b (q p) t -> b q t", "mean", p=p) for z in out.logits]
    offsets = None if out.offsets is None else [reduce(o, "b (q p) t two -> b q t two", "mean", p=p)
                                                for o in out.offsets]
    return HeadOutputs(logits, offsets, out.masks, out.strides)


def _text_free(model: nn.Module) -> bool:
    """True for UnLoc in fusion mode 'no_text' (also behind a DDP wrapper)."""
    return getattr(getattr(model, "module", model), "mode", None) == "no_text"


class ClassTask:
    """Shared part of the class tasks: training and evaluation prompts, and the two ways of running the model.

    Args:
        cfg: task settings (`prompt_mode` picks the evaluation prompts).
        class_names: training classes; the labels of training batches index them.
        tokenizer: texts -> token ids (`unloc.model.build.build_tokenizer`).
        eval_class_names: classes scored at prediction (the labels of evaluation batches index them); default
            `class_names`. Zero-shot: the unseen classes.
        templates: prompt templates (default the 28 Kinetics-700 ones).
    """

    def __init__(self, cfg: TaskConfig, *, class_names: Sequence[str], tokenizer: Tokenizer,
                 eval_class_names: Sequence[str] | None = None, templates: Sequence[str] | None = None) -> None:
        self.cfg = cfg
        self.train_prompts = ClassPrompts(class_names, tokenizer, templates)
        self.eval_prompts = self.train_prompts if eval_class_names is None else \
            ClassPrompts(eval_class_names, tokenizer, templates)

    def train_outputs(self, model: nn.Module, batch: TaskBatch) -> HeadOutputs:
        """Each video against one randomly prompted name per training class: logits (b, q, t_l) per level."""
        if _text_free(model):  # per-class logits from a linear layer (the no-text ablation)
            return model(batch.video, None, batch.video_mask)
        ids = self.train_prompts.train_ids().to(batch.video.device)  # (q, n)
        return model(batch.video, ids, batch.video_mask)

    def eval_outputs(self, model: nn.Module, batch: TaskBatch) -> HeadOutputs:
        """Each video against every evaluation class, raw outputs averaged over the `prompt_mode` prompts."""
        if _text_free(model):
            if self.eval_prompts is not self.train_prompts:
                raise ValueError("a text-free model scores its training classes only: it cannot do zero-shot")
            return model(batch.video, None, batch.video_mask)
        ids = self.eval_prompts.eval_ids(self.cfg.prompt_mode)
        return prompt_outputs(model, batch.video, batch.video_mask, ids, self._encoded_prompts(model, ids))

    def _encoded_prompts(self, model: nn.Module, ids: torch.Tensor) -> TextFeatures | None:
        """The text tower's features of the evaluation prompts, computed once while the tower's weights are unchanged
        (its parameters' in-place version counters are part of the key), instead of once per evaluation batch."""
        tower = getattr(model, "text_tower", None)
        if tower is None or torch.is_grad_enabled():
            return None
        key = (id(tower), ids.data_ptr(), tuple(p._version for p in tower.parameters()))
        if getattr(self, "_prompt_key", None) != key:
            device = next(tower.parameters()).device
            self._prompt_features, self._prompt_key = tower(rearrange(ids, "q p n -> (q p) n").to(device)), key
        return self._prompt_features


__all__ = ["ClassPrompts", "ClassTask", "prompt_outputs"]
