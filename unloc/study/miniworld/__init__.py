"""The mini-world: a procedurally generated video world in the official formats of the paper's benchmarks.

Coloured shapes move, grow, shrink, spin, blink, bounce, appear and disappear over plain backgrounds among distractor
objects. `generate_world` (the `python -m unloc.study generate` command) writes real mp4 files with annotation files laid out like
Kinetics, ActivityNet-1.3, Charades-STA, QVHighlights, ActivityNet Captions and COIN, plus frame–caption pairs for the
small two-tower model, so the project's readers, decoders and evaluators run unchanged on it (DESIGN.md, "the
embedded default").
"""

from unloc.study.miniworld.datasets import DATASETS
from unloc.study.miniworld.generate import generate_world
from unloc.study.miniworld.sizes import SIZES, PairSize, SetSize, WorldSize, override

__all__ = ["DATASETS", "SIZES", "PairSize", "SetSize", "WorldSize", "generate_world", "override"]
