"""Planners whose model learned from ``average`` students, tutoring students they never saw.

Every learned model trains on Tutoring-v0 with ``population="average"`` (``--budget``
real steps collected by the rules with 30% random actions, then one fit); every agent is
then evaluated on ``average``, ``novice`` and ``anxious`` students, the same students
for every agent of a seed. Prints the benchmark summary per population: mean return with
its 95% bootstrap interval over seeds and the improvement over the ``reactive`` rules
(paired over seeds). The runs go through the suite runner over ``--jobs`` processes.
Run: ``python scripts/tutoring_generalization.py [--seeds 3] [--jobs 2]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.benchmarks.results import summarize
from lucidgym.benchmarks.runner import run_suite
from lucidgym.benchmarks.specs import RunSpec
from lucidgym.benchmarks.suites import LEARNED_TUTORING_MODEL, Suite

POPULATIONS = ("average", "novice", "anxious")
"""The training population first, then the held-out ones."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    learning = {"learning": {"train_steps": 600, "refit_steps": 0, "warmup_fraction": 1.0}}
    agents = [
        ("reactive", "none", {}),
        ("dream", "oracle", {}),
        ("dream", LEARNED_TUTORING_MODEL, learning),
        ("mcts", LEARNED_TUTORING_MODEL, learning),
    ]
    runs = [
        RunSpec(
            "Tutoring-v0",
            agent,
            model,
            seed,
            args.episodes,
            budget=args.budget if model not in ("none", "oracle") else 0,
            env_kwargs={"population": "average"},
            eval_options={"population": population},
            agent_config=config,
        )  # fmt: skip
        for population in POPULATIONS
        for agent, model, config in agents
        for seed in range(args.seeds)
    ]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = run_suite(Suite("generalization", runs), folder, jobs=args.jobs)
    wall = time.perf_counter() - start
    print(
        f"trained on average, {args.seeds} seeds x {args.episodes} episodes, "
        f"learned models from {args.budget:,d} real steps ({wall:.0f} s)"
    )
    for row in summarize(results.runs):
        gain = row["improvement_vs_reactive_pct"]
        ci = row["improvement_ci95"]
        text = "" if gain is None else f"{gain:+6.1f}% [{ci[0]:+.1f}, {ci[1]:+.1f}]"
        low, high = row["ci95"]
        print(
            f"{row['env']:36s} {row['agent']:8s} {row['model']:9s} "
            f"{row['mean_return']:6.2f} [{low:.2f}, {high:.2f}]  {text}"
        )


if __name__ == "__main__":
    main()
