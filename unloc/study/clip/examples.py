"""Retrieval examples of the mini-world CLIP: held-out captions with the frames they rank first (§3.1).

Recall@k (`unloc.study.clip.retrieval`) says how often the right frame comes first; these examples show what the
model ranks instead. `held_out_embeddings` reloads a saved checkpoint exactly as later stages load it (through
`create_clip`) and encodes the val pairs' appearance frames and captions; `retrieval_examples` ranks the gallery for
a few queries, spread evenly over the split (not picked for success), and marks every retrieved item whose key is the
query's (the same objects, `scene_key`) and the rank of the first right one.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from unloc.model.clip_loader import create_clip
from unloc.study.clip.pairs import read_pairs
from unloc.study.clip.pretraining import ClipPretrainer, make_datasets, mini_clip_tower
from unloc.study.clip.retrieval import encode_split, scene_key


@dataclass
class RetrievalExample:
    """One query's top of the ranking: gallery indices best first, their cosines, which are right answers, and the
    1-based rank of the first right answer in the whole gallery (0 when the gallery has none)."""

    query: int
    ranked: list[int]
    cosines: list[float]
    hits: list[bool]
    first_hit_rank: int


@dataclass
class HeldOutEmbeddings:
    """The val pairs of a pair folder, encoded: appearance frames (n, h, w, 3) uint8 as stored, their captions and
    keys, and the (n, d) frame and caption embeddings."""

    frames: np.ndarray
    captions: list[str]
    keys: list[tuple[str, ...]]
    frame_emb: torch.Tensor
    text_emb: torch.Tensor


def spread_queries(n_items: int, count: int) -> list[int]:
    """`count` indices spread evenly over `n_items` (first and last included), each once."""
    if n_items < 1 or count < 1:
        raise ValueError(f"need at least one item and one query, got {n_items} items, {count} queries")
    return sorted(set(np.linspace(0, n_items - 1, min(count, n_items)).round().astype(int).tolist()))


def retrieval_examples(query_emb: torch.Tensor, gallery_emb: torch.Tensor, query_keys: Sequence[Hashable],
                       gallery_keys: Sequence[Hashable], queries: Sequence[int], k: int = 5) -> list[RetrievalExample]:
    """The `k` most similar (cosine) gallery items of each query in `queries`.

    Args:
        query_emb: (Q, d); gallery_emb: (G, d).
        query_keys, gallery_keys: Q and G keys; a gallery item is right when its key equals the query's.
        queries: indices into the queries.
        k: items per query (at most G).
    """
    if len(query_keys) != len(query_emb) or len(gallery_keys) != len(gallery_emb):
        raise ValueError(f"{len(query_keys)} query keys for {len(query_emb)} queries or {len(gallery_keys)} gallery "
                         f"keys for {len(gallery_emb)} items")
    sim = F.normalize(query_emb.float(), dim=-1) @ F.normalize(gallery_emb.float(), dim=-1).T  # (Q, G)
    out = []
    for q in queries:
        order = sim[q].argsort(descending=True, stable=True).tolist()  # (G,) best first
        right = [gallery_keys[j] == query_keys[q] for j in order]
        top = order[:k]
        out.append(RetrievalExample(query=q, ranked=top, cosines=[float(sim[q, j]) for j in top], hits=right[:k],
                                    first_hit_rank=right.index(True) + 1 if any(right) else 0))
    return out


def held_out_embeddings(checkpoint: str | Path, arch: dict, pairs_dir: str | Path) -> HeldOutEmbeddings:
    """Encode the val pairs with the saved two-tower model (the appearance frame, frame 0, and its caption)."""
    tower = mini_clip_tower(arch, str(checkpoint))
    clip_model = create_clip(tower).eval()
    pairs = read_pairs(pairs_dir)
    _, val = make_datasets(pairs, tower, clip_model)
    emb = encode_split(ClipPretrainer(clip_model, pairs.frames_per_pair), val)
    frames = pairs.frames[np.array([r.idx for r in val.records]), 0]  # (n, h, w, 3) uint8
    return HeldOutEmbeddings(frames=frames, captions=list(val.scene_captions),
                             keys=[scene_key(c) for c in val.scene_captions], frame_emb=emb["frame"],
                             text_emb=emb["scene"])


def caption_examples(held_out: HeldOutEmbeddings, count: int = 5, k: int = 5) -> list[RetrievalExample]:
    """Caption -> frame retrieval for `count` evenly spread val captions."""
    return retrieval_examples(held_out.text_emb, held_out.frame_emb, held_out.keys, held_out.keys,
                              spread_queries(len(held_out.captions), count), k)


def examples_finding(examples: Sequence[RetrievalExample]) -> str:
    """One sentence: how many example queries rank a right item first, and the median rank of the first right one."""
    ranks = [e.first_hit_rank for e in examples if e.first_hit_rank > 0]
    text = f"{sum(e.hits[0] for e in examples if e.hits)} of {len(examples)} example captions rank a right frame first"
    return text + (f"; the first right frame's median rank is {float(np.median(ranks)):g}" if ranks else "")


__all__ = ["HeldOutEmbeddings", "RetrievalExample", "caption_examples", "examples_finding", "held_out_embeddings",
           "retrieval_examples", "spread_queries"]
