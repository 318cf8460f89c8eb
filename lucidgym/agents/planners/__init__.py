"""Planners: search a :class:`~lucidgym.types.Dynamics` from a root state for an action.

Every planner is a class with a config dataclass and ``plan(dynamics, root) -> action``
(``root`` a batch of one state). Planners never see a concrete model.
"""

from lucidgym.agents.planners.beam import BeamConfig, BeamPlanner
from lucidgym.agents.planners.common import (
    ActionSet,
    PriorFn,
    RolloutDynamics,
    ValueFn,
    concat_states,
    imagine_returns,
)
from lucidgym.agents.planners.greedy import GreedyConfig, GreedyPlanner
from lucidgym.agents.planners.mcts import MCTSConfig, MCTSPlanner
from lucidgym.agents.planners.shooting import ShootingConfig, ShootingPlanner

__all__ = [
    "ActionSet",
    "BeamConfig",
    "BeamPlanner",
    "GreedyConfig",
    "GreedyPlanner",
    "MCTSConfig",
    "MCTSPlanner",
    "PriorFn",
    "RolloutDynamics",
    "ShootingConfig",
    "ShootingPlanner",
    "ValueFn",
    "concat_states",
    "imagine_returns",
]
