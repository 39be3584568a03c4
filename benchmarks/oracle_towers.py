"""Is a class task learnable on a world at all? Train a stage with oracle towers in place of the CLIP stand-in.

Issue 5's question was whether TAL fails on the mini-world because of the stand-in CLIP or because its classes cannot
be learned from the data at all. This script answers it for any stage: it replaces, for one `unloc train` run,
- the text tower by bag-of-words features: every token id gets a fixed random 64-d vector (seed 0) and a prompt is
  the mean of its tokens' vectors, so prompts that differ in one word of eight have cosine about 0.9 (`--text`);
- the image tower by the frame itself, average-pooled to g x g pixels and flattened to 3·g² numbers, so position,
  size and colour are all there (`--pixels g`; the tokens are cached like the tower's, so point
  `data.feature_cache` at a fresh folder and start from scratch with `init.checkpoint=null`).
Measured here (default world, 2 cores): with both oracles, TAL's 11 action classes alone, 24 epochs, stay at chance
(mAP@0.5 1.2 %, video top-1 4 of 60); the stand-in's frames with oracle text give TAL mAP@0.5 0.2 %.

Run: ``python benchmarks/oracle_towers.py [--text] [--pixels 8] -- train --params params.yaml --stage tal.finetune
--set init.checkpoint=null --set data.feature_cache=/tmp/oracle_features``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from unloc.model import towers

BOW_DIM = 64


def bow_table(vocab_size: int = 49408, dim: int = BOW_DIM, seed: int = 0) -> torch.Tensor:
    """(vocab_size, dim) the fixed random word vectors."""
    return torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed))


@contextlib.contextmanager
def oracle_towers(text: bool = True, pixels: int | None = 8) -> Iterator[None]:
    """Within the block, `TextTower` (if `text`) and `ImageTower` (if `pixels`) compute oracle features; the classes
    are restored on exit."""
    text_cls, image_cls = towers.TextTower, towers.ImageTower
    saved = (text_cls.__init__, text_cls.forward, image_cls.__init__, image_cls.forward)
    table = bow_table()

    def text_init(self, text_module, *, frozen):
        saved[0](self, text_module, frozen=frozen)
        self.out_dim = BOW_DIM

    def text_forward(self, ids: torch.Tensor) -> towers.TextFeatures:
        mask = ids != self.pad_id  # (q, n)
        tokens = table[ids]  # (q, n, BOW_DIM)
        pooled = (tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return towers.TextFeatures(tokens=tokens, pooled=pooled, mask=mask)

    def image_init(self, visual, **kwargs):
        saved[2](self, visual, **kwargs)
        self.out_dim = 3 * pixels * pixels

    def image_forward(self, frames: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(frames, pixels).flatten(1)  # (N, 3 * g * g)

    try:
        if text:
            text_cls.__init__, text_cls.forward = text_init, text_forward
        if pixels:
            image_cls.__init__, image_cls.forward = image_init, image_forward
        yield
    finally:
        text_cls.__init__, text_cls.forward, image_cls.__init__, image_cls.forward = saved


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", action="store_true", help="bag-of-words text features")
    parser.add_argument("--pixels", type=int, default=0, help="frames as g x g pooled pixels (0: the tower's)")
    args = parser.parse_args(argv[:split])
    from unloc.cli import main as unloc_main
    with oracle_towers(text=args.text, pixels=args.pixels or None):
        return unloc_main(argv[split + 1:])


if __name__ == "__main__":
    sys.exit(main())
