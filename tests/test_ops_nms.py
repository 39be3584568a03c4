"""unloc.ops.nms: Soft-NMS against a brute-force Python reference, hand-worked decays, batching and padding, and bit
for bit against the implementation before #13 (benchmarks/nms_baseline.py)."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unloc.ops.nms import sigma_from_bodla, soft_nms


def _brute_force(segs, scores, labels, *, method, sigma, iou_threshold, score_threshold, top_k, per_class):
    """Textbook greedy Soft-NMS over Python lists: returns [(input index, decayed score)] in selection order."""
    current = {i: s for i, s in enumerate(scores) if s > score_threshold}
    kept = []
    while current and len(kept) < top_k:
        # highest current score; ties: higher initial score, then lower index (the documented order)
        pick = max(current, key=lambda i: (current[i], scores[i], -i))
        kept.append((pick, current.pop(pick)))
        for i in list(current):
            if per_class and labels[i] != labels[pick]:
                continue
            (s0, e0), (s1, e1) = segs[pick], segs[i]
            inter = max(0.0, min(e0, e1) - max(s0, s1))
            union = (e0 - s0) + (e1 - s1) - inter
            iou = inter / union if union > 0 else 0.0
            if method == "gaussian":
                current[i] *= math.exp(-iou * iou / (2 * sigma))
            elif iou > iou_threshold:
                current[i] = current[i] * (1 - iou) if method == "linear" else 0.0
            if current[i] <= score_threshold:
                del current[i]
    return kept


def _random_video(g, n, num_labels, quantized):
    start = torch.rand(n, generator=g, dtype=torch.float64) * 20
    length = torch.rand(n, generator=g, dtype=torch.float64) * 8
    if quantized:  # many shared boundaries and exact IoU values
        start, length = start.round(), length.round()
    segs = torch.stack([start, start + length], -1)
    scores = torch.rand(n, generator=g, dtype=torch.float64)
    labels = torch.randint(0, num_labels, (n,), generator=g)
    return segs, scores, labels


def _check_against_reference(videos, mask, result, **kw):
    for v, (segs, scores, labels) in enumerate(videos):
        n_real = int(mask[v].sum())
        ref = _brute_force(segs[:n_real].tolist(), scores[:n_real].tolist(), labels[:n_real].tolist(), **kw)
        k = len(ref)
        assert result.mask[v].tolist() == [True] * k + [False] * (kw["top_k"] - k)
        assert result.indices[v, :k].tolist() == [i for i, _ in ref]
        torch.testing.assert_close(result.scores[v, :k], torch.tensor([s for _, s in ref], dtype=torch.float64))
        torch.testing.assert_close(result.segments[v, :k], segs[result.indices[v, :k]])
        assert result.labels[v, :k].tolist() == labels[result.indices[v, :k]].tolist()
        assert (result.indices[v, k:] == -1).all() and (result.scores[v, k:] == 0).all()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    counts=st.lists(st.integers(0, 25), min_size=1, max_size=3),
    method=st.sampled_from(["gaussian", "linear", "hard"]),
    per_class=st.booleans(),
    top_k=st.integers(1, 12),
    score_threshold=st.sampled_from([0.0, 0.001, 0.2]),
    quantized=st.booleans(),
    window=st.sampled_from([1, 3, 1024]),
)
def test_matches_brute_force(seed, counts, method, per_class, top_k, score_threshold, quantized, window):
    g = torch.Generator().manual_seed(seed)
    videos = [_random_video(g, n, 3, quantized) for n in counts]
    n_max = max(max(counts), 1)

    def pad(x, fill):
        return torch.cat([x, torch.full((n_max - len(x),) + x.shape[1:], fill, dtype=x.dtype)])

    segs = torch.stack([pad(v[0], 0.0) for v in videos])
    scores = torch.stack([pad(v[1], 0.9) for v in videos])  # padding scores high: only the mask removes them
    labels = torch.stack([pad(v[2], 0) for v in videos])
    mask = torch.stack([torch.arange(n_max) < n for n in counts])
    kw = {"method": method, "sigma": 0.3, "iou_threshold": 0.4, "score_threshold": score_threshold, "top_k": top_k,
          "per_class": per_class}
    result = soft_nms(segs, scores, labels=labels, mask=mask, window=window, **kw)
    assert result.segments.shape == (len(counts), top_k, 2)
    _check_against_reference(videos, mask, result, **kw)


def test_gaussian_hand_worked_and_sigma_convention():
    segs = torch.tensor([[0.0, 10.0], [1.0, 10.0], [20.0, 30.0], [21.0, 29.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    out = soft_nms(segs, scores, top_k=6)
    assert out.indices.tolist() == [0, 2, 1, 3, -1, -1]
    # [1,10] vs [0,10]: IoU 0.9 -> 0.8 * exp(-0.81 / 0.6); [21,29] vs [20,30]: IoU 0.8 -> 0.6 * exp(-0.64 / 0.6)
    expected = [0.9, 0.7, 0.8 * math.exp(-0.81 / 0.6), 0.6 * math.exp(-0.64 / 0.6), 0.0, 0.0]
    torch.testing.assert_close(out.scores, torch.tensor(expected))
    assert out.mask.tolist() == [True] * 4 + [False] * 2
    # Bodla / ActionFormer sigma 0.6 (exp(-iou^2 / 0.6)) is this module's (TF) sigma 0.3.
    assert sigma_from_bodla(0.6) == pytest.approx(0.3)
    torch.testing.assert_close(soft_nms(segs, scores, sigma=sigma_from_bodla(0.6), top_k=6).scores, out.scores)


def test_hard_and_linear_hand_worked():
    segs = torch.tensor([[0.0, 10.0], [1.0, 10.0], [5.0, 15.0]])  # IoU(0,1) = 0.9, IoU(0,2) = 1/3
    scores = torch.tensor([0.9, 0.8, 0.7])
    hard = soft_nms(segs, scores, method="hard", iou_threshold=0.5, top_k=3)
    assert hard.indices.tolist() == [0, 2, -1]
    linear = soft_nms(segs, scores, method="linear", iou_threshold=0.5, top_k=3)
    assert linear.indices.tolist() == [0, 2, 1]
    # [1,10] decays by (1 - 0.9) after the first pick; IoU([1,10], [5,15]) = 5/14 <= 0.5 leaves it there.
    torch.testing.assert_close(linear.scores, torch.tensor([0.9, 0.7, 0.8 * (1 - 0.9)]))


def test_per_class_suppresses_only_within_a_label():
    segs = torch.tensor([[0.0, 10.0], [0.0, 10.0], [0.0, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    labels = torch.tensor([0, 1, 0])
    out = soft_nms(segs, scores, labels=labels, method="hard", per_class=True, top_k=3)
    assert out.indices.tolist() == [0, 1, -1] and out.labels.tolist() == [0, 1, -1]
    agnostic = soft_nms(segs, scores, labels=labels, method="hard", top_k=3)
    assert agnostic.indices.tolist() == [0, -1, -1]


def test_score_threshold_top_k_and_order():
    g = torch.Generator().manual_seed(3)
    segs = torch.rand(200, 1, generator=g) * 50
    segs = torch.cat([segs, segs + torch.rand(200, 1, generator=g) * 10], -1)
    scores = torch.rand(200, generator=g) ** 4
    out = soft_nms(segs, scores, top_k=30, score_threshold=0.01)
    assert out.mask.all()
    assert (out.scores[1:] <= out.scores[:-1]).all()
    assert (out.scores > 0.01).all()
    assert len(set(out.indices.tolist())) == 30


def test_errors():
    segs, scores = torch.rand(4, 2), torch.rand(4)
    with pytest.raises(ValueError, match="labels"):
        soft_nms(segs, scores, per_class=True)
    with pytest.raises(ValueError, match="method"):
        soft_nms(segs, scores, method="matrix")
    with pytest.raises(ValueError, match="NaN"):
        soft_nms(segs, torch.tensor([0.5, float("nan"), 0.2, 0.1]))
    empty = soft_nms(torch.zeros(2, 0, 2), torch.zeros(2, 0), top_k=3)
    assert empty.indices.tolist() == [[-1] * 3] * 2 and not empty.mask.any()
    masked_nan = soft_nms(segs, torch.tensor([0.5, float("nan"), 0.2, 0.1]), mask=torch.tensor([1, 0, 1, 1]).bool())
    assert 1 not in masked_nan.indices.tolist()


def _pre_13():
    """`soft_nms` as it was before #13, kept in benchmarks/nms_baseline.py as the speed baseline."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "nms_baseline.py"
    spec = importlib.util.spec_from_file_location("nms_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.baseline_soft_nms


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    b=st.integers(1, 3),
    n=st.integers(0, 700),
    method=st.sampled_from(["gaussian", "linear", "hard"]),
    per_class=st.booleans(),
    top_k=st.sampled_from([1, 7, 100]),
    window=st.sampled_from([1, 16, 100, 1024]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    quantized=st.booleans(),
    unbatched=st.booleans(),
)
def test_bit_identical_to_the_pre_13_implementation(seed, b, n, method, per_class, top_k, window, dtype, quantized,
                                                    unbatched):
    g = torch.Generator().manual_seed(seed)
    start = torch.rand(b, n, generator=g, dtype=dtype) * 100
    length = torch.rand(b, n, generator=g, dtype=dtype) * 20 * (torch.rand(b, n, generator=g) > 0.05)  # some zero
    if quantized:
        start, length = start.round(), length.round()
    segs = torch.stack([start, start + length], -1)
    scores = (torch.rand(b, n, generator=g, dtype=dtype) ** 3).round(decimals=2 if quantized else 6)  # ties
    labels = torch.randint(0, 4, (b, n), generator=g)
    mask = torch.rand(b, n, generator=g) > 0.1
    kw = {"labels": labels, "mask": mask, "method": method, "per_class": per_class, "top_k": top_k,
          "window": window, "sigma": 0.3, "iou_threshold": 0.4, "score_threshold": 0.001}
    if unbatched:
        segs, scores, kw = segs[0], scores[0], {**kw, "labels": labels[0], "mask": mask[0]}
    new, old = soft_nms(segs, scores, **kw), _pre_13()(segs, scores, **kw)
    for field, a, ref in zip(new._fields, new, old):
        assert a.shape == ref.shape and torch.equal(a, ref), field
