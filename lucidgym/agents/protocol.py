"""The agent protocol and the agent registry.

An agent acts in one environment: ``make_agent(name, env, **config)`` builds it for
that env's spaces (and, for planners with ``model="oracle"``, that env's true state).
Agents that learn also implement :class:`Learner`: the benchmark gives each the same
budget of real environment steps through :meth:`Learner.learn` before it is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np


class Transition(NamedTuple):
    """One real step, as the agent saw it."""

    obs: np.ndarray
    action: Any
    reward: float
    next_obs: np.ndarray
    terminated: bool
    truncated: bool
    info: dict[str, Any]


@runtime_checkable
class Agent(Protocol):
    """Something that acts in an environment."""

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode (clears per-episode memory; ``seed`` fixes the agent's draws)."""
        ...

    def act(self, obs: np.ndarray) -> Any:
        """The action for ``obs`` (an element of the env's action space)."""
        ...

    def observe(self, transition: Transition) -> None:
        """See what the last action led to; online learners update here."""
        ...


@runtime_checkable
class Learner(Agent, Protocol):
    """An agent that trains on real experience before (and while) it is evaluated."""

    def learn(
        self, env: gym.Env[Any, Any], total_steps: int, *, seed: int | None = None
    ) -> dict[str, list[float]]:
        """Train for ``total_steps`` real env steps; returns curves by metric name.

        Curves include ``"env_steps"`` and ``"episode_return"`` (one entry per finished
        training episode) so that sample-efficiency curves can be drawn. A learner whose
        steps come in blocks (whole rollouts, steps of several env copies) may pass
        ``total_steps``; it then sets ``trained_env_steps`` to the real count, which
        benchmarks record.
        """
        ...

    def save(self, path: str | Path) -> None:
        """Write ``model.safetensors`` and ``config.json`` into the folder ``path``."""
        ...


AgentFactory = Callable[..., Agent]

AGENTS: dict[str, AgentFactory] = {}
"""Agent factories by name; ``sb3:<ALGO>`` names are handled by :func:`make_agent`."""


def register_agent(name: str) -> Callable[[AgentFactory], AgentFactory]:
    """Class decorator adding a factory ``(env, **config) -> Agent`` to :data:`AGENTS`."""

    def decorator(factory: AgentFactory) -> AgentFactory:
        AGENTS[name] = factory
        return factory

    return decorator
