"""Steps per second of lucidgym envs against Gymnasium's CartPole, measured in one run.

Two comparisons per env, each reported as a ratio (env / CartPole) so that the figures
hold on a loaded or slow machine:

- the single env, ``gym.make(ID)`` vs ``gym.make("CartPole-v1")`` (both with their
  registered wrappers), one ``step`` per call;
- the native vector env at ``--num-envs`` copies vs Gymnasium's ``CartPoleVectorEnv``,
  env-steps per second (for MovingDot, frames included).

Actions are drawn before the clock starts; the single envs reset inside the timed loop
when an episode ends, as in experience collection. Each measurement is warmed up, then
env and reference are timed in turn ``--repeats`` times and the medians compared (see
:mod:`lucidgym.benchmarks.throughput`, which ``lucidgym bench --suite throughput`` runs
for every env). Run: ``python scripts/env_speed.py [--env ID ...]``.
"""

from __future__ import annotations

import argparse

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.benchmarks.throughput import (
    REFERENCE_ENV,
    compare,
    single_env_timer,
    vector_env_timer,
)

TARGET = 0.5
"""The ratio the envs of the suite aim for, single and vector."""


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env",
        nargs="+",
        default=["Tutoring-v1", "Tutoring-v0", "MovingDot-v0", "MovingDotDiscrete-v0"],
        help="env ids to time",
    )
    parser.add_argument("--single-steps", type=int, default=5000, help="steps per single run")
    parser.add_argument("--vector-steps", type=int, default=200, help="vector steps per run")
    parser.add_argument("--num-envs", type=int, default=1024, help="copies in the vector envs")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs; medians are shown")
    parser.add_argument("--seed", type=int, default=0, help="seed of envs and actions")
    args = parser.parse_args()

    reference_single = single_env_timer(REFERENCE_ENV, args.single_steps, args.seed)
    reference_vector = vector_env_timer(REFERENCE_ENV, args.num_envs, args.vector_steps, args.seed)
    assert reference_vector is not None
    print(f"{'env':<22} {'mode':<12} {'env-steps/s':>13} {'CartPole':>13} {'ratio':>7}")
    for env_id in args.env:
        single = single_env_timer(env_id, args.single_steps, args.seed)
        ours, theirs = compare(single, reference_single, args.repeats)
        print(f"{env_id:<22} {'single':<12} {ours:>13,.0f} {theirs:>13,.0f} {ours / theirs:>6.2f}x")
        vector = vector_env_timer(env_id, args.num_envs, args.vector_steps, args.seed)
        if vector is None:
            continue
        ours, theirs = compare(vector, reference_vector, args.repeats)
        mode = f"vector x{args.num_envs}"
        print(f"{env_id:<22} {mode:<12} {ours:>13,.0f} {theirs:>13,.0f} {ours / theirs:>6.2f}x")
    print(f"(median of {args.repeats} runs after a warm-up; target ratio >= {TARGET}x)")


if __name__ == "__main__":
    main()
