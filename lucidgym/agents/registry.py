"""``make_agent(name, env, **config)``: every agent by name.

The agent modules register themselves with :func:`~lucidgym.agents.protocol.register_agent`
when imported, and this module imports them all. ``sb3:<ALGO>`` names (for example
``sb3:PPO``) go to the Stable-Baselines3 agent, which needs the ``sb3`` extra and is
imported only when such an agent is built; the algorithms of sb3-contrib (for example
``sb3:RecurrentPPO``, PPO with an LSTM policy) need the ``contrib`` extra.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium as gym

# Imported for their registrations (every agent of AGENTS comes from one of these).
import lucidgym.agents.baby
import lucidgym.agents.baselines
import lucidgym.agents.dyna
import lucidgym.agents.planning.agents  # noqa: F401
from lucidgym.agents.protocol import AGENTS, Agent

SB3_ALGOS = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
"""The SB3 algorithms ``sb3:<ALGO>`` accepts."""

CONTRIB_ALGOS = ("ARS", "CrossQ", "QRDQN", "RecurrentPPO", "TQC", "TRPO")
"""The sb3-contrib algorithms ``sb3:<ALGO>`` accepts where sb3-contrib is installed."""

SB3_HINT = 'pip install "lucidgym[sb3]"'
"""What to run where an agent needs Stable-Baselines3."""

CONTRIB_HINT = 'pip install "lucidgym[contrib]"'
"""What to run where an agent needs sb3-contrib."""


def sb3_available() -> bool:
    """Whether Stable-Baselines3 is installed (without importing it)."""
    return importlib.util.find_spec("stable_baselines3") is not None


def contrib_available() -> bool:
    """Whether sb3-contrib is installed (without importing it)."""
    return sb3_available() and importlib.util.find_spec("sb3_contrib") is not None


def agent_names() -> list[str]:
    """Every agent name ``make_agent`` accepts (``sb3:<ALGO>`` ones where SB3 is installed)."""
    names = sorted(AGENTS)
    if sb3_available():
        names += [f"sb3:{algo}" for algo in SB3_ALGOS]
    if contrib_available():
        names += [f"sb3:{algo}" for algo in CONTRIB_ALGOS]
    return names


def make_agent(name: str, env: gym.Env[Any, Any], **config: Any) -> Agent:
    """Build the agent ``name`` for ``env``.

    Args:
        name: a registered agent (see :func:`agent_names`) or ``sb3:<ALGO>``.
        env: the environment the agent will act in (its spaces size the agent).
        **config: the agent's options (its config dataclass fields).

    Raises:
        ValueError: an unknown name (listing the valid ones), unknown options, an env
            whose spaces the agent cannot handle, or an ``sb3:`` agent without SB3
            installed (naming the extra to install).
    """
    if not isinstance(name, str):
        raise ValueError(f"agent name must be a string, got {type(name).__name__}")
    if name.startswith("sb3:"):
        known = {algo.upper(): algo for algo in SB3_ALGOS + CONTRIB_ALGOS}
        algo = known.get(name[4:].upper(), "")
        if not algo:
            raise ValueError(
                f"agent {name!r}: unknown SB3 algorithm; valid: {list(SB3_ALGOS + CONTRIB_ALGOS)}"
            )
        if not sb3_available():
            raise ValueError(f"agent {name!r} needs Stable-Baselines3: {SB3_HINT}")
        if algo in CONTRIB_ALGOS and not contrib_available():
            raise ValueError(f"agent {name!r} needs sb3-contrib: {CONTRIB_HINT}")
        from lucidgym.agents.sb3.agent import make_sb3_agent

        return make_sb3_agent(algo, env, **config)
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; valid names: {agent_names()}")
    return AGENTS[name](env, **config)
