"""Contrastive image–text pretraining of the small two-tower model that stands in for CLIP in the mini-world (§3.1).

UnLoc initialises both towers from CLIP; no CLIP weights can be fetched here, so the mini-world study first trains a
small open_clip `CustomTextCLIP` (`MINI_CLIP_ARCH`: a CLIP ResNet image tower on 64 px frames) on its frame–caption pairs with CLIP's objective:
symmetric InfoNCE between L2-normalized image and text embeddings with a learnable temperature (logit scale starting
at 1/0.07, capped at 100). The image tower sees single frames, as in UnLoc, paired with the appearance caption.
A single frame cannot show the act ("the red circle moves left."), so a second, optional InfoNCE term
(`action_weight`, off by default because it encodes all k frames of a pair, ~3.5x the step time) pairs the act
caption with an order-aware pooling of the pair's k frame embeddings (a linear map of the concatenated frames,
initialised to their mean; a plain mean could not tell "left" from "right"). It teaches the text tower the action
words and the image tower the positions, sizes and orientations that motion is made of, and every frame the
appearance caption is true of then joins the appearance term (`frames_caption_loss`). The pooler is a training aid
and is not saved. `negative_groups` (off by default) adds one hard-negative caption per pair, the appearance caption
with one word of a group swapped (`unloc.study.clip.negatives`), that each frame must rank below its own caption.
`word_weight` (off by default) adds a bag-of-words term: a linear head on each appearance frame's image embedding
predicts which colour and shape words its caption names (binary cross entropy), the weakly supervised objective that
CLIP was compared against (Joulin et al. 2016); plain InfoNCE tells most mini-world frames apart by colour alone, and
this term makes every named word count. The head is a training aid and is not saved.
The saved file is the open_clip model's state_dict as safetensors (plus the arch JSON):
`TowerConfig(arch=MINI_CLIP_ARCH, pretrained=<file>)` loads it through the same code path as real CLIP weights.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from unloc.model.clip_loader import build_tokenizer, create_clip
from unloc.model.config import TowerConfig
from unloc.model.towers import image_side, preprocess_stats
from unloc.study.clip.losses import contrastive_loss, frames_caption_loss
from unloc.study.clip.pairs import PairDataset, PairSet, read_pairs
from unloc.study.clip.retrieval import evaluate_pretrainer
from unloc.study.miniworld.vocab import COLOURS, SHAPES
from unloc.train import History, TrainConfig, fit, save_weights, seed_everything

# open_clip model-config layout; `custom_text` makes the JSON build the same CustomTextCLIP through open_clip too.
MINI_CLIP_ARCH: dict[str, Any] = {
    "embed_dim": 64,
    "custom_text": True,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 16},  # a CLIP ResNet
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 3},
}
CHECKPOINT_NAME = "clip_mini.safetensors"
ARCH_NAME = "clip_mini.json"
METRICS_NAME = "metrics.json"
_INIT_LOGIT_SCALE = math.log(1 / 0.07)  # CLIP's initial temperature
CAPTION_WORDS: tuple[str, ...] = (*COLOURS, *SHAPES)  # what the bag-of-words term predicts


def mini_clip_tower(arch: dict | None = None, pretrained: str | None = None) -> TowerConfig:
    """The `TowerConfig` of the mini-world CLIP (captions take the arch's whole context length)."""
    arch = copy.deepcopy(arch if arch is not None else MINI_CLIP_ARCH)
    return TowerConfig(arch=arch, pretrained=pretrained, context_length=int(arch["text_cfg"]["context_length"]))


def default_train_config() -> TrainConfig:
    """AdamW with a cosine schedule and one warmup epoch, sized to train `MINI_CLIP_ARCH` in minutes on 2 CPU cores."""
    return TrainConfig(
        epochs=10, global_batch_size=64, base_lr=2e-3, optimizer="adamw", momentum=0.9, weight_decay=0.1,
        lr_multipliers={}, warmup_epochs=1.0, schedule="cosine", clip_grad_norm=1.0, checkpoint_every_epochs=0,
        keep_checkpoints=1,
    )


class ClipPretrainer(nn.Module):
    """An open_clip two-tower model plus the training-only temporal pooler of the act captions.

    Args:
        clip_model: the open_clip `CustomTextCLIP` being trained (what gets saved).
        frames_per_pair: k, the frames the pooler concatenates.
        action_weight: weight of the act-caption term; 0 drops it (and the pooler), and only the appearance frame
            of each pair goes through the image tower.

    With hard-negative captions in the batch (`scene_neg_ids`), each appearance frame also ranks the b swapped
    captions (`contrastive_loss`'s negatives); they join the single-frame term only (not `frames_caption_loss`).
    """

    def __init__(self, clip_model: nn.Module, frames_per_pair: int, action_weight: float = 0.0,
                 word_weight: float = 0.0, num_words: int = len(CAPTION_WORDS)) -> None:
        super().__init__()
        if action_weight < 0 or word_weight < 0:
            raise ValueError(f"action_weight={action_weight} and word_weight={word_weight} must be >= 0")
        if word_weight > 0 and action_weight > 0:
            raise ValueError("the bag-of-words term is not combined with the act-caption term")
        self.clip = clip_model
        self.frames_per_pair = int(frames_per_pair)
        self.action_weight = float(action_weight)
        self.word_weight = float(word_weight)
        self.words: nn.Linear | None = None
        if word_weight > 0:
            self.words = nn.Linear(int(clip_model.text.text_projection.shape[1]), num_words)
        self.temporal: nn.Linear | None = None
        if action_weight > 0:
            dim = int(clip_model.text.text_projection.shape[1])
            self.temporal = nn.Linear(self.frames_per_pair * dim, dim, bias=False)
            with torch.no_grad():  # start as the mean of the frames
                self.temporal.weight.copy_(torch.eye(dim).repeat(1, self.frames_per_pair) / self.frames_per_pair)
            self.action_logit_scale = nn.Parameter(torch.tensor(_INIT_LOGIT_SCALE))

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (q, n) -> (q, d) projected text embeddings (not normalized)."""
        return self.clip.encode_text(ids)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (b, k, 3, s, s) -> (b, k, d) projected per-frame embeddings (not normalized)."""
        b = frames.shape[0]
        emb = self.clip.encode_image(rearrange(frames, "b k c h w -> (b k) c h w"))
        return rearrange(emb, "(b k) d -> b k d", b=b)

    def pool_frames(self, frame_emb: torch.Tensor) -> torch.Tensor:
        """frame_emb (b, k, d) -> (b, d) the pair's act embedding."""
        if self.temporal is None:
            raise RuntimeError("this pretrainer has no temporal pooler (action_weight=0)")
        return self.temporal(rearrange(frame_emb, "b k d -> b (k d)"))

    def embed_pairs(self, frames: torch.Tensor, frame_idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Embeddings of the appearance frames and, with the pooler, of the whole pairs.

        Args:
            frames: (b, k, 3, s, s) normalized frames; frame_idx: (b,) the appearance frame of each pair.

        Returns:
            (b, d) appearance-frame embeddings and (b, d) pooled pair embeddings (None without the pooler).
        """
        rows = torch.arange(len(frames), device=frames.device)
        if self.temporal is None:  # only the appearance frames need encoding
            return self.encode_frames(frames[rows, frame_idx][:, None])[:, 0], None
        all_emb = self.encode_frames(frames)  # (b, k, d)
        return all_emb[rows, frame_idx], self.pool_frames(all_emb)

    def forward(self, frames: torch.Tensor, frame_idx: torch.Tensor, frame_valid: torch.Tensor,
                scene_ids: torch.Tensor, action_ids: torch.Tensor, scene_neg_ids: torch.Tensor | None = None,
                scene_neg_valid: torch.Tensor | None = None,
                scene_words: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Losses of one batch of b pairs.

        Args:
            frames: (b, k, 3, s, s) normalized frames.
            frame_idx: (b,) the frame paired with each appearance caption.
            frame_valid: (b, k) bool, the frames the appearance caption is true of (used with the act term).
            scene_ids: (b, n) appearance-caption tokens; action_ids: (b, n) act-caption tokens.
            scene_neg_ids: (b, n) optional hard-negative appearance captions; scene_neg_valid: (b,) bool.
            scene_words: (b, V) 0/1 words of the appearance captions, needed with `word_weight` > 0.

        Returns:
            {"loss", "image_loss", "logit_scale"}, with the act term {"action_loss", "action_logit_scale"}, with the
            bag-of-words term {"word_loss"}.
        """
        scene_emb = self.encode_text(scene_ids)
        if self.temporal is None:
            frame_emb, clip_emb = self.embed_pairs(frames, frame_idx)
            neg_emb = None if scene_neg_ids is None else self.encode_text(scene_neg_ids)
            image_loss = contrastive_loss(frame_emb, scene_emb, self.clip.logit_scale, neg_emb, scene_neg_valid)
        else:
            if scene_neg_ids is not None:
                raise ValueError("hard-negative captions are not combined with the act-caption term")
            # every frame is encoded for the act term anyway, so every valid one joins the appearance term
            all_emb = self.encode_frames(frames)
            clip_emb = self.pool_frames(all_emb)
            image_loss = frames_caption_loss(all_emb, frame_valid, frame_idx, scene_emb, self.clip.logit_scale)
        out = {"loss": image_loss, "image_loss": image_loss.detach(), "logit_scale": self.clip.logit_scale.detach()}
        if self.words is not None:
            if scene_words is None:
                raise ValueError("word_weight > 0 needs the batch's scene_words (PairDataset(word_vocab=...))")
            word_loss = F.binary_cross_entropy_with_logits(self.words(frame_emb), scene_words)
            out["loss"] = out["loss"] + self.word_weight * word_loss
            out["word_loss"] = word_loss.detach()
        if clip_emb is not None:
            action_loss = contrastive_loss(clip_emb, self.encode_text(action_ids), self.action_logit_scale)
            out["loss"] = image_loss + self.action_weight * action_loss
            out["action_loss"] = action_loss.detach()
            out["action_logit_scale"] = self.action_logit_scale.detach()
        return out


def _pretrainer_step(model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return model(**batch)


def make_datasets(pairs: PairSet, tower: TowerConfig, clip_model: nn.Module,
                  negative_groups: Sequence[Sequence[str]] | None = None,
                  word_vocab: Sequence[str] | None = None) -> tuple[PairDataset, PairDataset]:
    """Train (augmented, with hard negatives when `negative_groups` is given and caption words when `word_vocab` is)
    and val (frame 0, no flip) datasets with the tower's tokenizer, image size and stats."""
    mean, std = preprocess_stats(clip_model)
    common = {"tokenizer": build_tokenizer(tower), "image_size": image_side(clip_model.visual), "mean": mean,
              "std": std}
    return (PairDataset(pairs, "train", augment=True, negative_groups=negative_groups, word_vocab=word_vocab,
                        **common),
            PairDataset(pairs, "val", augment=False, **common))


def save_clip(clip_model: nn.Module, out_dir: str | Path, arch: dict) -> Path:
    """Write the open_clip state_dict as `out_dir/clip_mini.safetensors` and the arch as `clip_mini.json`.

    Returns:
        The checkpoint path, to pass as `TowerConfig.pretrained`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in clip_model.state_dict().items()}
    path = save_weights(state, out_dir / CHECKPOINT_NAME)
    (out_dir / ARCH_NAME).write_text(json.dumps(arch, indent=2) + "\n", encoding="utf-8")
    return path


def pretrain_clip(pairs_dir: str | Path, out_dir: str | Path, train_cfg: TrainConfig | None = None,
                  arch: dict | None = None, *, action_weight: float = 0.0,
                  negative_groups: Sequence[Sequence[str]] | None = None, word_weight: float = 0.0,
                  eval_batch_size: int = 256, seed: int = 0,
                  device: str | torch.device | None = None, progress: bool = True) -> tuple[Path, dict[str, float], History]:
    """Train the mini-world CLIP on a pair folder, save it as an open_clip checkpoint and evaluate it on val.

    Args:
        pairs_dir: `<world>/pairs` (pairs.jsonl + frames.npz).
        out_dir: receives clip_mini.safetensors, clip_mini.json, metrics.json and the trainer's `train/` folder
            (one run lives in one folder).
        train_cfg: optimizer, schedule, batch and epochs (default `default_train_config`).
        arch: open_clip model config dict (default `MINI_CLIP_ARCH`).
        action_weight: weight of the act-caption term; 0 (default) trains on appearance captions only, as CLIP
            trains on images; > 0 encodes all k frames of every pair, about 3.5x the time of a step at k = 4.
        negative_groups: groups of interchangeable words of the appearance captions (e.g. the mini-world's shapes)
            for one hard-negative caption per pair (`caption_negatives`); None (default) trains without; not
            combined with `action_weight` > 0.
        word_weight: weight of the bag-of-words term (`CAPTION_WORDS` of the appearance caption predicted from the
            appearance frame); 0 (default) leaves it out; not combined with `action_weight` > 0.
        eval_batch_size: pairs per forward pass in the evaluation.
        seed: the run's seed (weights, data order, random draws).
        device: where to train (default: the trainer's choice, CUDA when available).
        progress: show the trainer's progress bar.

    Returns:
        (checkpoint path, val metrics (see `clip_retrieval.evaluate_pretrainer`) plus train_time_sec, History).
    """
    if negative_groups is not None and action_weight > 0:
        raise ValueError("negative_groups (hard-negative captions) and action_weight > 0 cannot be combined")
    out_dir = Path(out_dir)
    arch = copy.deepcopy(arch if arch is not None else MINI_CLIP_ARCH)
    cfg = train_cfg or default_train_config()
    seed_everything(seed, deterministic=True)  # bit-identical reruns (see unloc.run.experiment)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    pairs = read_pairs(pairs_dir)
    tower = mini_clip_tower(arch)
    clip_model = create_clip(tower)
    train_set, val_set = make_datasets(pairs, tower, clip_model, negative_groups,
                                       CAPTION_WORDS if word_weight > 0 else None)
    model = ClipPretrainer(clip_model, pairs.frames_per_pair, action_weight, word_weight)
    t0 = time.perf_counter()
    history = fit(model, _pretrainer_step, cfg, out_dir=out_dir / "train", seed=seed, dataset=train_set, device=device,
                  progress=progress)
    train_sec = time.perf_counter() - t0
    model.eval()
    path = save_clip(clip_model, out_dir, arch)
    metrics = {**evaluate_pretrainer(model, val_set, batch_size=eval_batch_size), "train_time_sec": train_sec}
    (out_dir / METRICS_NAME).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return path, metrics, history


__all__ = [
    "ARCH_NAME", "CAPTION_WORDS", "CHECKPOINT_NAME", "MINI_CLIP_ARCH", "ClipPretrainer", "contrastive_loss", "default_train_config",
    "frames_caption_loss", "make_datasets", "mini_clip_tower", "pretrain_clip", "save_clip",
]
