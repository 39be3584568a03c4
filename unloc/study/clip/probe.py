"""What the frozen image tower of the mini-world CLIP encodes: supervised linear probes on its frame tokens (§3.1).

UnLoc's towers are frozen for most stages, so what a later stage can learn about a frame is what the per-frame token
already holds. These probes ask that of the stand-in: the frame tokens a stage would use (`ImageTower`, the study's
`frame_token`) are computed once for the pair frames and a linear multi-label classifier (logistic regression, one
output per word, full-batch L-BFGS with a small L2 penalty) learns which shapes and which colours the frame's
appearance caption names, on the train pairs; the score is the per-word accuracy on the val pairs next to the base
rate of always answering each word's training majority. The 3-layer CNN of `benchmarks/shape_probe.py`, trained end to
end, reaches about 90 % on shapes: a tower that sees shape should come near it with a linear head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from unloc.study.clip.pairs import PairSet, caption_words
from unloc.study.miniworld.vocab import COLOURS, SHAPES


@torch.no_grad()
def frame_tokens(tower: nn.Module, frames: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Tokens of an `ImageTower` for uint8 frames.

    Args:
        tower: an `ImageTower` (its `normalize` and `forward`, in eval mode).
        frames: (n, h, w, 3) uint8; resized (bilinear, antialiased) to the tower's input side when it differs.
        batch_size: frames per forward pass.

    Returns:
        (n, out_dim) float32 tokens.
    """
    side = int(tower.image_size)
    was_training = tower.training
    tower.eval()
    out = []
    for chunk in frames.split(batch_size):
        x = rearrange(chunk, "n h w c -> n c h w").float() / 255.0
        if x.shape[-2:] != (side, side):
            x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        out.append(tower(tower.normalize(x)).float())
    tower.train(was_training)
    return torch.cat(out)


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 l2: float = 1e-3, max_iter: int = 300) -> dict[str, float]:
    """Multi-label logistic regression on fixed features; per-label accuracy on the test set.

    Features are standardised with the training mean and deviation; the loss is the mean binary cross entropy plus
    `l2` times the squared weight norm, minimised by L-BFGS (deterministic, full batch).

    Args:
        train_x: (n, d) features; train_y: (n, c) 0/1 labels. test_x, test_y: the same for the test set.

    Returns:
        {'accuracy': mean per-label accuracy on the test set, 'base_rate': the same for always answering each
        label's training majority}, fractions.
    """
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xtr, xte = (train_x - mean) / std, (test_x - mean) / std
    head = nn.Linear(xtr.shape[1], train_y.shape[1], dtype=torch.float64)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    xtr, xte, ytr = xtr.double(), xte.double(), train_y.double()
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(head(xtr), ytr) + l2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        pred = head(xte) > 0
    majority = train_y.mean(0) > 0.5
    return {"accuracy": float((pred == test_y.bool()).double().mean()),
            "base_rate": float((majority[None, :] == test_y.bool()).double().mean())}


def tower_probes(tower: nn.Module, pairs: PairSet, frame: int = 0) -> dict[str, float]:
    """Shape and colour probes of a frozen image tower on a pair set (train pairs fit, val pairs score).

    Args:
        tower: an `ImageTower`.
        pairs: the mini-world pairs; the appearance caption describes frame 0 of each pair.
        frame: which stored frame of each pair to use (0: the one the appearance caption describes).

    Returns:
        {'shape_probe', 'shape_base_rate', 'colour_probe', 'colour_base_rate', 'probe_train', 'probe_val'}
        (accuracies as fractions, counts as numbers).
    """
    split = {name: [r for r in pairs.records if r.split == name] for name in ("train", "val")}
    feats, labels = {}, {}
    for name, records in split.items():
        idx = torch.tensor([r.idx for r in records])
        feats[name] = frame_tokens(tower, torch.from_numpy(pairs.frames[idx.numpy(), frame]))
        captions = [r.scene_caption for r in records]
        labels[name] = {"shape": caption_words(captions, SHAPES), "colour": caption_words(captions, list(COLOURS))}
    out: dict[str, float] = {}
    for kind in ("shape", "colour"):
        res = linear_probe(feats["train"], labels["train"][kind], feats["val"], labels["val"][kind])
        out[f"{kind}_probe"], out[f"{kind}_base_rate"] = res["accuracy"], res["base_rate"]
    out["probe_train"], out["probe_val"] = float(len(split["train"])), float(len(split["val"]))
    return out


__all__ = ["frame_tokens", "linear_probe", "tower_probes"]
