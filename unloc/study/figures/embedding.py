"""Figures of the two-tower pretraining: captions with the frames they retrieve, and the cosine similarity of the
class prompts as the text tower embeds them."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from unloc.study.figures.figure import finish, new_figure

RIGHT, WRONG = "#1a9850", "#d73027"


def plot_caption_retrieval(examples: Sequence, captions: Sequence[str], frames: np.ndarray,
                           out_path: str | Path | None = None, title: str | None = None) -> Figure:
    """One row per example caption: its caption, then its top-ranked frames with the cosine, framed green when the
    frame shows the caption's objects and red otherwise; the row label gives the rank of the first right frame.

    Args:
        examples: `unloc.study.clip.examples.RetrievalExample`s (caption queries over a frame gallery).
        captions: the query captions, indexed by `example.query`.
        frames: (G, h, w, 3) uint8 gallery frames.
    """
    if not examples:
        raise ValueError("plot_caption_retrieval needs at least one example")
    k = max(len(e.ranked) for e in examples)
    fig, axes = new_figure(len(examples) * k, ncols=k, panel_size=(1.5, 1.6))
    for row, example in enumerate(examples):
        for col in range(k):
            ax = axes[row * k + col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(example.ranked):
                ax.set_visible(False)
                continue
            ax.imshow(frames[example.ranked[col]])
            colour = RIGHT if example.hits[col] else WRONG
            for spine in ax.spines.values():
                spine.set(color=colour, linewidth=3)
            ax.set_title(f"#{col + 1}  cos {example.cosines[col]:.2f}", fontsize=7, color=colour)
        rank = f"first right frame: #{example.first_hit_rank}" if example.first_hit_rank else "no right frame"
        label = "\n".join(textwrap.wrap(captions[example.query], 24)) + f"\n({rank})"
        axes[row * k].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    return finish(fig, out_path, title=title or "held-out captions and the frames they rank first "
                                                "(green: shows the caption's objects)")


def plot_prompt_similarity(names: Sequence[str], similarity: torch.Tensor | np.ndarray,
                           out_path: str | Path | None = None, max_classes: int = 40,
                           title: str | None = None) -> Figure:
    """The cosine matrix of class prompts as an image, each row's nearest other class marked with a dot; the colour
    scale runs from the lowest cosine between two classes to 1; beyond `max_classes` classes only the first ones are
    drawn (the title says so)."""
    sim = np.asarray(similarity, dtype=float)
    if sim.shape != (len(names), len(names)):
        raise ValueError(f"a similarity of shape {sim.shape} for {len(names)} names")
    n = min(len(names), max_classes)
    sim, shown = sim[:n, :n], list(names)[:n]
    size = max(4.0, 0.3 * n)
    fig, (ax,) = new_figure(1, panel_size=(size + 1.2, size))
    others = np.where(np.eye(n, dtype=bool), -np.inf, sim)
    low = float(np.where(np.isfinite(others), others, np.inf).min()) if n > 1 else 0.0
    image = ax.imshow(sim, cmap="viridis", vmin=min(low, 0.999), vmax=1.0)  # the colours span the off-diagonal range
    ax.scatter(others.argmax(axis=1), np.arange(n), s=12, c="white", edgecolors="black", linewidths=0.5,
               label="nearest other class")
    ax.set_xticks(range(n), shown, rotation=70, ha="right", fontsize=6)
    ax.set_yticks(range(n), shown, fontsize=6)
    ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, 1.12))
    fig.colorbar(image, ax=ax, shrink=0.7, label="cosine of the pooled prompt features")
    suffix = f" (first {n} of {len(names)} classes)" if n < len(names) else ""
    return finish(fig, out_path, title=(title or "class prompts through the text tower") + suffix)


__all__ = ["plot_caption_retrieval", "plot_prompt_similarity"]
