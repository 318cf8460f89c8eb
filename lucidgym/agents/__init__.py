"""Agents and planners; planners see models only through :class:`lucidgym.types.Dynamics`.

``make_agent(name, env, **config)`` builds any agent by name; :func:`agent_names`
lists them. Every planner of :data:`~lucidgym.agents.planners.PLANNERS` is an agent.
"""

from lucidgym.agents.planners import (
    PLANNERS,
    BeamConfig,
    BeamPlanner,
    GreedyConfig,
    GreedyPlanner,
    MCTSConfig,
    MCTSPlanner,
    Planner,
    PlannerSpec,
    ShootingConfig,
    ShootingPlanner,
)
from lucidgym.agents.planning.dynamics import WorldModelDynamics, oracle_dynamics
from lucidgym.agents.protocol import (
    AGENTS,
    Agent,
    Learner,
    Transition,
    expert_policy,
    register_agent,
)
from lucidgym.agents.registry import agent_names, make_agent

__all__ = [
    "AGENTS",
    "PLANNERS",
    "Agent",
    "BeamConfig",
    "BeamPlanner",
    "GreedyConfig",
    "GreedyPlanner",
    "Learner",
    "MCTSConfig",
    "MCTSPlanner",
    "Planner",
    "PlannerSpec",
    "ShootingConfig",
    "ShootingPlanner",
    "Transition",
    "WorldModelDynamics",
    "agent_names",
    "expert_policy",
    "make_agent",
    "oracle_dynamics",
    "register_agent",
]
