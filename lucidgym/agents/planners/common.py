"""What every planner shares: the actions it branches over and imagined returns.

A planner sees a :class:`~lucidgym.types.Dynamics` and nothing else. Optional helpers
a planner may be given (a value function to bootstrap imagined returns, a policy prior
for tree search) are plain callables over a batch of the dynamics' states.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch

from lucidgym.batched import batch_size
from lucidgym.types import (
    BatchedPolicy,
    CommonRandomDynamics,
    Dynamics,
    ObservableDynamics,
    RolloutDynamics,
)

ValueFn = Callable[[Any], np.ndarray]
"""``states`` (batch of ``B``) -> ``[B]`` float: the value of continuing from each state."""

PriorFn = Callable[[Any], np.ndarray]
"""``states`` (batch of ``B``) -> ``[B, N]`` action probabilities over an :class:`ActionSet`."""

StatePolicy = Callable[[Any], np.ndarray]
"""``states`` (batch of ``B``) -> ``[B]`` (or ``[B, A]``) actions."""


class PlannerBase:
    """Defaults of the :class:`~lucidgym.agents.planners.Planner` protocol.

    A planner that keeps nothing between decisions and never reads surprise inherits
    these; one that does overrides them.
    """

    config: Any

    @property
    def watches_surprise(self) -> bool:
        """Whether the planner reads :meth:`record_surprise` (agents skip the work if not)."""
        return False

    def reset(self) -> None:
        """Nothing is carried between decisions."""

    def record_surprise(self, surprise: float) -> None:
        """How far the last real step was from what the model expected (unused here)."""


class ActionSet:
    """The finite set of ``n`` actions a discrete search branches over.

    A ``Discrete`` space branches over all its actions. A ``Box`` space branches over
    ``num_box_candidates`` fixed actions: the centre of the box and uniform draws from
    a generator seeded with ``seed`` (so a search is repeatable).
    """

    def __init__(
        self, space: gym.spaces.Space[Any], num_box_candidates: int = 16, seed: int = 0
    ) -> None:
        if isinstance(space, gym.spaces.Discrete):
            self.n = int(space.n)
            self._start = int(space.start)
            self._table: np.ndarray | None = None
        elif isinstance(space, gym.spaces.Box):
            if num_box_candidates < 1:
                raise ValueError(f"num_box_candidates must be positive, got {num_box_candidates}")
            low, high = space.low.astype(np.float32), space.high.astype(np.float32)
            if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                raise ValueError(f"action space {space} must be bounded to draw candidates")
            rng = np.random.default_rng(seed)
            draws = rng.uniform(low, high, size=(num_box_candidates - 1, *space.shape))
            centre = ((low + high) / 2)[None]
            self._table = np.concatenate([centre, draws.astype(np.float32)], axis=0)
            self.n = num_box_candidates
            self._start = 0
        else:
            raise ValueError(f"planners need a Discrete or Box action space, got {space}")

    def actions(self, index: np.ndarray) -> np.ndarray:
        """Candidate indices ``[...]`` -> actions ``[...]`` (int64) or ``[..., A]`` (float32)."""
        index = np.asarray(index, dtype=np.int64)
        if self._table is None:
            return index + self._start
        return self._table[index]


def rollout_policy(
    dynamics: Dynamics[Any],
    base_policy: BatchedPolicy | None,
    candidates: ActionSet,
    rng: np.random.Generator,
) -> StatePolicy:
    """The policy rollouts follow: ``base_policy`` on imagined observations, else uniform.

    Raises:
        ValueError: a base policy is given but the dynamics cannot show observations.
    """
    if base_policy is None:
        return lambda states: candidates.actions(
            rng.integers(0, candidates.n, size=batch_size(states))
        )
    if not isinstance(dynamics, ObservableDynamics):
        raise ValueError(
            f"{type(dynamics).__name__} has no observe(states): a base policy cannot act in it"
        )
    return lambda states: np.asarray(base_policy(dynamics.observe(states)))


def imagine_returns(
    dynamics: Dynamics[Any],
    root: Any,
    actions: np.ndarray,
    gamma: float,
    value_fn: ValueFn | None = None,
    policy: StatePolicy | None = None,
    horizon: int | None = None,
    groups: int = 1,
) -> np.ndarray:
    """Discounted imagined return of each action sequence from a root.

    All ``N`` sequences are dreamed together: one :meth:`RolloutDynamics.rollout` call
    where the dynamics offers it, else one loop of ``H`` batched ``step`` calls. Rewards
    after a predicted ``done`` are masked; ``value_fn`` bootstraps the state after the
    last action of sequences still alive.

    Args:
        dynamics: the model.
        root: a batch of one state, or of ``R`` states drawn from a belief (row ``i`` of
            each of the ``groups`` blocks starts from state ``i mod R``).
        actions: ``[N, P]`` (discrete) or ``[N, P, A]`` (continuous) action sequences.
        gamma: discount per step.
        value_fn: optional value of the final states.
        policy: continues every sequence after its ``P`` actions up to ``horizon``.
        horizon: total imagined steps ``H >= P`` (default ``P``); needs ``policy`` if larger.
        groups: the sequences form this many equal blocks to be compared on common
            random numbers (row ``i`` of every block sees the same draws), where the
            dynamics offer them (:class:`~lucidgym.types.CommonRandomDynamics`).

    Returns:
        ``[N]`` float64 returns.
    """
    n, prefix = actions.shape[0], actions.shape[1]
    horizon = prefix if horizon is None else horizon
    if horizon > prefix and policy is None:
        raise ValueError(
            f"imagine_returns: {horizon - prefix} steps past the sequences need a policy"
        )
    # A root of R > 1 states is a sample of a belief: row i of every block of
    # sequences starts from state i mod R, so that blocks compare on the same draws.
    block = max(n // max(groups, 1), 1)
    starts = (np.arange(n) % block) % max(batch_size(root), 1)
    states = dynamics.take(root, starts.astype(np.int64))
    discounts = gamma ** np.arange(horizon)
    common = groups > 1 and isinstance(dynamics, CommonRandomDynamics)
    if isinstance(dynamics, RolloutDynamics) and horizon == prefix and not common:
        rewards, dones, states = dynamics.rollout(states, actions)
        dones = np.asarray(dones, dtype=bool)
        # A step's reward counts if no earlier step ended the episode.
        alive_before = np.concatenate(
            [np.ones((n, 1), dtype=bool), ~np.logical_or.accumulate(dones, axis=1)[:, :-1]],
            axis=1,
        )
        returns = (np.asarray(rewards, dtype=np.float64) * alive_before * discounts).sum(axis=1)
        alive = ~dones.any(axis=1)
    else:
        returns = np.zeros(n, dtype=np.float64)
        alive = np.ones(n, dtype=bool)
        for t in range(horizon):
            step_actions = actions[:, t] if t < prefix else policy(states)  # type: ignore[misc]
            if common:
                paired = cast(CommonRandomDynamics, dynamics)
                states, rewards, dones = paired.step_common(states, step_actions, groups)
            else:
                states, rewards, dones = dynamics.step(states, step_actions)
            returns += discounts[t] * alive * np.asarray(rewards, dtype=np.float64)
            alive &= ~np.asarray(dones, dtype=bool)
    if value_fn is not None:
        values = np.asarray(value_fn(states), dtype=np.float64)
        returns += gamma**horizon * alive * continuation(dynamics, states) * values
    return returns


def continuation(dynamics: Any, states: Any) -> np.ndarray:
    """``[B]`` the probability that each state's episode is still running.

    Ones for dynamics whose ``done`` is certain (an oracle, ``done="threshold"``); a
    value bootstrapped at a leaf is weighted by it, as the rewards before it were.
    """
    method = getattr(dynamics, "continuation", None)
    if method is None:
        return np.ones(batch_size(states))
    return np.asarray(method(states), dtype=np.float64)


def concat_states(states: list[Any]) -> Any:
    """Stack batches of states along ``B``: ``[B_1], [B_2], ... -> [sum B_i]``.

    States are arrays or ``NamedTuple`` containers of arrays (NumPy or torch, see
    :mod:`lucidgym.batched`), the layout every :class:`~lucidgym.types.Dynamics` uses.
    """
    first = states[0]
    if isinstance(first, tuple):
        fields = [concat_states([s[i] for s in states]) for i in range(len(first))]
        return tuple(fields) if type(first) is tuple else type(first)(*fields)
    if isinstance(first, np.ndarray):
        return np.concatenate(states, axis=0)
    if isinstance(first, torch.Tensor):
        return torch.cat(states, dim=0)
    raise TypeError(f"cannot stack states of type {type(first).__name__}")
