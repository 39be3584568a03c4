"""An ablation's effect on a metric with a 95 % confidence interval: its difference to its base, paired by seed and by
evaluation item, bootstrapped with `scipy.stats.bootstrap` (issue 16 item 5).

The data of one arm (a setting) is `{seed: value}` where value is either the run's metric (a number) or the run's
per-item contributions `{item id: value}` whose mean is the metric (MR: 100 x hit of each query; TAL: each class's
AP; see `unloc.study.items`). Two designs:

- paired (`paired_effect`): ablation and base ran the same seeds on the same evaluation items. The differences form a
  seeds x items matrix D (ablation - base); the effect is its mean, which equals the difference of the two arms' mean
  metrics. Its interval comes from the crossed ("pigeonhole") bootstrap: seeds and items are resampled independently
  (passed to `bootstrap` as two unpaired samples of indices) and each resample averages the crossed cells of D, so
  both the training randomness (seeds) and the choice of evaluation items count. With one seed this is the paired
  bootstrap over items. The pigeonhole bootstrap overstates the variance of a crossed mean a little (the seed x item
  interaction is counted up to three times instead of once), so the interval errs wide: a verdict it decides is not
  decided by resampling noise. Without per-item values only the seeds are left, and a bootstrap over 3-5 numbers
  covers far less than it claims (three equal differences give a zero-width interval); the interval is then
  Student's t over the per-seed differences (`scipy.stats.ttest_1samp`), exact for normal differences.
- unpaired (`unpaired_effect`): the arms were scored on different items (zero-shot 75/25 vs 50/50: other unseen
  classes). Each arm is resampled on its own (seeds x items when its seeds share items, else all its cells as one
  sample of items) and the effect is the difference of the arm means; arms of plain numbers get Welch's t interval
  (`scipy.stats.ttest_ind`).

Bootstrap intervals are percentile intervals: defined for constant data (a zero-width interval), where BCa's jackknife
is not. One seed without items leaves nothing to estimate a spread from: the interval is NaN (inconclusive).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap, ttest_1samp, ttest_ind

ArmValues = Mapping[int, float | Mapping[str, float]]
CONFIDENCE = 0.95
N_RESAMPLES = 9999


@dataclass(frozen=True)
class Effect:
    """effect = mean(ablation) - mean(base) in the metric's units, with its confidence interval.

    Attributes:
        effect, ci_low, ci_high: the estimate and the interval (NaN when nothing can be resampled).
        n_seeds: seeds used (paired: shared by both arms; unpaired: both arms' runs).
        n_items: evaluation items per seed (paired), or all scored items of both arms (unpaired); 1 = seed level.
        design: "paired seeds x items", "paired items", "paired seeds" or "unpaired".
        confidence: the interval's level.
    """

    effect: float
    ci_low: float
    ci_high: float
    n_seeds: int
    n_items: int
    design: str
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def sign(self) -> int:
        """+1 when the interval lies above zero, -1 below, 0 when it includes zero (or is NaN)."""
        if self.ci_low > 0:
            return 1
        if self.ci_high < 0:
            return -1
        return 0

    def as_dict(self) -> dict[str, float | int | str]:
        return {"effect": self.effect, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "half_width": self.half_width, "n_seeds": self.n_seeds, "n_items": self.n_items,
                "design": self.design, "confidence": self.confidence}


def _matrix(arm: ArmValues, seeds: list[int], name: str, items: list[str] | None) -> np.ndarray:
    """(seeds, items) values of one arm; items None = seed level (a run's per-item values are averaged)."""
    rows = []
    for seed in seeds:
        value = arm[seed]
        if items is None:
            rows.append([float(np.mean(list(value.values()))) if isinstance(value, Mapping) else float(value)])
            continue
        missing = [i for i in items if i not in value]
        extra = sorted(set(value) - set(items))
        if missing or extra:
            raise ValueError(f"{name}, seed {seed}: evaluation items differ from the other runs' "
                             f"(missing {missing[:3]}, extra {extra[:3]}); paired effects need one evaluation set")
        rows.append([float(value[i]) for i in items])
    matrix = np.asarray(rows, dtype=float)
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name}: non-finite values")
    return matrix


def _common_items(arms: list[tuple[str, ArmValues]], seeds: list[int]) -> list[str] | None:
    """The items every run of every arm scored (sorted), or None when some run has a plain number."""
    values = [arm[s] for _, arm in arms for s in seeds]
    if not all(isinstance(v, Mapping) for v in values):
        return None
    return sorted(values[0])


def _interval(samples: tuple[np.ndarray, ...], statistic, confidence: float, n_resamples: int,
              seed: int) -> tuple[float, float]:
    samples = tuple(s for s in samples if len(s) > 1)  # a one-element sample resamples to itself
    if not samples:
        return math.nan, math.nan
    result = bootstrap(samples, statistic, paired=False, vectorized=True, confidence_level=confidence,
                       n_resamples=n_resamples, method="percentile", batch=256, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _t_interval(a: np.ndarray, b: np.ndarray | None, confidence: float) -> tuple[float, float]:
    """Student's t interval of mean(a) (b None), or Welch's of mean(a) - mean(b); NaN without two values per arm,
    zero width when the values do not vary."""
    arms = [a] if b is None else [a, b]
    if min(len(x) for x in arms) < 2:
        return math.nan, math.nan
    if all(np.ptp(x) == 0 for x in arms):
        center = float(a.mean() - (0.0 if b is None else b.mean()))
        return center, center
    test = ttest_1samp(a, 0.0) if b is None else ttest_ind(a, b, equal_var=False)
    ci = test.confidence_interval(confidence)
    return float(ci.low), float(ci.high)


def _crossed_mean(matrix: np.ndarray):
    """Statistic over (seed indices, item indices) resamples: mean of the crossed cells; either may be absent."""
    seeds, items = matrix.shape

    def statistic(*idx: np.ndarray, axis: int = -1) -> np.ndarray:
        it = iter(idx)
        rows = next(it) if seeds > 1 else np.zeros(1, dtype=int)
        cols = next(it) if items > 1 else np.zeros(1, dtype=int)
        rows, cols = np.broadcast_arrays(rows[..., :, None], cols[..., None, :])  # (..., s, n)
        return matrix[rows, cols].mean(axis=(-2, -1))

    return statistic


def _index_samples(matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    return tuple(np.arange(n) for n in matrix.shape if n > 1)


def paired_effect(ablation: ArmValues, base: ArmValues, *, confidence: float = CONFIDENCE,
                  n_resamples: int = N_RESAMPLES, seed: int = 0) -> Effect:
    """The ablation's effect over its base, paired by seed (and by item when both arms give per-item values).

    Args:
        ablation, base: {seed: metric or {item: value}}; only the seeds both ran are used.
        confidence: interval level.
        n_resamples: bootstrap resamples.
        seed: seed of the resampling (the interval is a pure function of the data and this seed).

    Raises:
        ValueError: no shared seed, runs scored on different items, or non-finite values.
    """
    seeds = sorted(set(ablation) & set(base))
    if not seeds:
        raise ValueError(f"no seed ran in both arms (ablation seeds {sorted(ablation)}, base seeds {sorted(base)})")
    arms = [("ablation", ablation), ("base", base)]
    items = _common_items(arms, seeds)
    diff = _matrix(ablation, seeds, "ablation", items) - _matrix(base, seeds, "base", items)  # (s, n)
    if items is None:
        low, high = _t_interval(diff[:, 0], None, confidence)
    else:
        low, high = _interval(_index_samples(diff), _crossed_mean(diff), confidence, n_resamples, seed)
    design = ("paired seeds x items" if len(seeds) > 1 and items else "paired items" if items else "paired seeds")
    return Effect(float(diff.mean()), low, high, len(seeds), diff.shape[1], design, confidence)


def _arm_matrix(arm: ArmValues, name: str) -> np.ndarray:
    """One arm alone: seeds x items when its runs share items, else all its cells as one row of items."""
    seeds = sorted(arm)
    if not seeds:
        raise ValueError(f"{name}: no runs")
    values = [arm[s] for s in seeds]
    if all(isinstance(v, Mapping) for v in values):
        if all(set(v) == set(values[0]) for v in values):
            return _matrix(arm, seeds, name, sorted(values[0]))
        return np.asarray([[float(x) for v in values for _, x in sorted(v.items())]], dtype=float)
    return _matrix(arm, seeds, name, None)


def unpaired_effect(ablation: ArmValues, base: ArmValues, *, confidence: float = CONFIDENCE,
                    n_resamples: int = N_RESAMPLES, seed: int = 0) -> Effect:
    """mean(ablation) - mean(base) for arms scored on different items (each arm resampled on its own)."""
    a, b = _arm_matrix(ablation, "ablation"), _arm_matrix(base, "base")
    if a.shape[1] == 1 and b.shape[1] == 1:  # plain numbers per run
        low, high = _t_interval(a[:, 0], b[:, 0], confidence)
        return Effect(float(a.mean() - b.mean()), low, high, len(a) + len(b), 1, "unpaired", confidence)
    stat_a, stat_b = _crossed_mean(a), _crossed_mean(b)
    samples_a, samples_b = _index_samples(a), _index_samples(b)

    def statistic(*idx: np.ndarray, axis: int = -1) -> np.ndarray:
        return stat_a(*idx[:len(samples_a)]) - stat_b(*idx[len(samples_a):])

    low, high = _interval(samples_a + samples_b, statistic, confidence, n_resamples, seed)
    n_items = (a.shape[1] if a.shape[0] > 1 else a.size) + (b.shape[1] if b.shape[0] > 1 else b.size)
    return Effect(float(a.mean() - b.mean()), low, high, len(ablation) + len(base), n_items, "unpaired", confidence)
