"""Statistics over seeds: bootstrap confidence intervals, the interquartile mean, improvement.

Every interval is a percentile bootstrap over *seeds* (one number per seed, usually the
mean return of that seed's evaluation episodes), drawn from a seeded generator in one
vectorized call, so the same inputs always give the same interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples used when none are given."""


def _as_values(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name}: need at least one value, got none")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: values must be finite, got {array.tolist()}")
    return array


def _resample_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[resamples]`` means of ``values`` resampled with replacement."""
    index = rng.integers(0, values.size, size=(resamples, values.size))
    return values[index].mean(axis=1)


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def _check(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per seed).

    Args:
        values: ``[N]`` one number per seed.
        confidence: coverage of the interval (0.95 gives the 2.5 and 97.5 percentiles).
        resamples: number of bootstrap resamples.
        seed: seed of the resampling generator.

    Returns:
        ``(low, high)``; with a single value both ends equal it.
    """
    _check(confidence, resamples)
    array = _as_values(values, "bootstrap_ci")
    rng = np.random.default_rng(seed)
    return _interval(_resample_means(array, resamples, rng), confidence)


def interquartile_mean(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the middle half of ``values``: the lowest and highest 25% are cut.

    As in rliable (``scipy.stats.trim_mean(x, 0.25)``): ``floor(N / 4)`` values are
    dropped at each end of the sorted array, so up to three values it is the mean.
    """
    array = np.sort(_as_values(values, "interquartile_mean"))
    cut = int(0.25 * array.size)
    return float(array[cut : array.size - cut].mean())


def improvement_pct(
    values: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    paired: bool = False,
) -> tuple[float | None, tuple[float, float] | None]:
    """Improvement of ``mean(values)`` over ``mean(baseline)`` in percent, with its interval.

    The improvement is ``100 * (mean(values) - mean(baseline)) / |mean(baseline)|``. Its
    interval takes percentiles of the resampled ratio. Unpaired, the seeds of both
    agents are resampled independently (independent runs). Paired, ``values[i]`` and
    ``baseline[i]`` were measured on the same evaluation episodes (the same seed, so the
    same students or start states), and one draw of seed indices resamples both: the
    variation both agents share (an easy seed is easy for both) then cancels, as in a
    paired test.

    Args:
        values: ``[N]`` one number per seed of the agent.
        baseline: ``[M]`` one number per seed of the baseline (``M == N`` when paired).
        confidence: coverage of the interval.
        resamples: number of bootstrap resamples.
        seed: seed of the resampling generator.
        paired: resample the seeds of both together (see above).

    Returns:
        ``(improvement, (low, high))``; ``(None, None)`` where the baseline mean is zero
        (a percentage of nothing is undefined). Resamples whose baseline mean is zero are
        left out of the interval.
    """
    _check(confidence, resamples)
    agent = _as_values(values, "improvement_pct values")
    base = _as_values(baseline, "improvement_pct baseline")
    base_mean = float(base.mean())
    if base_mean == 0.0:
        return None, None
    point = 100.0 * (float(agent.mean()) - base_mean) / abs(base_mean)
    rng = np.random.default_rng(seed)
    if paired:
        if agent.size != base.size:
            raise ValueError(
                f"improvement_pct: paired values need one baseline per seed, got "
                f"{agent.size} and {base.size}"
            )
        index = rng.integers(0, agent.size, size=(resamples, agent.size))
        agent_means, base_means = agent[index].mean(axis=1), base[index].mean(axis=1)
    else:
        agent_means = _resample_means(agent, resamples, rng)
        base_means = _resample_means(base, resamples, rng)
    usable = base_means != 0.0
    ratios = 100.0 * (agent_means[usable] - base_means[usable]) / np.abs(base_means[usable])
    return point, _interval(ratios, confidence)
