"""Tune the thresholds of the ``Tutoring-v1`` rules by coordinate search on training students.

Each candidate set of thresholds tutors the same ``--students`` training students
(``mixed`` population, vector-env seed ``--train-seed``; evaluation students of the
benchmarks use seeds below 10,000, so the two never overlap). The search sweeps one
threshold at a time over a grid around its current value, keeps the best mean return,
and repeats for ``--passes`` passes. It prints the best thresholds and, on
``--test-students`` held-out students, the return of the starting and the tuned rules
with a paired 95% interval of the difference.

Run: ``python scripts/tune_tutoring_v1_rules.py [--students 400] [--passes 3]``. The
result is what ``lucidgym.envs.tutoring.v1.policies.TUNED`` holds.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace

import numpy as np

from lucidgym.envs.tutoring.parameters import SESSION_STEPS
from lucidgym.envs.tutoring.v1 import Rules, TutoringV1VectorEnv, rule_policy

GRIDS: dict[str, tuple[float, ...]] = {
    "start": tuple(k / SESSION_STEPS for k in (0.5, 1.5, 2.5, 3.5, 5.5)),  # 0.5: off
    "frustrated": (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6, 1.01),
    "inattentive": (0.0, 0.2, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75),
    "spacing": (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 18.0, 24.0, 32.0, 81.0),
    "learned": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7),
    "fading": (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01),
    "ready": (0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9),
    "bored": (0.2, 0.3, 0.4, 0.5, 0.7, 1.01),
    "novice": (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45),
    "developing": (0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7),
}
"""The values each threshold may take; ``1.01`` (a detector level) and ``81`` (steps) switch
a rule off, as ``0`` does for ``inattentive``, ``novice`` and ``developing``."""


def returns(rules: Rules, students: int, seed: int) -> np.ndarray:
    """The return of each of ``students`` sessions tutored by ``rules``."""
    env = TutoringV1VectorEnv(students)
    policy = rule_policy(rules)
    obs, _ = env.reset(seed=seed)
    total = np.zeros(students)
    alive = np.ones(students, dtype=bool)
    for _ in range(SESSION_STEPS):
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += np.where(alive, reward, 0.0)
        alive &= ~(terminated | truncated)
        if not alive.any():
            break
    env.close()
    return total


def paired_interval(diff: np.ndarray, draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    """A 95% bootstrap interval of the mean of ``diff``."""
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, (draws, diff.size))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def search(start: Rules, students: int, seed: int, passes: int) -> Rules:
    """Coordinate search from ``start``; prints each improvement."""
    best, best_score = start, returns(start, students, seed).mean()
    print(f"start: {best_score:.3f}")
    for p in range(passes):
        improved = False
        for name, grid in GRIDS.items():
            for value in grid:
                candidate = replace(best, **{name: value})
                score = returns(candidate, students, seed).mean()
                if score > best_score + 1e-9:
                    best, best_score, improved = candidate, score, True
                    print(f"pass {p + 1}: {name} = {value:g} -> {score:.3f}", flush=True)
        if not improved:
            break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=400)
    parser.add_argument("--train-seed", type=int, default=10_000)
    parser.add_argument("--test-students", type=int, default=1000)
    parser.add_argument("--test-seed", type=int, default=20_000)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    began = time.perf_counter()
    start = Rules()
    tuned = search(start, args.students, args.train_seed, args.passes)
    print("tuned:", {k: round(v, 4) for k, v in asdict(tuned).items()})
    before = returns(start, args.test_students, args.test_seed)
    after = returns(tuned, args.test_students, args.test_seed)
    low, high = paired_interval(after - before)
    print(
        f"held-out {args.test_students} students: start {before.mean():.2f}, tuned "
        f"{after.mean():.2f}, difference {after.mean() - before.mean():+.2f} "
        f"[{low:+.2f}, {high:+.2f}] ({time.perf_counter() - began:.0f} s)"
    )


if __name__ == "__main__":
    main()
