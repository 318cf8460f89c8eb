"""The protocols and aliases the sub-packages share.

The :class:`Dynamics` protocol is the seam between planners and models: a planner
searches over ``Dynamics.step`` and never learns whether the states it moves are an
environment's true hidden states (an "oracle") or a learned model's latent states.
Dynamics that can also show what an agent would observe in a state
(:class:`ObservableDynamics`) let a policy of observations act inside the search;
dynamics that dream ``H`` steps in one call (:class:`RolloutDynamics`) save the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import gymnasium as gym
import numpy as np

StateT = TypeVar("StateT")

BatchedPolicy = Callable[[np.ndarray], np.ndarray]
"""``obs [B, *O]`` -> actions ``[B]`` (or ``[B, A]``): a policy of observations over a batch.

An env's expert rules (``env.unwrapped.expert_policy()``) and a planner's base policy
have this type."""


@runtime_checkable
class Dynamics(Protocol[StateT]):
    """A batched transition function planners search over.

    States are batches of ``B`` (see :mod:`lucidgym.batched`); the root a planner starts
    from is a batch of one, fanned out with :meth:`take`.
    """

    action_space: gym.spaces.Space[Any]
    """The action space of one environment (actions are batched along a leading ``B``)."""

    def step(self, states: StateT, actions: np.ndarray) -> tuple[StateT, np.ndarray, np.ndarray]:
        """Advance every state by one action.

        Args:
            states: a batch of ``B`` states.
            actions: ``[B]`` integers (discrete) or ``[B, A]`` floats (continuous).

        Returns:
            ``(next_states, rewards [B] float32, dones [B] bool)``. A state that is done
            stays a valid state to step; planners mask rewards after ``done`` themselves.
        """
        ...

    def take(self, states: StateT, index: np.ndarray) -> StateT:
        """Rows ``index`` (``[K]`` ints, repeats allowed) of a batch: ``B -> K``."""
        ...


@runtime_checkable
class ObservableDynamics(Protocol):
    """What :class:`Dynamics` add to show the observation an agent would see in each state."""

    def observe(self, states: Any) -> np.ndarray:
        """``states`` (batch of ``B``) -> ``[B, *O]`` observations."""
        ...


@runtime_checkable
class RolloutDynamics(Protocol):
    """What :class:`Dynamics` add to dream ``H`` steps of ``B`` action sequences in one call."""

    def rollout(self, states: Any, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        """``actions [B, H]`` or ``[B, H, A]`` -> ``(rewards [B, H], dones [B, H], states)``."""
        ...


@runtime_checkable
class CommonRandomDynamics(Protocol):
    """What :class:`Dynamics` add to step blocks of rows on common random numbers."""

    def step_common(self, states: Any, actions: np.ndarray, groups: int) -> tuple[Any, Any, Any]:
        """``step``, row ``i`` of each of ``groups`` equal blocks drawing the same numbers."""
        ...
