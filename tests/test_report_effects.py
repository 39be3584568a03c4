"""unloc.study.report.effects: the bootstrap intervals match analytic ones where those are exact, and the designs behave."""

import math

import numpy as np
import pytest
from scipy import stats

from unloc.study.report.effects import paired_effect, unpaired_effect


def _items(values) -> dict[str, float]:
    return {f"q{i:05d}": float(v) for i, v in enumerate(values)}


def _close_interval(effect, low, high, rel=0.05):
    half = (high - low) / 2
    assert effect.ci_low == pytest.approx(low, abs=rel * half)
    assert effect.ci_high == pytest.approx(high, abs=rel * half)


def test_paired_items_match_the_t_interval_of_a_large_normal_sample():
    rng = np.random.default_rng(1)
    base = rng.normal(50, 10, 4000)
    diff = rng.normal(0.3, 2.0, 4000)
    effect = paired_effect({0: _items(base + diff)}, {0: _items(base)})
    t = stats.ttest_1samp(diff, 0.0).confidence_interval(0.95)
    assert effect.effect == pytest.approx(diff.mean())
    _close_interval(effect, t.low, t.high)
    assert (effect.n_seeds, effect.n_items, effect.design) == (1, 4000, "paired items")
    assert effect.half_width == pytest.approx((t.high - t.low) / 2, rel=0.05)


def test_seeds_without_items_get_students_t_interval():
    """A bootstrap over a few seeds under-covers (three equal differences would give a zero-width interval)."""
    ablation, base = {0: 14.0, 1: 15.5, 2: 13.0}, {0: 12.0, 1: 12.5, 2: 12.0}
    effect = paired_effect(ablation, base)
    t = stats.ttest_rel([14.0, 15.5, 13.0], [12.0, 12.5, 12.0]).confidence_interval(0.95)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((t.low, t.high), rel=1e-12)
    assert effect.effect == pytest.approx(2.0) and (effect.n_seeds, effect.n_items) == (3, 1)
    assert effect.design == "paired seeds" and effect.sign == 0  # differences 2, 3, 1: 2.0 +- 4.30 x 1 / sqrt(3)
    by_hand = 2.0 + np.array([-1, 1]) * stats.t.ppf(0.975, 2) * np.std([2.0, 3.0, 1.0], ddof=1) / math.sqrt(3)
    assert (effect.ci_low, effect.ci_high) == pytest.approx(tuple(by_hand))
    flat = paired_effect({0: 3.0, 1: 4.0}, {0: 1.0, 1: 2.0})
    assert (flat.ci_low, flat.ci_high) == (2.0, 2.0)  # no spread, no warning


def test_a_shift_shared_by_every_item_of_a_seed_is_seed_variance():
    """D[s, i] = shift_s: items carry no information, so the crossed interval is the seeds' t-interval."""
    rng = np.random.default_rng(3)
    shift = rng.normal(0.5, 1.0, 2000)
    ablation = {s: _items(np.full(3, 10.0 + shift[s])) for s in range(2000)}
    base = {s: _items(np.full(3, 10.0)) for s in range(2000)}
    effect = paired_effect(ablation, base, n_resamples=4000)
    t = stats.ttest_1samp(shift, 0.0).confidence_interval(0.95)
    _close_interval(effect, t.low, t.high)
    assert effect.design == "paired seeds x items" and effect.n_items == 3


def test_crossed_interval_counts_seed_noise_that_items_alone_miss():
    rng = np.random.default_rng(4)
    seeds, items = 5, 400
    shift = np.array([-3.0, -1.0, 0.5, 2.0, 4.0])  # seed-level changes of the effect
    noise = rng.normal(0, 20, (seeds, items))
    base = {s: _items(np.zeros(items)) for s in range(seeds)}
    ablation = {s: _items(1.0 + shift[s] + noise[s]) for s in range(seeds)}
    crossed = paired_effect(ablation, base)
    one_seed = paired_effect({0: ablation[0]}, {0: base[0]})
    items_only_half = 1.96 * (1.0 + shift[:, None] + noise).mean(0).std(ddof=1) / math.sqrt(items)
    assert crossed.effect == pytest.approx(1.0 + shift.mean() + noise.mean())
    assert crossed.half_width > 1.5 * items_only_half  # the spread of the seed shifts is in the interval
    assert one_seed.n_seeds == 1 and one_seed.design == "paired items"


def test_constant_difference_has_a_zero_width_interval():
    base = {s: _items(np.arange(50.0) + s) for s in range(3)}
    ablation = {s: {k: v + 2.0 for k, v in base[s].items()} for s in range(3)}
    effect = paired_effect(ablation, base)
    assert (effect.effect, effect.ci_low, effect.ci_high, effect.half_width) == (2.0, 2.0, 2.0, 0.0)
    assert effect.sign == 1


def test_the_effect_is_the_difference_of_the_arm_means_and_only_shared_seeds_pair():
    base = {0: _items([0, 100, 0, 100]), 1: _items([100, 100, 0, 0]), 7: _items([0, 0, 0, 0])}
    ablation = {0: _items([100, 100, 0, 100]), 1: _items([100, 100, 100, 0]), 9: _items([1, 1, 1, 1])}
    effect = paired_effect(ablation, base, n_resamples=500)
    assert effect.effect == pytest.approx(25.0) and effect.n_seeds == 2 and effect.n_items == 4
    assert effect.ci_low <= 25.0 <= effect.ci_high
    again = paired_effect(ablation, base, n_resamples=500)
    assert (again.ci_low, again.ci_high) == (effect.ci_low, effect.ci_high)  # a pure function of data and seed


def test_mixed_item_and_number_runs_pair_at_seed_level():
    effect = paired_effect({0: _items([0, 100]), 1: 30.0}, {0: 20.0, 1: _items([0, 40])})
    assert effect.design == "paired seeds" and effect.effect == pytest.approx(((50 - 20) + (30 - 20)) / 2)


def test_bad_pairings_are_errors_and_a_single_cell_is_inconclusive():
    with pytest.raises(ValueError, match="no seed ran in both arms"):
        paired_effect({0: 1.0}, {1: 1.0})
    with pytest.raises(ValueError, match="seed 0: evaluation items differ"):
        paired_effect({0: {"a": 1.0, "b": 2.0}}, {0: {"a": 1.0, "c": 2.0}})
    with pytest.raises(ValueError, match="non-finite"):
        paired_effect({0: float("nan"), 1: 1.0}, {0: 1.0, 1: 1.0})
    single = paired_effect({3: 12.0}, {3: 10.0})
    assert single.effect == 2.0 and math.isnan(single.ci_low) and math.isnan(single.half_width)
    assert single.sign == 0


def test_unpaired_arms_match_welchs_interval():
    rng = np.random.default_rng(5)
    a, b = rng.normal(40, 8, 3000), rng.normal(37, 12, 2500)
    effect = unpaired_effect({0: _items(a)}, {0: {f"other{i}": v for i, v in enumerate(b)}})
    t = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    _close_interval(effect, t.low, t.high)
    assert effect.effect == pytest.approx(a.mean() - b.mean()) and effect.n_items == 5500


def test_unpaired_numbers_get_welchs_t_interval():
    a, b = [30.0, 34.0, 29.0], [20.0, 26.0, 21.0, 25.0]
    effect = unpaired_effect(dict(enumerate(a)), dict(enumerate(b)))
    t = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((t.low, t.high), rel=1e-12)
    assert (effect.n_seeds, effect.n_items, effect.design) == (7, 1, "unpaired")


def test_unpaired_runs_on_different_items_are_pooled():
    seventy_five = {0: {"c1": 30.0, "c2": 50.0}, 1: {"c3": 40.0, "c4": 60.0}}  # each split its own unseen classes
    fifty = {0: {"d1": 20.0, "d2": 20.0}, 1: {"d3": 20.0, "d4": 20.0}}
    effect = unpaired_effect(seventy_five, fifty, n_resamples=2000)
    assert effect.effect == pytest.approx(25.0) and effect.n_seeds == 4 and effect.n_items == 8
    # the 50/50 arm is constant; the 75/25 arm's four pooled classes resample to a mean of 45 +- 1.96 x 11.2 / 2
    assert 12.0 <= effect.ci_low <= 18.0 and 32.0 <= effect.ci_high <= 38.0
