"""Agents and planners; planners see models only through :class:`lucidgym.types.Dynamics`.

``make_agent(name, env, **config)`` builds any agent by name; :func:`agent_names`
lists them.
"""

from lucidgym.agents.planners import (
    BeamConfig,
    BeamPlanner,
    GreedyConfig,
    GreedyPlanner,
    MCTSConfig,
    MCTSPlanner,
    ShootingConfig,
    ShootingPlanner,
)
from lucidgym.agents.planning.dynamics import WorldModelDynamics, oracle_dynamics
from lucidgym.agents.protocol import AGENTS, Agent, Learner, Transition, register_agent
from lucidgym.agents.registry import agent_names, make_agent

__all__ = [
    "AGENTS",
    "Agent",
    "BeamConfig",
    "BeamPlanner",
    "GreedyConfig",
    "GreedyPlanner",
    "Learner",
    "MCTSConfig",
    "MCTSPlanner",
    "ShootingConfig",
    "ShootingPlanner",
    "Transition",
    "WorldModelDynamics",
    "agent_names",
    "make_agent",
    "oracle_dynamics",
    "register_agent",
]
