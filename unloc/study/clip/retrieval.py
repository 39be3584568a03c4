"""How well the mini-world CLIP matches frames and captions: retrieval recall and a zero-shot object probe (§3.1).

Retrieval ranks every caption of the held-out pairs for every frame (image->text) and every frame for every caption
(text->image) by cosine similarity; a query counts as a hit at k when one of the k best items shares its key. Keys
make repeated captions fair: two pairs whose appearance captions list the same objects are both right answers (key =
the caption's object phrases, sorted, since a single frame cannot tell in which order a caption lists them), and the
act captions, which phrase one (colour, shape, action) with several sentence frames, are keyed by that
triple. The zero-shot probe scores each frame against the 20 prompts "a {colour} {shape}." and counts a hit when the
best prompt names an object the frame's appearance caption lists; `probe_chance` is the rate of a random prompt.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import default_collate

from unloc.study.clip.pairs import PairDataset
from unloc.study.miniworld.vocab import COLOURS, SHAPES

_PHRASE_SPLIT = re.compile(r",\s*|\s+and\s+")


def scene_key(caption: str) -> tuple[str, ...]:
    """The object phrases of an appearance caption, sorted: "a red circle and two blue stars." ->
    ('a red circle', 'two blue stars')."""
    return tuple(sorted(p.strip() for p in _PHRASE_SPLIT.split(caption.strip().rstrip(".")) if p.strip()))


def _key_ids(keys: Sequence[Hashable], table: dict[Hashable, int]) -> torch.Tensor:
    return torch.tensor([table.setdefault(k, len(table)) for k in keys])


def recall_at_k(query_emb: torch.Tensor, gallery_emb: torch.Tensor, query_keys: Sequence[Hashable],
                gallery_keys: Sequence[Hashable], ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of queries with a same-key gallery item among their k most similar (cosine) items.

    Args:
        query_emb: (Q, d) query embeddings.
        gallery_emb: (G, d) gallery embeddings.
        query_keys, gallery_keys: Q and G hashable keys; an item is a right answer when its key equals the query's.
        ks: the cut-offs; one beyond G counts the whole gallery.

    Returns:
        {k: recall at k in [0, 1]}.
    """
    if len(query_keys) != len(query_emb) or len(gallery_keys) != len(gallery_emb):
        raise ValueError(f"{len(query_keys)} query keys for {len(query_emb)} queries or {len(gallery_keys)} gallery "
                         f"keys for {len(gallery_emb)} items")
    if min(ks) < 1:
        raise ValueError(f"recall cut-offs must be >= 1, got {tuple(ks)}")
    table: dict[Hashable, int] = {}
    q_ids, g_ids = _key_ids(query_keys, table), _key_ids(gallery_keys, table)
    sim = F.normalize(query_emb.float(), dim=-1) @ F.normalize(gallery_emb.float(), dim=-1).T  # (Q, G)
    top = sim.topk(min(max(ks), len(gallery_emb)), dim=1).indices  # (Q, K)
    hits = g_ids.to(top.device)[top] == q_ids.to(top.device)[:, None]  # (Q, K)
    return {k: hits[:, :k].any(dim=1).float().mean().item() for k in ks}


def chance_recall_at_1(query_keys: Sequence[Hashable], gallery_keys: Sequence[Hashable]) -> float:
    """Expected recall at 1 of a random ranking: the mean fraction of gallery items that share the query's key."""
    table: dict[Hashable, int] = {}
    q_ids, g_ids = _key_ids(query_keys, table), _key_ids(gallery_keys, table)
    counts = torch.bincount(g_ids, minlength=len(table)).float()
    return (counts[q_ids] / len(g_ids)).mean().item()


def retrieval_metrics(image_emb: torch.Tensor, text_emb: torch.Tensor, image_keys: Sequence[Hashable],
                      text_keys: Sequence[Hashable], prefix: str = "") -> dict[str, float]:
    """Image->text and text->image recall at 1 and 5, and the chance recall at 1 (image->text).

    Args:
        image_emb: (N, d); text_emb: (M, d).
        image_keys, text_keys: N and M keys (see `recall_at_k`).
        prefix: put before every metric name.

    Returns:
        {prefix + 'i2t_r1', 'i2t_r5', 't2i_r1', 't2i_r5', 'chance_r1'}, fractions.
    """
    i2t = recall_at_k(image_emb, text_emb, image_keys, text_keys)
    t2i = recall_at_k(text_emb, image_emb, text_keys, image_keys)
    return {f"{prefix}i2t_r1": i2t[1], f"{prefix}i2t_r5": i2t[5], f"{prefix}t2i_r1": t2i[1],
            f"{prefix}t2i_r5": t2i[5], f"{prefix}chance_r1": chance_recall_at_1(image_keys, text_keys)}


def probe_prompts() -> list[tuple[str, str, str]]:
    """(colour, shape, prompt) for every colour and shape of the mini-world."""
    return [(c, s, f"a {c} {s}.") for c in COLOURS for s in SHAPES]


def object_probe(frame_emb: torch.Tensor, prompt_emb: torch.Tensor, prompts: Sequence[tuple[str, str, str]],
                 scene_captions: Sequence[str]) -> dict[str, float]:
    """Zero-shot object recognition: is the best-matching "a {colour} {shape}." prompt an object of the frame?

    Args:
        frame_emb: (N, d) frame embeddings; prompt_emb: (P, d) prompt embeddings.
        prompts: P (colour, shape, prompt) triples.
        scene_captions: N appearance captions; an object is present when "{colour} {shape}" occurs in it.

    Returns:
        {'probe_top1': the best prompt's object is present, 'probe_colour' / 'probe_shape': some present object has
        its colour / shape, and the rates of a uniformly random prompt: 'probe_chance', 'probe_colour_chance',
        'probe_shape_chance'}, fractions.
    """
    best = (F.normalize(frame_emb.float(), dim=-1) @ F.normalize(prompt_emb.float(), dim=-1).T).argmax(dim=1).cpu()
    rows = torch.arange(len(best))
    tests = {"probe": lambda c, s, cap: f"{c} {s}" in cap, "probe_colour": lambda c, s, cap: f"{c} " in cap,
             "probe_shape": lambda c, s, cap: f" {s}" in cap}
    out = {}
    for name, test in tests.items():
        hit = torch.tensor([[test(c, s, cap) for c, s, _ in prompts] for cap in scene_captions])  # (N, P)
        out["probe_top1" if name == "probe" else name] = hit[rows, best].float().mean().item()
        out[f"{name}_chance"] = hit.float().mean().item()
    return out


@torch.no_grad()
def encode_split(model: nn.Module, dataset: PairDataset, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Embeddings of every sample of `dataset` (use an un-augmented one).

    Args:
        model: a `ClipPretrainer` (embed_pairs, encode_text).
        dataset: the pairs to encode.
        batch_size: pairs per forward pass.

    Returns:
        {'frame': (N, d) the appearance frames, 'scene': (N, d) appearance captions, and with a temporal pooler
        'clip': (N, d) pooled frames, 'action': (N, d) act captions}.
    """
    device = next(model.parameters()).device
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(dataset), batch_size):
        batch = default_collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        batch = {k: v.to(device) for k, v in batch.items()}
        frame_emb, clip_emb = model.embed_pairs(batch["frames"], batch["frame_idx"])
        out = {"frame": frame_emb, "scene": model.encode_text(batch["scene_ids"])}
        if clip_emb is not None:
            out["clip"] = clip_emb
            out["action"] = model.encode_text(batch["action_ids"])
        for k, v in out.items():
            parts.setdefault(k, []).append(v.float().cpu())
    return {k: torch.cat(v) for k, v in parts.items()}


@torch.no_grad()
def evaluate_pretrainer(model: nn.Module, dataset: PairDataset, batch_size: int = 256) -> dict[str, float]:
    """Retrieval (appearance frame <-> caption; pooled frames <-> act caption) and the object probe on `dataset`.

    Returns:
        `retrieval_metrics` of the frames, the same with prefix 'action_' when the model has a temporal pooler,
        `object_probe`'s two numbers and 'num_pairs'.
    """
    was_training = model.training
    model.eval()
    emb = encode_split(model, dataset, batch_size)
    scene_keys = [scene_key(c) for c in dataset.scene_captions]
    metrics = retrieval_metrics(emb["frame"], emb["scene"], scene_keys, scene_keys)
    if "clip" in emb:
        keys = [(r.colour, r.shape, r.action) for r in dataset.records]
        metrics.update(retrieval_metrics(emb["clip"], emb["action"], keys, keys, prefix="action_"))
    prompts = probe_prompts()
    device = next(model.parameters()).device
    prompt_emb = model.encode_text(dataset.tokenize([p for _, _, p in prompts]).to(device)).float().cpu()
    metrics.update(object_probe(emb["frame"], prompt_emb, prompts, dataset.scene_captions))
    metrics["num_pairs"] = float(len(dataset))
    model.train(was_training)
    return metrics
