"""What does the frozen stand-in text tower say about a moment-retrieval query? Linear probes for its three words.

A mini-world query names a colour, a shape and an action ("the pink square shrinks."); the scene puts a same-colour
object doing something else and an other-colour object doing the same thing next to every answer, so the text token
that enters UnLoc's fusion must carry all three. This script encodes the Charades-STA-shaped training and test queries
with the checkpoint's text tower (the pooled EOS token, as `TextTower` gives the fusion), fits one multinomial
logistic regression per word group on the training queries and prints its test accuracy next to always answering the
group's most frequent training word.

The stand-in CLIP is trained on appearance captions (objects and colours, no verbs) unless `clip_pretrain.action_weight`
> 0 adds the act captions, so its text tower reads the action words only through their (untrained) token embeddings.
Measured on world v3 (2 cores; test accuracy in %, colour / shape / action; majority 7.4 / 23.1 / 8.3):
appearance captions + shape negatives 100 / 74.5 / 53.2; + the bag-of-words term at weight 30 (the study's tower)
100 / 97.7 / 62.0; act captions (action_weight 1, no negatives) 100 / 57.4 / 90.3. Every tower gives the fusion the
colour and most of the rest. Run after `dvc repro -s pretrain_clip`:

    python benchmarks/text_probe.py [--checkpoint models/clip_mini] [--world data/miniworld]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import torch
import torch.nn.functional as F

from unloc.model.clip_loader import build_tokenizer, create_clip
from unloc.model.config import TowerConfig
from unloc.model.towers import TextTower
from unloc.study.miniworld.vocab import ACTIONS, COLOURS, SHAPES

GROUPS = {"colour": list(COLOURS), "shape": list(SHAPES), "action": [a.verb for a in ACTIONS]}


def read_queries(path: Path) -> list[str]:
    """The sentences of a Charades-STA annotation file ('vid start end##sentence' lines)."""
    return [line.split("##", 1)[1].strip() for line in path.read_text(encoding="utf-8").splitlines() if "##" in line]


def word_index(texts: list[str], words: list[str]) -> torch.Tensor:
    """(n,) index of the one word (or verb phrase) of `words` each text contains."""
    out = []
    for text in texts:
        hits = [i for i, w in enumerate(words) if re.search(rf"\b{re.escape(w)}\b", text)]
        if len(hits) != 1:
            raise ValueError(f"query {text!r}: expected exactly one of {words}, found {[words[i] for i in hits]}")
        out.append(hits[0])
    return torch.tensor(out)


def multinomial_probe(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, yte: torch.Tensor,
                      classes: int, l2: float = 1e-3) -> float:
    """Test accuracy of an L2-regularised softmax regression fitted by full-batch L-BFGS on standardised features."""
    mean, std = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
    xtr, xte = ((xtr - mean) / std).double(), ((xte - mean) / std).double()
    head = torch.nn.Linear(xtr.shape[1], classes, dtype=torch.float64)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(head(xtr), ytr) + l2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float((head(xte).argmax(1) == yte).double().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="models/clip_mini", help="folder with clip_mini.json + .safetensors")
    ap.add_argument("--world", default="data/miniworld")
    args = ap.parse_args()
    folder = Path(args.checkpoint)
    arch = json.loads((folder / "clip_mini.json").read_text(encoding="utf-8"))
    cfg = TowerConfig(arch=arch, pretrained=str(folder / "clip_mini.safetensors"), context_length=32)
    tower, tokenize = TextTower(create_clip(cfg).text, frozen=True), build_tokenizer(cfg)
    root = Path(args.world) / "charades_sta"
    train, test = (read_queries(root / f"charades_sta_{s}.txt") for s in ("train", "test"))
    with torch.no_grad():
        xtr, xte = (tower(tokenize(t)).pooled.float() for t in (train, test))
    print(f"{'word':8s} {'classes':>7s} {'probe %':>8s} {'majority %':>10s}   ({len(train)} train / {len(test)} test queries)")
    for name, words in GROUPS.items():
        ytr, yte = word_index(train, words), word_index(test, words)
        acc = multinomial_probe(xtr, ytr, xte, yte, len(words))
        majority = float((yte == torch.bincount(ytr, minlength=len(words)).argmax()).double().mean())
        print(f"{name:8s} {len(words):7d} {100 * acc:8.1f} {100 * majority:10.1f}")


if __name__ == "__main__":
    main()
