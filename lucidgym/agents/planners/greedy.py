"""One-step lookahead: the action whose imagined next reward is highest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lucidgym.agents.planners.common import ActionSet, PlannerBase, ValueFn, imagine_returns
from lucidgym.types import Dynamics


@dataclass
class GreedyConfig:
    """Options of :class:`GreedyPlanner`."""

    samples: int = 1
    """Imagined transitions averaged per action (more for stochastic models)."""
    gamma: float = 0.99
    """Discount applied to the value bootstrap, when a value function is given."""
    num_box_candidates: int = 16
    """Candidate actions drawn for a ``Box`` action space."""
    seed: int = 0
    """Seed of the ``Box`` candidates."""


class GreedyPlanner(PlannerBase):
    """Pick ``argmax_a r(s, a) [+ gamma V(s')]``, averaged over ``samples`` draws.

    Ties go to the lowest action index, so the choice is repeatable.
    """

    def __init__(self, config: GreedyConfig | None = None, value_fn: ValueFn | None = None) -> None:
        self.config = config or GreedyConfig()
        if self.config.samples < 1:
            raise ValueError(f"GreedyConfig.samples must be positive, got {self.config.samples}")
        self.value_fn = value_fn
        self._actions: ActionSet | None = None

    def plan(self, dynamics: Dynamics[Any], root: Any) -> Any:
        """The best one-step action from ``root`` (a batch of one state)."""
        actions = self._candidates(dynamics)
        k = self.config.samples
        index = np.repeat(np.arange(actions.n), k)
        sequences = actions.actions(index)[:, None]
        returns = imagine_returns(dynamics, root, sequences, self.config.gamma, self.value_fn)
        scores = returns.reshape(actions.n, k).mean(axis=1)
        best = int(np.argmax(scores))
        return actions.actions(np.asarray(best))

    def _candidates(self, dynamics: Dynamics[Any]) -> ActionSet:
        if self._actions is None:
            self._actions = ActionSet(
                dynamics.action_space, self.config.num_box_candidates, self.config.seed
            )
        return self._actions
