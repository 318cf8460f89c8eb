"""Steps per second of ``Tutoring-v0`` against Gymnasium's CartPole, measured in one run.

Two comparisons, each reported as a ratio (Tutoring / CartPole) so that the figures
hold on a loaded or slow machine:

- the single env, ``gym.make("Tutoring-v0")`` vs ``gym.make("CartPole-v1")`` (both with
  their registered wrappers), one ``step`` per call;
- the native vector env at ``--num-envs`` copies vs
  ``gymnasium.envs.classic_control.cartpole.CartPoleVectorEnv``, env-steps per second.

Actions are drawn before the clock starts (plain ints for the single envs, as a policy
loop passes them); the single envs reset inside the timed loop when an episode ends,
as in experience collection. Each measurement is warmed up and repeated, and the
table shows the median. Run: ``python benchmarks/tutoring_speed.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

import lucidgym  # noqa: F401  (registers Tutoring-v0)


def _single_env_rate(env_id: str, steps: int, seed: int) -> Callable[[], float]:
    """A callable that runs ``steps`` steps of one env and returns steps per second."""
    env = gym.make(env_id)
    env.reset(seed=seed)
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(seed).integers(n_actions, size=steps).tolist()

    def run() -> float:
        env.reset(seed=seed)
        step, reset = env.step, env.reset
        start = time.perf_counter()
        for action in actions:
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                reset()
        return steps / (time.perf_counter() - start)

    return run


def _vector_env_rate(env: gym.vector.VectorEnv, steps: int, seed: int) -> Callable[[], float]:
    """A callable that runs ``steps`` vector steps and returns env-steps per second."""
    n = env.num_envs
    n_actions = int(env.single_action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(seed).integers(n_actions, size=(steps, n))

    def run() -> float:
        env.reset(seed=seed)
        step = env.step
        start = time.perf_counter()
        for batch in actions:
            step(batch)
        return steps * n / (time.perf_counter() - start)

    return run


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single-steps", type=int, default=5000, help="steps per repeat")
    parser.add_argument("--vector-steps", type=int, default=200, help="vector steps per repeat")
    parser.add_argument("--num-envs", type=int, default=1024, help="copies in the vector envs")
    parser.add_argument("--repeats", type=int, default=5, help="repeats; the median is shown")
    parser.add_argument("--seed", type=int, default=0, help="seed of envs and actions")
    args = parser.parse_args()

    rows = []
    # Interleave the two sides of each comparison so that a change of machine load
    # during the run hits both alike.
    single = {
        "Tutoring-v0": _single_env_rate("Tutoring-v0", args.single_steps, args.seed),
        "CartPole-v1": _single_env_rate("CartPole-v1", args.single_steps, args.seed),
    }
    for run in single.values():
        run()
    single_rates: dict[str, list[float]] = {name: [] for name in single}
    for _ in range(args.repeats):
        for name, run in single.items():
            single_rates[name].append(run())
    tut, cart = (statistics.median(single_rates[name]) for name in single)
    rows.append(("single env", tut, cart))

    vec_tut = gym.make_vec(
        "Tutoring-v0", num_envs=args.num_envs, vectorization_mode="vector_entry_point"
    )
    vector = {
        "tutoring": _vector_env_rate(vec_tut, args.vector_steps, args.seed),
        "cartpole": _vector_env_rate(
            CartPoleVectorEnv(num_envs=args.num_envs), args.vector_steps, args.seed
        ),
    }
    for run in vector.values():
        run()
    vector_rates: dict[str, list[float]] = {name: [] for name in vector}
    for _ in range(args.repeats):
        for name, run in vector.items():
            vector_rates[name].append(run())
    tut, cart = (statistics.median(vector_rates[name]) for name in vector)
    rows.append((f"vector env x{args.num_envs}", tut, cart))

    print(f"{'comparison':<20} {'Tutoring-v0':>14} {'CartPole':>14} {'ratio':>7}")
    print(f"{'':<20} {'env-steps/s':>14} {'env-steps/s':>14} {'':>7}")
    for name, tut, cart in rows:
        print(f"{name:<20} {tut:>14,.0f} {cart:>14,.0f} {tut / cart:>6.2f}x")
    print(f"(median of {args.repeats} repeats after a warm-up; target ratio >= 0.5x)")


if __name__ == "__main__":
    main()
