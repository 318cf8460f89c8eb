"""Beam search over action sequences, ranked by imagined return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lucidgym.agents.planners.common import ActionSet, PlannerBase, ValueFn, continuation
from lucidgym.types import Dynamics


@dataclass
class BeamConfig:
    """Options of :class:`BeamPlanner`."""

    width: int = 16
    """Sequences kept after each depth."""
    depth: int = 6
    """Length of the sequences searched."""
    samples: int = 1
    """Imagined transitions averaged per expansion (more for stochastic models)."""
    gamma: float = 0.99
    """Discount of imagined rewards."""
    num_box_candidates: int = 16
    """Candidate actions drawn for a ``Box`` action space."""
    seed: int = 0
    """Seed of the ``Box`` candidates."""


class BeamPlanner(PlannerBase):
    """Expand every kept sequence by every action, keep the ``width`` best, repeat.

    Each depth is one batched ``step`` call over ``width x N x samples`` states. With
    ``samples > 1`` a sequence is ranked by its mean reward and continues from the
    first sampled state. Ranking adds ``gamma^d V(s)`` where a value function is given;
    the first action of the best sequence at the last depth is returned.
    """

    def __init__(self, config: BeamConfig | None = None, value_fn: ValueFn | None = None) -> None:
        self.config = config = config or BeamConfig()
        for name in ("width", "depth", "samples"):
            if getattr(config, name) < 1:
                raise ValueError(f"BeamConfig.{name} must be positive, got {getattr(config, name)}")
        self.value_fn = value_fn
        self.last_plan: np.ndarray | None = None
        """Candidate indices of the best sequence found at the last decision: ``[depth]``."""
        self._actions: ActionSet | None = None

    def plan(self, dynamics: Dynamics[Any], root: Any) -> Any:
        """The first action of the best sequence from ``root`` (a batch of one state)."""
        cfg = self.config
        if self._actions is None:
            self._actions = ActionSet(dynamics.action_space, cfg.num_box_candidates, cfg.seed)
        n, k = self._actions.n, cfg.samples
        states = root
        returns = np.zeros(1)
        alive = np.ones(1, dtype=bool)
        sequences = np.zeros((1, 0), dtype=np.int64)
        for d in range(cfg.depth):
            beams = len(returns)
            # Rows ordered (beam, action, sample).
            parent = np.repeat(np.arange(beams), n * k)
            action = np.tile(np.repeat(np.arange(n), k), beams)
            expanded = dynamics.take(states, parent)
            expanded, rewards, dones = dynamics.step(expanded, self._actions.actions(action))
            r = np.asarray(rewards, dtype=np.float64).reshape(beams, n, k).mean(axis=2)
            ended = np.asarray(dones, dtype=bool).reshape(beams, n, k)[:, :, 0]
            child_returns = returns[:, None] + cfg.gamma**d * alive[:, None] * r
            child_alive = alive[:, None] & ~ended
            score = child_returns
            if self.value_fn is not None:
                first = np.arange(beams * n) * k
                leaves = dynamics.take(expanded, first)
                values = np.asarray(self.value_fn(leaves), dtype=np.float64)
                values = values * continuation(dynamics, leaves)
                score = score + cfg.gamma ** (d + 1) * child_alive * values.reshape(beams, n)
            flat = score.reshape(-1)
            keep = np.argsort(-flat, kind="stable")[: cfg.width]
            b, a = np.divmod(keep, n)
            sequences = np.concatenate([sequences[b], a[:, None]], axis=1)
            returns = child_returns.reshape(-1)[keep]
            alive = child_alive.reshape(-1)[keep]
            states = dynamics.take(expanded, keep * k)
        self.last_plan = sequences[0]
        return self._actions.actions(np.asarray(sequences[0, 0]))
