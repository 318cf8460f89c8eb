"""Planners: search a :class:`~lucidgym.types.Dynamics` from a root state for an action.

Every planner is a class with a config dataclass that implements :class:`Planner`;
planners never see a concrete model. :data:`PLANNERS` is the one table of them: each
row becomes a planning agent of the same name (``make_agent("mcts", env)``), and the
benchmarks, the throughput suite and the tests take their lists from it. Adding a
planner is its own module plus one row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from lucidgym.agents.planners import beam, greedy, mcts, shooting
from lucidgym.agents.planners.beam import BeamConfig, BeamPlanner
from lucidgym.agents.planners.common import (
    ActionSet,
    PlannerBase,
    PriorFn,
    ValueFn,
    concat_states,
    imagine_returns,
)
from lucidgym.agents.planners.greedy import GreedyConfig, GreedyPlanner
from lucidgym.agents.planners.mcts import MCTSConfig, MCTSPlanner
from lucidgym.agents.planners.shooting import ShootingConfig, ShootingPlanner
from lucidgym.types import BatchedPolicy, Dynamics


@runtime_checkable
class Planner(Protocol):
    """What a planning agent needs of its planner."""

    config: Any
    """The planner's config dataclass."""

    @property
    def watches_surprise(self) -> bool:
        """Whether :meth:`record_surprise` changes later plans (agents skip the work if not)."""
        ...

    def reset(self) -> None:
        """A new episode starts: forget any plan in progress."""
        ...

    def record_surprise(self, surprise: float) -> None:
        """How far the last real step was from what the model expected."""
        ...

    def plan(self, dynamics: Dynamics[Any], root: Any) -> np.ndarray:
        """The action to take from ``root`` (a batch of one state).

        Returns:
            A 0-d integer array (discrete actions) or an ``[A]`` float32 array (``Box``).
        """
        ...


ExpertDefaults = Callable[[Mapping[str, Any], bool], dict[str, Any]]
"""``(options given, learned model?) -> defaults`` of a planner over an env's expert rules."""


RuleFreeDefaults = Callable[[Mapping[str, Any], gym.spaces.Space[Any], bool], dict[str, Any]]
"""``(options given, action space, learned model?) -> defaults`` of a planner over an env
without expert rules."""


def _no_defaults(given: Mapping[str, Any], learned: bool) -> dict[str, Any]:
    return {}


def _no_rule_free_defaults(
    given: Mapping[str, Any], action_space: gym.spaces.Space[Any], learned: bool
) -> dict[str, Any]:
    return {}


def _no_spread(config: Mapping[str, Any]) -> bool:
    return False


@dataclass(frozen=True)
class PlannerSpec:
    """One row of :data:`PLANNERS`."""

    planner: Callable[..., Planner]
    """The class, called as ``planner(config)`` (plus ``base_policy=`` where it follows one)."""
    config: type[Any]
    """Its config dataclass."""
    summary: str
    """One line for listings."""
    follows_base_policy: bool = False
    """Whether its rollouts follow a base policy (the env's expert rules, given as
    ``base_policy=``); planners that do not search every action themselves."""
    expert_defaults: ExpertDefaults = _no_defaults
    """Defaults that apply where the env has expert rules (the options given win)."""
    rule_free_defaults: RuleFreeDefaults = _no_rule_free_defaults
    """Defaults that apply where the env has none (the options given win)."""
    reads_dream_spread: Callable[[Mapping[str, Any]], bool] = _no_spread
    """Whether, with these options, the planner reads the spread of repeated dreams (it
    then needs a learned model that dreams stochastically)."""

    def build(self, config: Any, base_policy: BatchedPolicy | None) -> Planner:
        """A planner with ``config``, following ``base_policy`` where it follows one."""
        if self.follows_base_policy:
            return self.planner(config, base_policy=base_policy)
        return self.planner(config)


PLANNERS: dict[str, PlannerSpec] = {
    "greedy": PlannerSpec(GreedyPlanner, GreedyConfig, "one-step lookahead through the model"),
    "dream": PlannerSpec(
        ShootingPlanner,
        ShootingConfig,
        "dream candidate sequences for a horizon (random shooting, CEM or rules), follow the best",
        follows_base_policy=True,
        expert_defaults=shooting.expert_defaults,
        rule_free_defaults=shooting.rule_free_defaults,
        reads_dream_spread=shooting.reads_dream_spread,
    ),
    "mcts": PlannerSpec(
        MCTSPlanner,
        MCTSConfig,
        "PUCT tree search over the model, leaves evaluated in batches",
        follows_base_policy=True,
        expert_defaults=mcts.expert_defaults,
    ),
    "beam": PlannerSpec(
        BeamPlanner, BeamConfig, "beam search over action sequences by imagined return"
    ),
}
"""Every planner by agent name: the one list of planners."""

__all__ = [
    "PLANNERS",
    "ActionSet",
    "BeamConfig",
    "BeamPlanner",
    "ExpertDefaults",
    "GreedyConfig",
    "GreedyPlanner",
    "MCTSConfig",
    "MCTSPlanner",
    "Planner",
    "PlannerBase",
    "RuleFreeDefaults",
    "PlannerSpec",
    "PriorFn",
    "ShootingConfig",
    "ShootingPlanner",
    "ValueFn",
    "beam",
    "concat_states",
    "greedy",
    "imagine_returns",
    "mcts",
    "shooting",
]
