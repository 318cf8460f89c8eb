"""Environment and planner speed, each env as a ratio against CartPole measured in the same run.

Single envs are compared with ``CartPole-v1`` stepped the same way; native vector envs
with Gymnasium's ``CartPoleVectorEnv`` at the same number of copies. Actions are drawn
before the clock starts, so both sides time only ``step`` (and resets at episode ends).
Each side is warmed up (compiled dynamics are compiled, caches filled), then the two
are timed in turn ``repeats`` times, so that a change of machine load during the run
hits both alike, and the medians are compared.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

REFERENCE_ENV = "CartPole-v1"
"""The reference every env's speed is divided by."""


@dataclass(frozen=True)
class ThroughputSpec:
    """What the throughput suite measures."""

    envs: tuple[str, ...] = ()
    """Env ids to time (empty: every registered lucidgym env)."""
    single_steps: int = 5000
    """Steps timed on each single env."""
    num_envs: int = 1024
    """Copies of each native vector env."""
    vector_steps: int = 200
    """Batched steps timed on each vector env."""
    repeats: int = 7
    """Timed runs of each env and of its reference, in turn; the medians are compared."""
    planners: tuple[str, ...] = ("greedy", "dream", "mcts", "beam")
    """Planners whose decisions per second are measured."""
    planner_env: str = "Tutoring-v0"
    """Env the planners decide in."""
    planner_models: tuple[str, ...] = ("oracle", "ensemble")
    """Models the planners search over: the true simulator and a learned backend (its
    weights are fresh: they do not change the cost of a decision)."""
    decisions: int = 50
    """Decisions timed per planner."""
    seed: int = 0
    """Seed of the resets and of the drawn actions."""


def _actions(space: gym.spaces.Space[Any], count: int, seed: int) -> list[Any]:
    space.seed(seed)
    return [space.sample() for _ in range(count)]


Timer = Callable[[], float]
"""Runs a prepared env for a fixed number of steps and returns env-steps per second."""


def single_env_timer(env_id: str, steps: int, seed: int = 0) -> Timer:
    """A :data:`Timer` of one ``gym.make(env_id)`` under uniformly random actions.

    Each run resets with ``seed`` and steps through the same actions, resetting when an
    episode ends, as experience collection does.
    """
    env = gym.make(env_id)
    actions = _actions(env.action_space, steps, seed)

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


def vector_env_timer(env_id: str, num_envs: int, steps: int, seed: int = 0) -> Timer | None:
    """A :data:`Timer` of the native vector env (``num_envs * steps / s``), if there is one."""
    if gym.spec(env_id).vector_entry_point is None:
        return None
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    actions = _actions(envs.action_space, steps, seed)

    def run() -> float:
        envs.reset(seed=seed)
        step = envs.step
        start = time.perf_counter()
        for action in actions:
            step(action)
        return num_envs * steps / (time.perf_counter() - start)

    return run


def compare(timer: Timer, reference: Timer, repeats: int = 7) -> tuple[float, float]:
    """Median steps/s of ``timer`` and of ``reference``, warmed up and timed in turn."""
    timer(), reference()
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(timer())
        theirs.append(reference())
    return statistics.median(ours), statistics.median(theirs)


def check_throughput(spec: ThroughputSpec) -> None:
    """Raise ``ValueError`` before any timing when a part ``spec`` needs is missing."""
    for env_id in spec.envs:
        gym.spec(env_id)


def run_throughput(spec: ThroughputSpec) -> list[dict[str, Any]]:
    """Rows of env-steps/s (with ratios to the reference) and planner decisions/s."""
    from lucidgym.envs.registration import env_ids

    rows: list[dict[str, Any]] = []
    reference_single = single_env_timer(REFERENCE_ENV, spec.single_steps, spec.seed)
    reference_vector = vector_env_timer(REFERENCE_ENV, spec.num_envs, spec.vector_steps, spec.seed)
    for env_id in spec.envs or tuple(env_ids()):
        single = single_env_timer(env_id, spec.single_steps, spec.seed)
        speed, reference = compare(single, reference_single, spec.repeats)
        rows.append(_row(env_id, "single", 1, speed, REFERENCE_ENV, reference))
        vector = vector_env_timer(env_id, spec.num_envs, spec.vector_steps, spec.seed)
        if vector is not None and reference_vector is not None:
            speed, reference = compare(vector, reference_vector, spec.repeats)
            rows.append(
                _row(env_id, "vector", spec.num_envs, speed, "CartPoleVectorEnv", reference)
            )
    if spec.planners:
        from lucidgym.benchmarks.planner_speed import measure_planner_speed

        for model in spec.planner_models:
            for name in spec.planners:
                measured = measure_planner_speed(name, spec.planner_env, model, spec.decisions)
                rows.append(
                    {
                        "kind": "planner",
                        "env": spec.planner_env,
                        "name": name,
                        "model": model,
                        **{k: v for k, v in measured.items() if k not in {"env", "model"}},
                    }
                )
    return rows


def _row(
    env_id: str, mode: str, copies: int, speed: float, reference: str, reference_speed: float
) -> dict[str, Any]:
    return {
        "kind": "env",
        "env": env_id,
        "name": mode,
        "num_envs": copies,
        "steps_per_s": float(speed),
        "reference": reference,
        "reference_steps_per_s": float(reference_speed),
        "ratio": float(speed / reference_speed),
    }
