"""Return of ``dyna`` against real env steps on Tutoring-v0, beside SB3 PPO and the rules.

Each (agent, budget, seed) is one run of the benchmark runner
(:func:`lucidgym.benchmarks.runner.run_suite`, over ``--jobs`` processes): the agent
trains for exactly ``budget`` real env steps, then plays ``--episodes`` evaluation
episodes on the seed's fresh students, the same students for every agent of that seed.
Prints, per agent and budget, the mean return over seeds with its 95% bootstrap
interval, and the target: ``dyna`` reaching PPO's return at 200,000 steps within a tenth
of the steps. Writes the curve to ``--out`` (PNG). Run:
``python scripts/tutoring_sample_efficiency.py [--seeds 3] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.benchmarks.runner import run_suite
from lucidgym.benchmarks.specs import RunSpec
from lucidgym.benchmarks.stats import bootstrap_ci
from lucidgym.benchmarks.suites import Suite

DYNA_BUDGETS = (2_500, 5_000, 10_000, 20_000)
"""Env-step budgets at which ``dyna`` is measured."""
PPO_BUDGETS = (20_000, 200_000)
"""Env-step budgets at which SB3 PPO is measured (200k is the reference)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="tutoring_sample_efficiency.png")
    args = parser.parse_args()
    plan = [("reactive", 0)] + [("dyna", b) for b in DYNA_BUDGETS]
    plan += [("sb3:PPO", b) for b in PPO_BUDGETS]
    runs = [
        RunSpec("Tutoring-v0", agent, "none", seed, args.episodes, budget)
        for agent, budget in plan
        for seed in range(args.seeds)
    ]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = run_suite(Suite("sample-efficiency", runs), folder, jobs=args.jobs)
    rows: list[tuple[str, int, np.ndarray]] = []
    for agent, budget in plan:
        # Results keep the suite's order; a record's env_steps can pass its budget (PPO's
        # whole rollouts), so runs are matched to their specs, not by env_steps.
        records = [r for spec, r in zip(runs, results.runs, strict=True)
                   if spec.agent == agent and spec.budget == budget]  # fmt: skip
        values = np.array([np.mean(r.episode_returns) for r in records])
        rows.append((agent, budget, values))
        low, high = bootstrap_ci(values)
        print(
            f"{agent:9s} {budget:>8,d} steps  mean {values.mean():6.2f} [{low:.2f}, {high:.2f}]"
            f"  per seed {np.round(values, 2).tolist()}"
        )
    reference = next(v.mean() for a, b, v in rows if a == "sb3:PPO" and b == PPO_BUDGETS[-1])
    tenth = PPO_BUDGETS[-1] // 10
    dyna_at_tenth = next(v.mean() for a, b, v in rows if a == "dyna" and b == tenth)
    verdict = "met" if dyna_at_tenth >= reference else "not met"
    print(
        f"target: dyna at {tenth:,d} steps {dyna_at_tenth:.2f} vs PPO at "
        f"{PPO_BUDGETS[-1]:,d} steps {reference:.2f} ({100 * dyna_at_tenth / reference:.0f}%): "
        f"{verdict} ({time.perf_counter() - start:.0f} s over {args.jobs} processes)"
    )
    _plot(rows, args.out)
    print(f"wrote {args.out}")


def _plot(rows: list[tuple[str, int, np.ndarray]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for agent, style in (("dyna", "o-"), ("sb3:PPO", "s--")):
        points = [(b, v) for a, b, v in rows if a == agent]
        budgets = [b for b, _ in points]
        means = [v.mean() for _, v in points]
        intervals = np.array([bootstrap_ci(v) for _, v in points])
        ax.plot(budgets, means, style, label=agent)
        ax.fill_between(budgets, intervals[:, 0], intervals[:, 1], alpha=0.2)
    reactive = next(v.mean() for a, _, v in rows if a == "reactive")
    ax.axhline(reactive, color="grey", linestyle=":", label="reactive (expert rules)")
    ax.set_xscale("log")
    ax.set_xlabel("real env steps")
    ax.set_ylabel("mean return (95% CI over seeds)")
    ax.set_title("Tutoring-v0: sample efficiency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
