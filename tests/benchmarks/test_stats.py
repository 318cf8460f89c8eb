import numpy as np
import pytest

from lucidgym.benchmarks.stats import bootstrap_ci, improvement_pct, interquartile_mean


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = 0
    trials = 300
    for trial in range(trials):
        sample = rng.normal(loc=3.0, scale=2.0, size=30)
        low, high = bootstrap_ci(sample, seed=trial)
        covered += low <= 3.0 <= high
    # The percentile bootstrap under-covers slightly at N = 30; 95% +- sampling noise.
    assert 0.88 <= covered / trials <= 0.99


def test_bootstrap_ci_is_seeded_and_degenerate_for_one_value():
    values = [1.0, 4.0, 2.0, 8.0]
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci([2.5]) == (2.5, 2.5)
    low, high = bootstrap_ci(values)
    assert min(values) <= low < np.mean(values) < high <= max(values)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0], confidence=1.5)


def test_interquartile_mean_cuts_a_quarter_at_each_end():
    assert interquartile_mean([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)
    assert interquartile_mean([0, 0, 5, 5, 5, 5, 1000, -1000]) == pytest.approx(3.75)
    assert interquartile_mean([1.0, 2.0, 9.0]) == pytest.approx(4.0)
    assert interquartile_mean(np.arange(100.0)) == pytest.approx(49.5)


def test_improvement_point_and_interval():
    point, interval = improvement_pct([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    assert point == pytest.approx(100.0)
    assert interval == pytest.approx((100.0, 100.0))
    point, interval = improvement_pct([-0.5, -0.5], [-1.0, -1.0])
    assert point == pytest.approx(50.0)  # less negative is better: measured against |baseline|
    rng = np.random.default_rng(1)
    agent, base = rng.normal(12.0, 1.0, 10), rng.normal(10.0, 1.0, 10)
    point, (low, high) = improvement_pct(agent, base, seed=0)
    assert low < point < high
    assert point == pytest.approx(100 * (agent.mean() - base.mean()) / base.mean())
    assert improvement_pct([1.0], [0.0, 0.0]) == (None, None)


def test_paired_improvement_cancels_what_both_agents_share():
    # Seeds differ a lot (easy and hard students) but the agent gains 10% on each: the
    # paired interval is that 10% exactly; the unpaired one is wide.
    base = np.array([10.0, 20.0, 30.0, 15.0, 25.0])
    agent = 1.1 * base
    point, paired = improvement_pct(agent, base, paired=True)
    assert point == pytest.approx(10.0)
    assert paired == pytest.approx((10.0, 10.0))
    _, (low, high) = improvement_pct(agent, base)
    assert low < 0.0 < 10.0 < high
    with pytest.raises(ValueError, match="paired"):
        improvement_pct([1.0, 2.0], [1.0], paired=True)
