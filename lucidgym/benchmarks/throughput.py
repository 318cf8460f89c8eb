"""Environment and planner speed, each env as a ratio against CartPole measured in the same run.

Single envs are compared with ``CartPole-v1`` stepped the same way; native vector envs
with Gymnasium's ``CartPoleVectorEnv`` at the same number of copies. Actions are drawn
before the clock starts, so both sides time only ``step`` (and resets at episode ends).
"""

from __future__ import annotations

import time
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
    planners: tuple[str, ...] = ("greedy", "dream", "mcts", "beam")
    """Planners whose decisions per second are measured."""
    planner_env: str = "Tutoring-v0"
    """Env the planners decide in."""
    planner_model: str = "oracle"
    """Model the planners search over."""
    decisions: int = 50
    """Decisions timed per planner."""
    seed: int = 0
    """Seed of the resets and of the drawn actions."""


def _actions(space: gym.spaces.Space[Any], count: int, seed: int) -> list[Any]:
    space.seed(seed)
    return [space.sample() for _ in range(count)]


def single_env_speed(env_id: str, steps: int, seed: int = 0) -> float:
    """Env steps per second of one ``gym.make(env_id)`` under uniformly random actions."""
    env = gym.make(env_id)
    actions = _actions(env.action_space, steps, seed)
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return steps / elapsed


def vector_env_speed(env_id: str, num_envs: int, steps: int, seed: int = 0) -> float | None:
    """Env steps per second (``num_envs * steps / s``) of the native vector env, if any."""
    if gym.spec(env_id).vector_entry_point is None:
        return None
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    actions = _actions(envs.action_space, steps, seed)
    envs.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        envs.step(action)
    elapsed = time.perf_counter() - start
    envs.close()
    return num_envs * steps / elapsed


def check_throughput(spec: ThroughputSpec) -> None:
    """Raise ``ValueError`` before any timing when a part ``spec`` needs is missing."""
    import importlib.util

    if spec.planners and importlib.util.find_spec("lucidgym.agents.speed") is None:
        raise ValueError(
            "the throughput suite times planners with lucidgym.agents.speed, which is not "
            "available in this installation"
        )
    for env_id in spec.envs:
        gym.spec(env_id)


def run_throughput(spec: ThroughputSpec) -> list[dict[str, Any]]:
    """Rows of env-steps/s (with ratios to the reference) and planner decisions/s."""
    from lucidgym.envs.registration import env_ids

    rows: list[dict[str, Any]] = []
    reference_single = single_env_speed(REFERENCE_ENV, spec.single_steps, spec.seed)
    reference_vector = vector_env_speed(REFERENCE_ENV, spec.num_envs, spec.vector_steps, spec.seed)
    for env_id in spec.envs or tuple(env_ids()):
        speed = single_env_speed(env_id, spec.single_steps, spec.seed)
        rows.append(_row(env_id, "single", 1, speed, REFERENCE_ENV, reference_single))
        vector = vector_env_speed(env_id, spec.num_envs, spec.vector_steps, spec.seed)
        if vector is not None and reference_vector is not None:
            rows.append(
                _row(env_id, "vector", spec.num_envs, vector, "CartPoleVectorEnv", reference_vector)
            )
    if spec.planners:
        from lucidgym.agents.speed import measure_planner_speed

        for name in spec.planners:
            measured = measure_planner_speed(
                name, spec.planner_env, spec.planner_model, spec.decisions
            )
            rows.append(
                {
                    "kind": "planner",
                    "env": spec.planner_env,
                    "name": name,
                    "model": spec.planner_model,
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
