"""Soft-NMS on 1-D segments (Bodla et al. 2017; paper §3.5), pure torch, batched over videos.

Greedy: take the highest-scoring remaining candidate, output it, decay every other remaining candidate by a weight of
its tIoU with the one taken, drop candidates whose score fell to ``score_threshold`` or below, repeat until ``top_k``
outputs or nothing remains. Each round is one vectorized tIoU of the taken segments (one per video; videos are padded
to a common length and masked) against the candidates, so the Python loop runs at most ``top_k`` times whatever the
candidate count. Candidates are sorted by score once and only a window of the best ones is decayed each round; the
window doubles whenever a candidate beyond it could still win (decays only lower scores), so the result is exactly the
full greedy one (see ``_Window``).

Decay weights w(iou) (``method``):

- ``'gaussian'``: exp(−iou² / (2·sigma)). **sigma follows the official TF convention**
  (``tf.image.non_max_suppression_with_scores``, ``soft_nms_sigma=0.3``, i.e. exp(−iou²/0.6)); the Bodla /
  ActionFormer convention exp(−iou²/σ') is sigma = σ'/2 (:func:`sigma_from_bodla`). ``iou_threshold`` is ignored, as in
  TF's soft mode.
- ``'linear'``: 1 − iou where iou > ``iou_threshold``, else 1.
- ``'hard'``: 0 where iou > ``iou_threshold`` (the candidate is removed), else 1 (classic NMS).

With ``per_class=True`` a candidate is decayed only by taken candidates of its own label (per-class NMS; the global
``top_k`` then keeps the best over all classes). Official TAL is class-agnostic. Among equal current scores the pick is
the candidate with the higher initial score, then the lower input index (TF also prefers the lower index). Output
scores are the decayed scores at the time of selection (non-increasing along k).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from unloc.ops.segments import segment_length, tiou_with_lengths

NMS_METHODS = ("gaussian", "linear", "hard")


class NmsResult(NamedTuple):
    """Kept candidates per video in selection order, padded to ``top_k`` (unbatched input gives unbatched output)."""

    segments: torch.Tensor  # (b, k, 2)
    scores: torch.Tensor  # (b, k) decayed score at selection; 0 at padding
    labels: torch.Tensor  # (b, k) long; −1 at padding
    indices: torch.Tensor  # (b, k) long index into the input candidates; −1 at padding
    mask: torch.Tensor  # (b, k) bool, True = a kept candidate


def sigma_from_bodla(sigma_bodla: float) -> float:
    """Convert a Bodla/ActionFormer Gaussian sigma σ' (weight exp(−iou²/σ')) to this module's TF-style sigma (σ'/2)."""
    return sigma_bodla / 2


def _decay_weight(iou: torch.Tensor, method: str, sigma: float, iou_threshold: float) -> torch.Tensor:
    if method == "gaussian":
        return torch.exp(-(iou * iou) / (2 * sigma))
    if method == "linear":
        return torch.where(iou > iou_threshold, 1 - iou, torch.ones_like(iou))
    return torch.where(iou > iou_threshold, torch.zeros_like(iou), torch.ones_like(iou))


def _validate(method: str, sigma: float, score_threshold: float, top_k: int) -> None:
    if method not in NMS_METHODS:
        raise ValueError(f"NMS method must be one of {NMS_METHODS}, got {method!r}")
    if method == "gaussian" and not sigma > 0:
        raise ValueError(f"gaussian soft-NMS needs sigma > 0, got {sigma}")
    if score_threshold < 0 or top_k < 1:
        raise ValueError(f"need score_threshold >= 0 and top_k >= 1, got {score_threshold}, {top_k}")



def _first_k(key: torch.Tensor, k: int) -> torch.Tensor:
    """(b, k) input columns of each row's first k candidates in (key descending, column ascending) order: a stable
    descending sort, without sorting all n columns when k < n (a top-k, then the tied k-th values by column)."""
    b, n = key.shape
    if k >= n:
        return torch.argsort(key, dim=1, descending=True, stable=True)
    kth = torch.topk(key, k, dim=1).values[:, -1:]  # (b, 1)
    above, tied = key > kth, key == kth
    room = k - above.sum(1, keepdim=True)  # how many of the tied columns each row keeps, lowest columns first
    chosen = above | (tied & (tied.cumsum(1) <= room))  # exactly k per row
    cols = chosen.nonzero()[:, 1].view(b, k)  # ascending columns
    return cols.gather(1, torch.argsort(key.gather(1, cols), dim=1, descending=True, stable=True))


class _Window:
    """Exact current scores of the first ``width`` candidates in initial-score order (the "window").

    Decays only lower scores, so no candidate outside the window scores more than the initial score of the first one
    outside (``bounds``). While the best score inside is >= that bound, the greedy pick equals the pick over all
    candidates; otherwise the window doubles and its new columns take the decays of all picks made so far at once (each
    weight depends on one IoU only, so the order of application does not matter). A pick updates the window in place
    in about a dozen tensor operations, with the same floating-point operations as ``tiou_with_lengths`` and
    ``_decay_weight`` (bit-identical results); one video reads its pick as Python numbers instead of gathering it.
    With Gaussian weights (never 0) a candidate that decays to the score threshold or below keeps its small score
    instead of being set to −inf: it can never be picked again, so the result is the same and two operations a round
    are saved.
    """

    def __init__(self, segments, key, labels, *, method, sigma, iou_threshold, per_class, score_threshold, width,
                 full_width):
        self.segments, self.key, self.labels = segments, key, labels  # (b, n, 2), (b, n) with −inf = dead, (b, n)
        self.method, self.sigma, self.iou_threshold = method, sigma, iou_threshold
        self.per_class, self.score_threshold, self.full_width = per_class, score_threshold, full_width
        self.neg_two_sigma = torch.tensor(-2 * sigma, dtype=key.dtype, device=key.device)  # a tensor: fast to use
        self.width, self.one = 0, len(key) == 1
        self.picks: list = []  # window column of each pick: (b, 1) tensors, or ints for one video
        self.grow(width)

    def pick_columns(self) -> torch.Tensor:
        """(b, k) window columns of the picks so far."""
        if self.one or not self.picks:
            return torch.tensor(self.picks, dtype=torch.long, device=self.key.device).view(len(self.key), -1)
        return torch.cat(self.picks, 1)

    def grow(self, width: int) -> None:
        """Widen the window to ``width`` columns (at most ``full_width``), decaying the new ones by every pick."""
        new_width = min(width, self.full_width)
        order = _first_k(self.key, min(new_width + 1, self.key.shape[1]))  # one more: the first outside
        cols = self.cols = order[:, :new_width]  # (b, w) input column of each window column; a prefix never changes
        seg = self.seg = torch.gather(self.segments, 1, cols[..., None].expand(-1, -1, 2))  # (b, w, 2)
        lab = self.lab = self.labels.gather(1, cols)
        length = segment_length(seg)
        self.start, self.end, self.length = seg[..., 0].contiguous(), seg[..., 1].contiguous(), length  # (b, w)
        self.zero_length = bool((length == 0).any())
        init = self.key.gather(1, cols)  # (b, w), descending
        sl = slice(self.width, new_width)
        new = init[:, sl]
        if self.picks:
            picks = self.pick_columns()  # (b, k)
            pick_seg = torch.gather(seg, 1, picks[..., None].expand(-1, -1, 2))[:, None]  # (b, 1, k, 2)
            iou = tiou_with_lengths(pick_seg, seg[:, sl, None], length.gather(1, picks)[:, None],
                                    length[:, sl, None])  # (b, w_new, k)
            if self.per_class:
                iou = torch.where(lab[:, sl, None] == lab.gather(1, picks)[:, None], iou, torch.zeros_like(iou))
            new = new * _decay_weight(iou, self.method, self.sigma, self.iou_threshold).prod(-1)
            new = torch.where(new > self.score_threshold, new, -torch.inf)
        self.cur = torch.cat([self.cur, new], 1) if self.width else new.clone()
        self.width = new_width
        outside = self.key.gather(1, order[:, new_width:]) if order.shape[1] > new_width else \
            torch.full_like(init[:, :1], -torch.inf)
        self.bounds = outside[:, 0].tolist()  # initial score of the first candidate outside, per video
        if self.one:  # views and Python copies for `take_one`
            self.cur_row, self.length_row = self.cur[0], length[0]
            self.start_list, self.end_list = self.start[0].tolist(), self.end[0].tolist()

    def take(self, col: torch.Tensor) -> None:
        """Output window column ``col`` (b, 1) of every video, remove it and decay the rest of the window."""
        self.picks.append(col)
        self.cur.scatter_(1, col, -torch.inf)
        start, end, length = (x.gather(1, col) for x in (self.start, self.end, self.length))  # (b, 1) each
        inter = torch.minimum(self.end, end)
        inter.sub_(torch.maximum(self.start, start)).clamp_min_(0)
        self._decay(inter, self.length + length, self.lab.gather(1, col) if self.per_class else None)

    def take_one(self, c: int) -> None:
        """`take` for a single video, the pick at window column ``c``."""
        self.picks.append(c)
        self.cur_row[c] = -torch.inf
        inter = self.end.clamp(max=self.end_list[c])  # exact: the scalars are the tensors' own values
        inter.sub_(self.start.clamp(min=self.start_list[c])).clamp_min_(0)
        self._decay(inter, self.length + self.length_row[c], self.lab[0, c] if self.per_class else None)

    def _decay(self, inter: torch.Tensor, length_sum: torch.Tensor, pick_label: torch.Tensor | None) -> None:
        """Decay the window by the pick whose overlaps are ``inter`` (b, w) and length sums ``length_sum`` (b, w)."""
        union = length_sum.sub_(inter)  # as tiou_with_lengths: (len + len) − inter
        if self.zero_length:  # a zero union has zero overlap: tIoU 0 (safe_div), never NaN
            union.clamp_min_(torch.finfo(union.dtype).tiny)
        iou = inter.div_(union)
        if pick_label is not None:
            iou.masked_fill_(self.lab != pick_label, 0)
        if self.method == "gaussian":  # -(iou²) / (2σ) == iou² / (−2σ) exactly
            self.cur.mul_(iou.mul_(iou).div_(self.neg_two_sigma).exp_())
        else:  # a weight of 0 (hard NMS) gives −inf · 0 = NaN on removed columns: removed again below
            self.cur.mul_(_decay_weight(iou, self.method, self.sigma, self.iou_threshold))
            self.cur.copy_(torch.where(self.cur > self.score_threshold, self.cur, -torch.inf))


def soft_nms(
    segments: torch.Tensor,
    scores: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    method: str = "gaussian",
    sigma: float = 0.3,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.001,
    top_k: int = 100,
    per_class: bool = False,
    window: int = 1024,
) -> NmsResult:
    """Soft-NMS (or hard NMS) of 1-D segments, batched over videos.

    Args:
        segments: (b, n, 2) candidate (start, end), any unit (seconds at inference); or (n, 2) for one video.
        scores: (b, n) candidate scores (probabilities); or (n,).
        labels: optional (b, n) long class of each candidate (required for ``per_class``); returned with the kept ones.
        mask: optional (b, n) bool, True = a real candidate (padding when videos have different counts).
        method: 'gaussian' | 'linear' | 'hard'.
        sigma: Gaussian width in the TF convention, weight exp(−iou²/(2·sigma)); official 0.3.
        iou_threshold: IoU above which 'linear' and 'hard' act; unused by 'gaussian'.
        score_threshold: candidates with (decayed) score <= this are dropped; official 0.001.
        top_k: maximum number kept per video; official 100.
        per_class: suppress only among candidates with the same label.
        window: speed knob only (results do not depend on it): how many top-scoring candidates per video carry exact
            scores at a time; the window doubles when a pick might lie outside it.

    Returns:
        NmsResult with (b, top_k) fields (no batch axis for unbatched input).
    """
    _validate(method, sigma, score_threshold, top_k)
    unbatched = segments.dim() == 2
    if unbatched:
        segments, scores = segments[None], scores[None]
        labels = None if labels is None else labels[None]
        mask = None if mask is None else mask[None]
    b, n = scores.shape
    if segments.shape != (b, n, 2):
        raise ValueError(f"segments must be (b, n, 2) matching scores {tuple(scores.shape)}, got {tuple(segments.shape)}")
    if per_class and labels is None:
        raise ValueError("per_class NMS needs labels")
    if labels is None:
        labels = torch.zeros(b, n, dtype=torch.long, device=scores.device)
    real = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask
    if n == 0:  # one masked-out dummy keeps every shape below non-empty
        segments, scores, labels = segments.new_zeros(b, 1, 2), scores.new_zeros(b, 1), labels.new_zeros(b, 1)
        real = torch.zeros(b, 1, dtype=torch.bool, device=scores.device)
    if not bool(torch.isfinite(scores[real]).all() & torch.isfinite(segments[real]).all()):
        raise ValueError("soft_nms got NaN or infinite scores/segments among the real (unmasked) candidates")
    alive = (scores > score_threshold) & real
    key = torch.where(alive, scores, -torch.inf)
    full_width = max(int(alive.sum(1).max()), 1)  # columns no video uses are never looked at
    win = _Window(segments, key, labels, method=method, sigma=sigma, iou_threshold=iou_threshold,
                  per_class=per_class, score_threshold=score_threshold, width=max(window, 1), full_width=full_width)
    taken = _greedy_one(win, min(top_k, full_width)) if win.one else _greedy(win, min(top_k, full_width))
    return _gather_results(win.seg, win.lab, win.cols, win.pick_columns(), taken, top_k, unbatched)


def _greedy(win: _Window, rounds: int) -> torch.Tensor:
    """The greedy loop over a batch of videos; returns the (b, k) scores at selection."""
    taken: list[torch.Tensor] = []
    while len(taken) < rounds:
        best, col = win.cur.max(dim=1, keepdim=True)  # (b, 1); the first maximum on ties
        values = [v if v > win.score_threshold else -math.inf for v in best.view(-1).tolist()]  # at or below: none
        if any(v < bound for v, bound in zip(values, win.bounds)):
            win.grow(2 * win.width)
        elif all(v == -math.inf for v in values):
            break
        else:
            if -math.inf in values:  # a video with nothing left: its pick is padding
                best = best.masked_fill(best <= win.score_threshold, -torch.inf)
            win.take(col)
            taken.append(best)
    return torch.cat(taken, 1) if taken else win.cur[:, :0]


def _greedy_one(win: _Window, rounds: int) -> torch.Tensor:
    """`_greedy` for one video, with Python numbers for the control flow."""
    taken: list[float] = []
    while len(taken) < rounds:
        best, col = win.cur_row.max(0)  # the first maximum on ties
        value = best.item()
        if value <= win.score_threshold:
            value = -math.inf
        if value < win.bounds[0]:
            win.grow(2 * win.width)
        elif value == -math.inf:
            break
        else:
            win.take_one(col.item())
            taken.append(value)
    return torch.tensor(taken, dtype=win.cur.dtype, device=win.cur.device).view(1, -1)


def _gather_results(seg: torch.Tensor, lab: torch.Tensor, index: torch.Tensor, cols: torch.Tensor,
                    scores: torch.Tensor, top_k: int, unbatched: bool) -> NmsResult:
    """Pad the picks (b, k) (window columns) and their scores (b, k) into (b, top_k) outputs."""
    b, pad = seg.shape[0], top_k - cols.shape[1]
    col = torch.cat([cols, torch.zeros(b, pad, dtype=torch.long, device=seg.device)], dim=1)  # (b, top_k)
    score = torch.cat([scores, torch.full((b, pad), -torch.inf, dtype=scores.dtype, device=seg.device)], dim=1)
    ok = score > -torch.inf  # a video that ran out of candidates picked a removed (−inf) column
    out = NmsResult(
        segments=torch.where(ok[..., None], torch.gather(seg, 1, col[..., None].expand(-1, -1, 2)), 0.0),
        scores=torch.where(ok, score, torch.zeros_like(score)),
        labels=torch.where(ok, lab.gather(1, col), -1),
        indices=torch.where(ok, index.gather(1, col), -1),
        mask=ok,
    )
    return NmsResult(*(x[0] for x in out)) if unbatched else out
