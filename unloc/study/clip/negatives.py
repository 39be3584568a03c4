"""Hard-negative captions for contrastive pretraining: the caption with one content word swapped for another.

A frame of the mini-world is told apart from the others of a batch by colour alone most of the time, so plain
InfoNCE never has to learn shapes or actions. Pairing every frame with its own caption in which one shape (or one
action phrase) was replaced ("a red circle and a blue star." -> "a red circle and a blue square.") as an extra
negative makes that word decide the ranking (the idea of NegCLIP's swapped captions, with word lists instead of a
parser).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np


@functools.cache
def _group_pattern(group: tuple[str, ...]) -> re.Pattern:
    if len(set(group)) < 2:
        raise ValueError(f"need at least two distinct words to swap, got {list(group)}")
    longest_first = sorted(set(group), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(map(re.escape, longest_first)) + r")(s?)\b")


def word_swap_negative(text: str, groups: Sequence[Sequence[str]], rng: np.random.Generator) -> str | None:
    """`text` with one occurrence of a word of `groups` (singular or plural with 's') replaced by another word of
    the same group.

    Args:
        text: a caption.
        groups: lists of interchangeable words or phrases (at least two each), e.g. the mini-world's shapes and its
            action phrases; every occurrence of every group is a candidate, drawn uniformly.
        rng: draws which occurrence and which replacement.

    Returns:
        The changed caption (a plural stays plural), or None when no word of `groups` occurs in `text`.
    """
    found = [(m, group) for group in groups for m in _group_pattern(tuple(group)).finditer(text)]
    if not found:
        return None
    match, group = found[int(rng.integers(len(found)))]
    others = [w for w in dict.fromkeys(group) if w != match.group(1)]
    return text[:match.start()] + others[int(rng.integers(len(others)))] + match.group(2) + text[match.end():]


def absent_groups(texts: Sequence[str], groups: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """The groups none of whose words occurs in any of `texts` (swapping them could never make a negative)."""
    return [tuple(g) for g in groups if not any(_group_pattern(tuple(g)).search(t) for t in texts)]


def swap_negatives(texts: Sequence[str], groups: Sequence[Sequence[str]], seed: int = 0) -> list[str | None]:
    """One `word_swap_negative` per text, drawn from a generator seeded with `seed` (the same list every run)."""
    rng = np.random.default_rng(seed)
    return [word_swap_negative(t, groups, rng) for t in texts]


__all__ = ["absent_groups", "swap_negatives", "word_swap_negative"]
