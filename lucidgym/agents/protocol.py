"""The agent protocol and the agent registry.

An agent acts in one environment: ``make_agent(name, env, **config)`` builds it for
that env's spaces (and, for planners with ``model="oracle"``, that env's true state).
Agents that learn also implement :class:`Learner`: the benchmark gives each the same
budget of real environment steps through :meth:`Learner.learn` before it is evaluated.
While they learn, they may report progress to a :class:`ScalarLogger` (TensorBoard).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from lucidgym.types import BatchedPolicy


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
    """Something that acts in an environment.

    An agent may also offer ``settings() -> dict``: its full configuration as JSON-ready
    values (its config dataclass, its planner's and its model's), which benchmarks record
    with every run. lucidgym's agents all do.
    """

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
class ScalarLogger(Protocol):
    """Where a learner reports progress while it learns (TensorBoard, or a list in a test).

    Tags are namespaced as CleanRL's: ``charts/episode_return``, ``charts/sps``,
    ``loss/<name>``, ``eval/return``. :class:`lucidgym.tensorboard.TensorBoardLogger` is
    the one lucidgym writes; a logger that also has a ``log_dir`` lets an SB3 agent's own
    logger write its ``rollout/*`` and ``train/*`` there.
    """

    def log(self, scalars: Mapping[str, float], step: int) -> None:
        """Record ``scalars`` (by tag) at ``step``, the real env steps taken so far."""
        ...


@runtime_checkable
class Learner(Agent, Protocol):
    """An agent that trains on real experience before (and while) it is evaluated.

    A learner may also take a ``logger`` keyword (a :class:`ScalarLogger`) and report to
    it as episodes end and as it updates (``baby``, ``dyna`` and ``sb3:<ALGO>`` do, the
    episodes through :func:`log_episodes`); ``learn(env, steps, seed=...)`` logs nothing.
    """

    trained_env_steps: int
    """Real env steps the last :meth:`learn` took (0 before any): what benchmarks record.

    A learner whose steps come in blocks (whole rollouts, steps of several env copies)
    may take more than the ``total_steps`` it was given; this is the true count."""

    def learn(
        self, env: gym.Env[Any, Any], total_steps: int, *, seed: int | None = None
    ) -> dict[str, list[float]]:
        """Train for ``total_steps`` real env steps; returns curves by metric name.

        Curves include ``"env_steps"`` and ``"episode_return"`` (one entry per finished
        training episode) so that sample-efficiency curves can be drawn. Sets
        :attr:`trained_env_steps` to the real steps taken.
        """
        ...

    def save(self, path: str | Path) -> None:
        """Write ``model.safetensors`` and ``config.json`` into the folder ``path``."""
        ...


def log_episodes(
    logger: ScalarLogger | None, curves: Mapping[str, list[float]], logged: int, start: float
) -> int:
    """Report the episodes of ``curves`` past the first ``logged`` to ``logger``.

    Each goes as ``charts/episode_return`` (with ``charts/success_rate`` where the env
    reports success, and ``charts/sps`` since ``start``, a ``time.perf_counter()``) at
    its ``env_steps``.

    Returns:
        The episodes in ``curves``: the ``logged`` of the next call.
    """
    steps = curves["env_steps"]
    if logger is None or len(steps) == logged:
        return len(steps)
    sps = steps[-1] / max(time.perf_counter() - start, 1e-9)
    rates = curves.get("success_rate", [])
    for i in range(logged, len(steps)):
        scalars = {"charts/episode_return": curves["episode_return"][i], "charts/sps": sps}
        if i < len(rates) and math.isfinite(rates[i]):
            scalars["charts/success_rate"] = rates[i]
        logger.log(scalars, int(steps[i]))
    return len(steps)


AgentFactory = Callable[..., Agent]

AGENTS: dict[str, AgentFactory] = {}
"""Agent factories by name; ``sb3:<ALGO>`` names are handled by :func:`make_agent`."""


def register_agent(name: str) -> Callable[[AgentFactory], AgentFactory]:
    """Class decorator adding a factory ``(env, **config) -> Agent`` to :data:`AGENTS`."""

    def decorator(factory: AgentFactory) -> AgentFactory:
        AGENTS[name] = factory
        return factory

    return decorator


def settings_of(agent: Any) -> dict[str, Any]:
    """``agent.settings()`` where the agent offers it, else ``{}``."""
    settings = getattr(agent, "settings", None)
    return dict(settings()) if callable(settings) else {}


def env_name(env: gym.Env[Any, Any]) -> str:
    """The env's id where it was made by ``gym.make``, else its class name (for messages)."""
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__


def expert_policy(env: gym.Env[Any, Any]) -> BatchedPolicy | None:
    """The env's expert rules, from its ``expert_policy()`` hook, or ``None`` where it has none.

    The hook is found on ``env.unwrapped``, so wrappers and envs built without
    ``gym.make`` alike offer it; agents never look at the env's id.
    """
    hook = getattr(env.unwrapped, "expert_policy", None)
    return hook() if callable(hook) else None


def to_env_action(space: gym.spaces.Space[Any], action: Any) -> Any:
    """An action as ``space`` takes it: a Python ``int`` (``Discrete``) or a float32 array."""
    if isinstance(space, gym.spaces.Discrete):
        return int(np.asarray(action))
    return np.asarray(action, dtype=np.float32).reshape(space.shape)


def act_one(policy: BatchedPolicy, space: gym.spaces.Space[Any], obs: np.ndarray) -> Any:
    """The action of a batched policy for one observation, as ``space`` takes it."""
    return to_env_action(space, np.asarray(policy(np.asarray(obs)[None]))[0])
