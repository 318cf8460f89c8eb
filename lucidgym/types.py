"""Types shared by the sub-packages.

The :class:`Dynamics` protocol is the seam between planners and models: a planner
searches over ``Dynamics.step`` and never learns whether the states it moves are an
environment's true hidden states (an "oracle") or a learned model's latent states.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

import gymnasium as gym
import numpy as np

StateT = TypeVar("StateT")


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
