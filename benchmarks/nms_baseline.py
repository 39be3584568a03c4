"""The Soft-NMS of `unloc.ops.nms` as it was before issue #13 (one window update of about 30 tensor operations a
round, a full sort of every candidate), kept verbatim as the baseline of `bench_nms.py` and as the reference the tests
compare the current implementation with, bit for bit."""

from __future__ import annotations

import torch

from unloc.ops.nms import NmsResult
from unloc.ops.segments import segment_length, tiou_with_lengths


def _decay_weight(iou: torch.Tensor, method: str, sigma: float, iou_threshold: float) -> torch.Tensor:
    if method == "gaussian":
        return torch.exp(-(iou * iou) / (2 * sigma))
    if method == "linear":
        return torch.where(iou > iou_threshold, 1 - iou, torch.ones_like(iou))
    return torch.where(iou > iou_threshold, torch.zeros_like(iou), torch.ones_like(iou))



def _sort_by_score(
    segments: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, alive: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Sort each video's candidates by score, live ones first (stable: ties keep input order), and cut the columns
    no video uses. Returns segments (b, m, 2), scores, labels, alive and input indices (b, m); m >= 1."""
    key = torch.where(alive, scores, torch.full_like(scores, -torch.inf))
    order = torch.argsort(key, dim=1, descending=True, stable=True)[:, : max(int(alive.sum(1).max()), 1)]  # (b, m)
    seg = torch.gather(segments, 1, order[..., None].expand(-1, -1, 2))
    return seg, scores.gather(1, order), labels.gather(1, order), alive.gather(1, order), order



class _Window:
    """Exact current scores of the first ``width`` candidates in initial-score order (−inf = removed).

    Decays only lower scores, so no candidate outside the window scores more than the initial score of the first one
    outside (``bound``). While the best score inside is >= that bound, the greedy pick equals the pick over all
    candidates; otherwise the window doubles and its new columns take the decays of all picks made so far at once (each
    weight depends on one IoU only, so the order of application does not matter).
    """

    def __init__(self, seg, init, lab, alive0, *, weight_fn, per_class: bool, score_threshold: float, width: int):
        self.seg, self.lab, self.length = seg, lab, segment_length(seg)  # (b, m, 2), (b, m), (b, m)
        self.init = torch.where(alive0, init, -torch.inf)  # sorted descending, removed candidates last
        self.weight_fn, self.per_class, self.score_threshold = weight_fn, per_class, score_threshold
        self.width, self.cur = 0, self.init[:, :0]
        self.picks: list[torch.Tensor] = []  # column of each pick, (b, 1)
        self.grow(width)

    def _weights(self, cols: torch.Tensor, sl: slice) -> torch.Tensor:
        """Decay weights (b, k, w) of the candidates in columns ``sl`` by the picks at ``cols`` (b, k)."""
        seg, length, lab = self.seg[:, sl, None], self.length[:, sl, None], self.lab[:, sl, None]  # (b, w, 1, ...)
        pick_seg = torch.gather(self.seg, 1, cols[..., None].expand(-1, -1, 2))[:, None]  # (b, 1, k, 2)
        iou = tiou_with_lengths(pick_seg, seg, self.length.gather(1, cols)[:, None], length)  # (b, w, k)
        if self.per_class:
            iou = torch.where(lab == self.lab.gather(1, cols)[:, None], iou, torch.zeros_like(iou))
        return self.weight_fn(iou)

    def _decayed(self, cur: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        cur = cur * weight  # -inf stays -inf; a weight of 0 (hard NMS) gives 0 or NaN, both removed below
        return torch.where(cur > self.score_threshold, cur, -torch.inf)

    def bound(self) -> torch.Tensor:
        """(b, 1) upper bound on the score of any candidate outside the window (−inf when none)."""
        w = self.width
        return self.init[:, w : w + 1] if w < self.init.shape[1] else torch.full_like(self.init[:, :1], -torch.inf)

    def grow(self, width: int) -> None:
        sl = slice(self.width, min(width, self.init.shape[1]))
        cur = self.init[:, sl]
        if self.picks:
            cur = self._decayed(cur, self._weights(torch.cat(self.picks, 1), sl).prod(-1))
        self.cur, self.width = torch.cat([self.cur, cur], 1), sl.stop

    def take(self, col: torch.Tensor) -> None:
        """Output column ``col`` (b, 1) of every video, remove it and decay the rest of the window."""
        self.picks.append(col)
        cur = self.cur.scatter(1, col, -torch.inf)
        self.cur = self._decayed(cur, self._weights(col, slice(0, self.width))[..., 0])



def baseline_soft_nms(segments, scores, *, labels=None, mask=None, method="gaussian", sigma=0.3, iou_threshold=0.5,
                      score_threshold=0.001, top_k=100, per_class=False, window=1024):
    """`unloc.ops.nms.soft_nms` before #13 (the timing baseline and the reference for identical output)."""
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
    seg, init, lab, alive0, index = _sort_by_score(segments, scores, labels, alive)
    win = _Window(
        seg, init, lab, alive0, per_class=per_class, score_threshold=score_threshold, width=max(window, 1),
        weight_fn=lambda iou: _decay_weight(iou, method, sigma, iou_threshold),
    )
    taken_score = []
    while len(taken_score) < min(top_k, seg.shape[1]):
        best_score, col = win.cur.max(dim=1, keepdim=True)  # (b, 1); the first maximum on ties
        must_grow, any_left = torch.stack([(best_score < win.bound()).any(), (best_score > -torch.inf).any()]).tolist()
        if must_grow:
            win.grow(2 * win.width)
        elif not any_left:
            break
        else:
            win.take(col)
            taken_score.append(best_score)
    return _gather_results(seg, lab, index, win.picks, taken_score, top_k, init.dtype, unbatched)



def _gather_results(
    seg: torch.Tensor,
    lab: torch.Tensor,
    index: torch.Tensor,
    cols: list[torch.Tensor],
    scores: list[torch.Tensor],
    top_k: int,
    score_dtype: torch.dtype,
    unbatched: bool,
) -> NmsResult:
    """Stack the per-round picks (each (b, 1), columns of the sorted arrays) into padded (b, top_k) outputs."""
    b, pad = seg.shape[0], top_k - len(cols)
    col = torch.cat(cols + [torch.zeros(b, pad, dtype=torch.long, device=seg.device)], dim=1)  # (b, k)
    score = torch.cat(scores + [torch.full((b, pad), -torch.inf, dtype=score_dtype, device=seg.device)], dim=1)
    ok = score > -torch.inf  # a video that ran out of candidates picked a removed (−inf) column
    out = NmsResult(
        segments=torch.where(ok[..., None], torch.gather(seg, 1, col[..., None].expand(-1, -1, 2)), 0.0),
        scores=torch.where(ok, score, torch.zeros_like(score)),
        labels=torch.where(ok, lab.gather(1, col), -1),
        indices=torch.where(ok, index.gather(1, col), -1),
        mask=ok,
    )
    return NmsResult(*(x[0] for x in out)) if unbatched else out
