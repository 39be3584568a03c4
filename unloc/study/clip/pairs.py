"""The mini-world's frame–caption pairs, read and served for contrastive two-tower pretraining (paper §3.1).

UnLoc starts from CLIP; the mini-world cannot download it, so it trains a small open_clip model on its own pairs
(`pairs/pairs.jsonl` + `pairs/frames.npz`, written by `python -m unloc.study generate`). Each pair keeps k frames spread over one
object's act and two captions: `scene_caption` lists the objects visible in the first frame (appearance only) and
`caption` names the act ("the red circle moves left."). `PairDataset` serves one sample per pair: all k frames
(CLIP-normalized, resized to the image tower), the index of the frame the appearance caption is paired with, and
both captions tokenized, and which frames the appearance caption is true of: all k unless the act changes
visibility ('disappear', 'blink'), then the first alone. Training draws the paired frame among those. A horizontal
flip keeps the appearance caption true and turns "left" into "right" in the act caption, which is swapped with it.
With `word_vocab`, a sample also holds which of those words its appearance caption names (`caption_words`), the
target of the optional bag-of-words term of the pretraining.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch.utils.data import Dataset

from unloc.data.formats.fileio import read_lines
from unloc.data.formats.quirks import AnnotationError
from unloc.study.clip.negatives import absent_groups, swap_negatives

PAIR_SPLITS = ("train", "val")
VISIBILITY_CHANGING_ACTIONS = frozenset({"disappear", "blink"})
_TEXT_FIELDS = ("caption", "scene_caption", "colour", "shape", "action")
_MIRROR = {"left": "right", "right": "left"}
_MIRROR_RE = re.compile(r"\b(left|right)\b")


@dataclass(frozen=True)
class PairRecord:
    """One line of pairs.jsonl: `idx` indexes the first axis of frames.npz."""

    idx: int
    split: str
    caption: str
    scene_caption: str
    colour: str
    shape: str
    action: str


@dataclass
class PairSet:
    """All pairs of a pair folder.

    Attributes:
        records: one per line of pairs.jsonl, in file order.
        frames: (pairs, k, h, w, 3) uint8, indexed by `PairRecord.idx`.
    """

    records: list[PairRecord]
    frames: np.ndarray

    @property
    def frames_per_pair(self) -> int:
        return int(self.frames.shape[1])

    def split(self, name: str) -> list[PairRecord]:
        """The records of split `name` ('train' or 'val'), in file order."""
        if name not in PAIR_SPLITS:
            raise ValueError(f"unknown pair split {name!r}; expected one of {PAIR_SPLITS}")
        return [r for r in self.records if r.split == name]


def _parse_record(path: Path, line_no: int, line: str, num_pairs: int) -> PairRecord:
    where = f"{path}: line {line_no}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        raise AnnotationError(f"{where}: not valid JSON: {err.msg}") from None
    if not isinstance(raw, dict):
        raise AnnotationError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    idx = raw.get("idx")
    if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < num_pairs:
        raise AnnotationError(f"{where}: 'idx' must be an integer in [0, {num_pairs}) (frames.npz holds "
                              f"{num_pairs} pairs), got {idx!r}")
    if raw.get("split") not in PAIR_SPLITS:
        raise AnnotationError(f"{where}: 'split' must be one of {PAIR_SPLITS}, got {raw.get('split')!r}")
    bad = [k for k in _TEXT_FIELDS if not isinstance(raw.get(k), str) or not raw[k].strip()]
    if bad:
        raise AnnotationError(f"{where}: field(s) {bad} must be non-empty strings")
    return PairRecord(idx=idx, split=raw["split"], **{k: raw[k] for k in _TEXT_FIELDS})


def read_pairs(pairs_dir: str | Path) -> PairSet:
    """Read and check a pair folder (pairs.jsonl + frames.npz).

    Args:
        pairs_dir: the folder `python -m unloc.study generate` writes as `<world>/pairs`.

    Returns:
        The `PairSet`.

    Raises:
        FileNotFoundError: a file is missing.
        AnnotationError: frames.npz is not (pairs, k, h, w, 3) uint8, or a record is malformed, names a pair
            outside frames.npz or repeats an idx (the message names the file and line).
    """
    root = Path(pairs_dir)
    jsonl, npz = root / "pairs.jsonl", root / "frames.npz"
    for path in (jsonl, npz):
        if not path.is_file():
            raise FileNotFoundError(f"pair folder {root} has no {path.name}")
    with np.load(npz, allow_pickle=False) as archive:
        if "frames" not in archive.files:
            raise AnnotationError(f"{npz}: no 'frames' array (found {archive.files})")
        frames = archive["frames"]
    if frames.ndim != 5 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[1] < 1:
        raise AnnotationError(f"{npz}: 'frames' must be (pairs, k, h, w, 3) uint8, got {frames.shape} {frames.dtype}")
    records, seen = [], {}
    for line_no, line in read_lines(jsonl):
        record = _parse_record(jsonl, line_no, line, len(frames))
        if record.idx in seen:
            raise AnnotationError(f"{jsonl}: line {line_no}: idx {record.idx} already used on line {seen[record.idx]}")
        seen[record.idx] = line_no
        records.append(record)
    if not records:
        raise AnnotationError(f"{jsonl}: no pairs")
    return PairSet(records=records, frames=frames)


def caption_words(captions: Sequence[str], words: Sequence[str]) -> torch.Tensor:
    """(n, len(words)) float 1.0 where a caption names a word (as a whole word, singular or with a plural 's')."""
    patterns = [re.compile(rf"\b{re.escape(w)}s?\b") for w in words]
    return torch.tensor([[1.0 if p.search(c) else 0.0 for p in patterns] for c in captions]).reshape(len(captions),
                                                                                                     len(words))


def mirror_caption(text: str) -> str:
    """The caption of the left-right mirrored scene: "left" and "right" swapped as whole words."""
    return _MIRROR_RE.sub(lambda m: _MIRROR[m.group(1)], text)


class PairDataset(Dataset):
    """One split of a `PairSet` as training or evaluation samples.

    Each sample is a dict:
        frames: (k, 3, s, s) float32, CLIP-normalized, s = `image_size`.
        frame_idx: () int64, the frame paired with the appearance caption.
        frame_valid: (k,) bool, the frames the appearance caption is true of (all, or the first alone).
        scene_ids: (n,) int64 tokens of the appearance caption; action_ids: (n,) of the act caption.
        with `word_vocab`: scene_words (V,) float32, 1.0 for each word the appearance caption names.
        with `negative_groups`: scene_neg_ids (n,) tokens of the appearance caption with one word of a group swapped
            (`caption_negatives.swap_negatives`, fixed per pair) and scene_neg_valid () bool, False when the
            caption holds none of the words (the negative is then the caption itself and must be ignored).

    Args:
        pairs: the pair set.
        split: 'train' or 'val'.
        tokenizer: list of texts -> (q, n) int64 token ids.
        image_size: side of the image tower's input; frames of another size are resized (bilinear, antialiased).
        mean, std: per-channel normalization of frames in [0, 1].
        augment: draw the appearance frame among the k frames and flip half the samples; else frame 0, no flip.
        negative_groups: groups of interchangeable words for hard-negative appearance captions (None: none); a
            group that no appearance caption of the split uses is an error.
        word_vocab: words whose presence in the appearance caption each sample reports as `scene_words` (None: no
            such field).
    """

    def __init__(self, pairs: PairSet, split: str, *, tokenizer: Callable[[list[str]], torch.Tensor],
                 image_size: int, mean: tuple[float, ...], std: tuple[float, ...], augment: bool,
                 negative_groups: Sequence[Sequence[str]] | None = None,
                 word_vocab: Sequence[str] | None = None) -> None:
        self.records = pairs.split(split)
        if not self.records:
            raise ValueError(f"the pair set has no '{split}' pairs")
        self.frames = pairs.frames
        self.image_size = int(image_size)
        self.augment = augment
        self.tokenize = tokenizer
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.scene_captions = [r.scene_caption for r in self.records]
        self.action_captions = [r.caption for r in self.records]
        self.scene_ids = tokenizer(self.scene_captions)  # (N, n)
        self.action_ids = tokenizer(self.action_captions)
        self.mirrored_action_ids = tokenizer([mirror_caption(c) for c in self.action_captions])
        self.stable = torch.tensor([r.action not in VISIBILITY_CHANGING_ACTIONS for r in self.records])
        self.scene_words = None if word_vocab is None else caption_words(self.scene_captions, word_vocab)  # (N, V)
        self.scene_neg_ids: torch.Tensor | None = None
        if negative_groups is not None:
            absent = absent_groups(self.scene_captions, negative_groups)
            if absent:
                raise ValueError(f"negative_groups: no appearance caption of the '{split}' pairs holds a word of "
                                 f"{[list(g) for g in absent]}, so it would never make a hard negative")
            negatives = swap_negatives(self.scene_captions, negative_groups)
            self.scene_neg_valid = torch.tensor([n is not None for n in negatives])
            self.scene_neg_ids = tokenizer([n if n is not None else c for n, c in zip(negatives, self.scene_captions)])

    @property
    def frames_per_pair(self) -> int:
        return int(self.frames.shape[1])

    def __len__(self) -> int:
        return len(self.records)

    def load_frames(self, i: int) -> torch.Tensor:
        """Frames of sample `i`: (k, 3, s, s) float32, resized and normalized."""
        frames = torch.from_numpy(np.ascontiguousarray(self.frames[self.records[i].idx]))
        frames = rearrange(frames, "k h w c -> k c h w").float() / 255.0
        if frames.shape[-2:] != (self.image_size, self.image_size):
            frames = F.interpolate(frames, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False, antialias=True)
        return (frames - self.mean) / self.std

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        frames = self.load_frames(i)
        stable = bool(self.stable[i])
        frame_idx, flip = 0, False
        if self.augment:
            if stable:
                frame_idx = int(torch.randint(self.frames_per_pair, ()))
            flip = bool(torch.rand(()) < 0.5)
        frame_valid = torch.ones(self.frames_per_pair, dtype=torch.bool) if stable else (
            torch.arange(self.frames_per_pair) == 0)
        action_ids = self.mirrored_action_ids[i] if flip else self.action_ids[i]
        sample = {
            "frames": frames.flip(-1) if flip else frames,
            "frame_idx": torch.tensor(frame_idx),
            "frame_valid": frame_valid,
            "scene_ids": self.scene_ids[i],
            "action_ids": action_ids,
        }
        if self.scene_words is not None:
            sample["scene_words"] = self.scene_words[i]
        if self.scene_neg_ids is not None:
            sample["scene_neg_ids"] = self.scene_neg_ids[i]
            sample["scene_neg_valid"] = self.scene_neg_valid[i]
        return sample
