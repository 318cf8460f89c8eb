"""Environment and planner speed, each env as a ratio against CartPole measured in the same run.

Single envs are compared with ``CartPole-v1`` stepped the same way; native vector envs
with Gymnasium's ``CartPoleVectorEnv`` at the same number of copies. Actions are drawn
before the clock starts, so both sides time only ``step`` (and resets at episode ends).
Each side is warmed up (compiled dynamics are compiled, caches filled), then the two
are timed in turn ``repeats`` times, so that a change of machine load during the run
hits both alike, and the medians are compared.

Planners are timed by :func:`measure_planner_speed` on a stream of real observations.
For ``mcts`` it also reports simulations per second and times the same search with one
``Dynamics.step`` per simulation (``leaf_batch=1``) in the same run, so the gain of
batched leaf evaluation is a ratio measured on the same machine at the same time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from lucidgym.agents.planners import PLANNERS

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
    planners: tuple[str, ...] = tuple(PLANNERS)
    """Planners whose decisions per second are measured (default: every planner)."""
    planner_env: str = "Tutoring-v0"
    """Env the planners decide in."""
    planner_models: tuple[str, ...] = ("oracle", "ensemble")
    """Models the planners search over: the true simulator and a learned backend."""
    planner_fit_steps: int = 1000
    """Real steps a learned model is fitted on before its planners are timed (0: fresh
    weights). A fresh model's termination head fires at random, which cuts ``mcts``'s
    simulations short: it made an untrained ensemble search 10x faster than a trained one."""
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
        from lucidgym.agents.planning.config import SIMULATOR_MODELS

        for model in spec.planner_models:
            for name in spec.planners:
                fit = 0 if model in SIMULATOR_MODELS else spec.planner_fit_steps
                measured = measure_planner_speed(
                    name, spec.planner_env, model, spec.decisions, fit_steps=fit
                )
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


FIT_LEARNING = {"train_steps": 400, "refit_steps": 0, "chunks": 1, "warmup_fraction": 1.0}
"""How :func:`measure_planner_speed` fits a learned model: every real step from the
warm-up policy, then one fit of 400 gradient steps (the quick suite's schedule)."""


def _time_decisions(agent: Any, env: gym.Env[Any, Any], decisions: int, seed: int) -> float:
    """Seconds spent in ``agent.act`` over ``decisions`` real steps (env time excluded)."""
    obs, _ = env.reset(seed=seed)
    agent.reset(seed=seed)
    spent = 0.0
    for _ in range(decisions):
        start = time.perf_counter()
        action = agent.act(obs)
        spent += time.perf_counter() - start
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
            agent.reset()
    return spent


def measure_planner_speed(
    agent_name: str,
    env_id: str,
    model: str = "mlp",
    decisions: int = 50,
    *,
    seed: int = 0,
    threads: int | None = None,
    fit_steps: int = 0,
    **config: Any,
) -> dict[str, Any]:
    """Time ``decisions`` decisions of the planning agent ``agent_name`` on ``env_id``.

    A learned model is fitted on ``fit_steps`` real steps of the warm-up policy first
    (its weights matter where predicted terminations end simulations); ``model="oracle"``
    times planning with the env's true simulator.

    Args:
        agent_name: a planning agent (a key of :data:`~lucidgym.agents.planners.PLANNERS`).
        env_id: a registered Gymnasium id.
        model: ``"oracle"`` or a world-model backend name.
        decisions: real steps timed.
        seed: seeds the env and the agent.
        threads: ``torch.set_num_threads`` while timing (``None``: leave as is).
        fit_steps: real steps a learned model is fitted on before the timing (0: fresh
            weights; its fitting is never timed).
        **config: the agent's options (``horizon``, ``num_simulations``, ...).

    Returns:
        ``agent``, ``env``, ``model``, ``decisions``, ``fit_steps`` (real steps the model
        was fitted on), ``wall_s``, ``decisions_per_s``;
        for ``mcts`` also ``simulations_per_s``, ``unbatched_decisions_per_s`` (the same
        search with ``leaf_batch=1``) and ``batching_speedup`` (their ratio).

    Raises:
        ValueError: ``decisions < 1``, ``fit_steps < 0``, an agent that is not a planner,
            or ``fit_steps`` for a model that learns nothing.
    """
    if decisions < 1:
        raise ValueError(f"decisions must be positive, got {decisions}")
    from lucidgym.agents.planning.config import SIMULATOR_MODELS
    from lucidgym.agents.registry import make_agent
    from lucidgym.threads import torch_threads

    if fit_steps < 0:
        raise ValueError(f"fit_steps must be >= 0, got {fit_steps}")
    if fit_steps and model in SIMULATOR_MODELS:
        raise ValueError(f"fit_steps: model {model!r} learns nothing")
    if agent_name not in PLANNERS:
        raise ValueError(f"{agent_name!r} is not a planning agent ({', '.join(PLANNERS)})")
    with torch_threads(threads):
        env = gym.make(env_id)
        if fit_steps:
            config = {**config, "learning": {**FIT_LEARNING, **config.get("learning", {})}}
        agent = make_agent(agent_name, env, model=model, seed=seed, **config)
        if fit_steps:
            agent.learn(gym.make(env_id), fit_steps, seed=seed)  # type: ignore[attr-defined]
        _time_decisions(agent, env, 2, seed)  # warm-up: first calls allocate
        wall = _time_decisions(agent, env, decisions, seed)
        result: dict[str, Any] = {
            "agent": agent_name,
            "env": env_id,
            "model": model,
            "decisions": decisions,
            "fit_steps": int(getattr(agent, "trained_env_steps", 0)),
            "wall_s": wall,
            "decisions_per_s": decisions / wall,
        }
        if agent_name == "mcts":
            sims = agent.planner.config.num_simulations  # type: ignore[attr-defined]
            result["leaf_batch"] = agent.planner.config.leaf_batch  # type: ignore[attr-defined]
            result["simulations_per_s"] = decisions * sims / wall
            unbatched = make_agent(
                agent_name, env, model=model, seed=seed, **{**config, "leaf_batch": 1}
            )
            if model != "oracle":
                # The same weights, so both searches see the same model.
                unbatched.model.load_state_dict(agent.model.state_dict())  # type: ignore[attr-defined]
            _time_decisions(unbatched, env, 2, seed)
            wall_1 = _time_decisions(unbatched, env, decisions, seed)
            result["unbatched_decisions_per_s"] = decisions / wall_1
            result["unbatched_simulations_per_s"] = decisions * sims / wall_1
            result["batching_speedup"] = wall_1 / wall
        return result
