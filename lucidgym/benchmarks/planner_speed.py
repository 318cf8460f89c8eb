"""Planning throughput: decisions per second of a planning agent on an env.

:func:`measure_planner_speed` times ``act`` on a stream of real observations. For
``mcts`` it also reports simulations per second and times the same search with one
``Dynamics.step`` per simulation (``leaf_batch=1``) in the same run, so the gain of
batched leaf evaluation is a ratio measured on the same machine at the same time.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import torch

from lucidgym.agents.registry import make_agent


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
    **config: Any,
) -> dict[str, Any]:
    """Time ``decisions`` decisions of the planning agent ``agent_name`` on ``env_id``.

    The learned model is freshly initialised (its weights do not change the cost of a
    decision); ``model="oracle"`` times planning with the env's true simulator.

    Args:
        agent_name: ``greedy``, ``dream``, ``mcts`` or ``beam``.
        env_id: a registered Gymnasium id.
        model: ``"oracle"`` or a world-model backend name.
        decisions: real steps timed.
        seed: seeds the env and the agent.
        threads: ``torch.set_num_threads`` while timing (``None``: leave as is).
        **config: the agent's options (``horizon``, ``num_simulations``, ...).

    Returns:
        ``agent``, ``env``, ``model``, ``decisions``, ``wall_s``, ``decisions_per_s``;
        for ``mcts`` also ``simulations_per_s``, ``unbatched_decisions_per_s`` (the same
        search with ``leaf_batch=1``) and ``batching_speedup`` (their ratio).

    Raises:
        ValueError: ``decisions < 1`` or an agent that is not a planner.
    """
    if decisions < 1:
        raise ValueError(f"decisions must be positive, got {decisions}")
    if agent_name not in ("greedy", "dream", "mcts", "beam"):
        raise ValueError(f"{agent_name!r} is not a planning agent (greedy, dream, mcts, beam)")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        env = gym.make(env_id)
        agent = make_agent(agent_name, env, model=model, seed=seed, **config)
        _time_decisions(agent, env, 2, seed)  # warm-up: first calls allocate
        wall = _time_decisions(agent, env, decisions, seed)
        result: dict[str, Any] = {
            "agent": agent_name,
            "env": env_id,
            "model": model,
            "decisions": decisions,
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
    finally:
        torch.set_num_threads(previous)
