"""Hard-negative captions for contrastive pretraining: the caption with one content word swapped for another.

A frame of the mini-world is told apart from the others of a batch by colour alone most of the time, so plain
InfoNCE never has to learn shapes. Pairing every frame with its own caption in which one shape word was replaced
("a red circle and a blue star." -> "a red circle and a blue square.") as an extra negative makes shape decide the
ranking (the idea of NegCLIP's swapped captions, here with a word list instead of a parser).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


def word_swap_negative(text: str, words: Sequence[str], rng: np.random.Generator) -> str | None:
    """`text` with one occurrence of `words` (singular or plural with 's') replaced by another of `words`.

    Args:
        text: a caption.
        words: the interchangeable words (at least two), e.g. the mini-world's shapes.
        rng: draws which occurrence and which replacement.

    Returns:
        The changed caption (a plural stays plural), or None when no word of `words` occurs in `text`.
    """
    if len(set(words)) < 2:
        raise ValueError(f"need at least two distinct words to swap, got {list(words)}")
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")(s?)\b")
    found = list(pattern.finditer(text))
    if not found:
        return None
    match = found[int(rng.integers(len(found)))]
    others = [w for w in dict.fromkeys(words) if w != match.group(1)]
    return text[:match.start()] + others[int(rng.integers(len(others)))] + match.group(2) + text[match.end():]


def swap_negatives(texts: Sequence[str], words: Sequence[str], seed: int = 0) -> list[str | None]:
    """One `word_swap_negative` per text, drawn from a generator seeded with `seed` (the same list every run)."""
    rng = np.random.default_rng(seed)
    return [word_swap_negative(t, words, rng) for t in texts]


__all__ = ["swap_negatives", "word_swap_negative"]
