"""Success of the default ``baby`` agent against env steps, over several seeds.

Trains a fresh default :class:`~lucidgym.agents.baby.BabyAgent` per seed and budget and
evaluates it greedily with ``agent.evaluate(env, --episodes, seed=1000 + seed)``:

- PatternEcho-v0 at 500, 1,000 and 1,500 env steps (the target: a mean success of at
  least 0.99 at 1,500 steps, the WMIL study's pace);
- SequenceNext-v0 and DelayedRecall-v0 at ``--steps`` env steps, with the world-model
  head (``world_model_coef`` at its default) and without it (``world_model_coef=0``).

Env steps are real transitions summed over the agent's ``num_envs`` copies. Prints a
table of per-seed success rates, their mean and minimum, and the wall time. Run:
``python scripts/baby_patternecho.py [--seeds 5] [--steps 5000]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.agents.baby import BabyAgent, BabyConfig

PATTERN_ECHO_BUDGETS = (500, 1000, 1500)
"""Env-step budgets at which PatternEcho-v0 is measured."""


def success(env_id: str, steps: int, seed: int, episodes: int, **config: Any) -> float:
    """Greedy success rate of a ``baby`` trained ``steps`` env steps with ``seed``."""
    env = gym.make(env_id)
    torch.manual_seed(seed)
    agent = BabyAgent(env, **config)
    agent.learn(env, steps, seed=seed)
    return agent.evaluate(env, episodes, seed=1000 + seed)["success_rate"]


def main() -> None:
    """Train, evaluate and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per row")
    parser.add_argument("--steps", type=int, default=5000, help="budget of the memory tasks")
    parser.add_argument("--episodes", type=int, default=32, help="evaluation episodes")
    args = parser.parse_args()
    torch.set_num_threads(1)

    default_coef = BabyConfig().world_model_coef
    rows: list[tuple[str, int, dict[str, Any]]] = [
        ("PatternEcho-v0", steps, {}) for steps in PATTERN_ECHO_BUDGETS
    ]
    for env_id in ("SequenceNext-v0", "DelayedRecall-v0"):
        rows.append((env_id, args.steps, {"world_model_coef": default_coef}))
        rows.append((env_id, args.steps, {"world_model_coef": 0.0}))

    seeds = range(args.seeds)
    print(f"{'env':<18} {'steps':>6} {'wm coef':>8} {'mean':>6} {'min':>6}  per seed")
    start = time.perf_counter()
    for env_id, steps, config in rows:
        rates = [success(env_id, steps, s, args.episodes, **config) for s in seeds]
        coef = config.get("world_model_coef", default_coef)
        per_seed = " ".join(f"{r:.3f}" for r in rates)
        print(
            f"{env_id:<18} {steps:>6} {coef:>8.2f} {np.mean(rates):>6.3f} "
            f"{np.min(rates):>6.3f}  {per_seed}",
            flush=True,
        )
    print(f"wall time {time.perf_counter() - start:.0f} s (torch threads: 1)")


if __name__ == "__main__":
    main()
