"""``make_agent(name, env, **config)``: every agent by name.

Agent modules register themselves with :func:`~lucidgym.agents.protocol.register_agent`
when imported; :func:`make_agent` imports them all first. ``sb3:<ALGO>`` names (for
example ``sb3:PPO``) go to the Stable-Baselines3 agent.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from lucidgym.agents.protocol import AGENTS, Agent

AGENT_MODULES = (
    "lucidgym.agents.baselines",
    "lucidgym.agents.planning.agents",
    "lucidgym.agents.baby",
    "lucidgym.agents.dyna",
    "lucidgym.agents.sb3.agent",
)
"""Modules whose import registers agents; one that is not installed is skipped."""

SB3_MODULE = "lucidgym.agents.sb3.agent"
SB3_ALGOS = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
"""The SB3 algorithms ``sb3:<ALGO>`` accepts."""


def _load_agent_modules() -> None:
    for module in AGENT_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # Only the agent module itself may be missing; a missing dependency inside
            # an existing module is a real error and is raised.
            if err.name != module:
                raise


def _sb3_available() -> bool:
    _load_agent_modules()
    try:
        importlib.import_module(SB3_MODULE)
    except ModuleNotFoundError as err:
        if err.name != SB3_MODULE:
            raise
        return False
    return True


def agent_names() -> list[str]:
    """Every agent name ``make_agent`` accepts (``sb3:<ALGO>`` ones included when available)."""
    _load_agent_modules()
    names = sorted(AGENTS)
    if _sb3_available():
        names += [f"sb3:{algo}" for algo in SB3_ALGOS]
    return names


def make_agent(name: str, env: gym.Env[Any, Any], **config: Any) -> Agent:
    """Build the agent ``name`` for ``env``.

    Args:
        name: a registered agent (see :func:`agent_names`) or ``sb3:<ALGO>``.
        env: the environment the agent will act in (its spaces size the agent).
        **config: the agent's options (its config dataclass fields).

    Raises:
        ValueError: an unknown name (listing the valid ones), unknown options, or an
            env whose spaces the agent cannot handle.
    """
    if not isinstance(name, str):
        raise ValueError(f"agent name must be a string, got {type(name).__name__}")
    _load_agent_modules()
    if name.startswith("sb3:"):
        algo = name[4:]
        if not _sb3_available():
            raise ValueError(f"agent {name!r}: the sb3 agent module is not available")
        module = importlib.import_module(SB3_MODULE)
        if algo.upper() not in SB3_ALGOS:
            raise ValueError(f"agent {name!r}: unknown SB3 algorithm; valid: {list(SB3_ALGOS)}")
        agent: Agent = module.make_sb3_agent(algo.upper(), env, **config)
        return agent
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; valid names: {agent_names()}")
    return AGENTS[name](env, **config)
