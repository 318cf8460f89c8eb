"""Training time of SB3 PPO on one env against native vector copies, measured in one run.

Both sides collect the same 2,048-step rollouts between updates (``n_steps`` is 2,048
divided by the copies), so they make the same updates per real step and differ only in
how the steps are collected: one ``step`` call per env step, or one call per
``--copies`` steps of a native vector env. The two are timed in turn ``--repeats``
times with one torch thread, and the medians compared. Run:
``python scripts/sb3_vector_speed.py [--env Tutoring-v1] [--steps 20480] [--copies 8]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import torch

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.agents import make_agent

ROLLOUT = 2048
"""Steps between PPO updates on either side (SB3's default ``n_steps`` for one env)."""


def train_seconds(env_id: str, copies: int, steps: int, seed: int) -> float:
    """Wall seconds of ``learn`` for PPO over ``copies`` envs (1: the env itself)."""
    env = gym.make(env_id)
    agent = make_agent("sb3:PPO", env, num_envs=copies, n_steps=ROLLOUT // copies, seed=seed)
    start = time.perf_counter()
    agent.learn(env, steps, seed=seed)
    return time.perf_counter() - start


def main() -> None:
    """Measure and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="Tutoring-v1")
    parser.add_argument("--steps", type=int, default=20_480)
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.copies < 2 or ROLLOUT % args.copies:
        parser.error(f"--copies must be at least 2 and divide {ROLLOUT}, got {args.copies}")
    torch.set_num_threads(1)
    times: dict[int, list[float]] = {1: [], args.copies: []}
    for repeat in range(args.repeats):
        for copies in times:
            times[copies].append(train_seconds(args.env, copies, args.steps, repeat))
            print(f"repeat {repeat}: {copies} env(s) {times[copies][-1]:.1f} s", flush=True)
    one, many = statistics.median(times[1]), statistics.median(times[args.copies])
    print(
        f"{args.env}, {args.steps:,} steps: 1 env {one:.2f} s, {args.copies} copies "
        f"{many:.2f} s: {one / many:.2f}x faster"
    )


if __name__ == "__main__":
    main()
