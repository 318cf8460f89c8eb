"""The symbolic family's dynamics, shared by the single env, vector env and oracle."""

from __future__ import annotations

from typing import Any

import numpy as np

from lucidgym.envs.symbolic.parent import Parent
from lucidgym.envs.symbolic.tasks import BLANK, NUM_SYMBOLS, SymbolicState, Task

_ONE_HOT = np.concatenate(
    [np.eye(NUM_SYMBOLS, dtype=np.float32), np.zeros((1, NUM_SYMBOLS), dtype=np.float32)]
)
"""Row ``s`` is symbol ``s`` one-hot; row ``BLANK`` (the last) is all zeros."""


class SymbolicKernel:
    """:class:`~lucidgym.envs.kernel.ArrayKernel` of a task and a parent."""

    def __init__(self, task: Task, parent: Parent) -> None:
        if "goal" not in parent.reward_components:
            raise ValueError(
                f"parent {type(parent).__name__} must give a 'goal' reward component, "
                f"gives {parent.reward_components}"
            )
        self.task = task
        self.parent = parent

    @property
    def obs_dim(self) -> int:
        """Length of an observation: one-hot symbol plus the task's cues."""
        return NUM_SYMBOLS + self.task.num_cues

    def initial(self, rng: np.random.Generator, n: int) -> SymbolicState:
        """``n`` fresh episodes of the task."""
        return self.task.initial(rng, n)

    def transition(
        self, state: SymbolicState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[SymbolicState, np.ndarray, np.ndarray, dict[str, Any]]:
        """Let the parent answer ``actions [N]``; episodes never terminate."""
        next_state, rewards = self.parent.respond(self.task, state, actions, rng)
        graded = state.target != BLANK
        info = {
            "success": graded & (actions == state.target),
            "graded": graded,
            "target": state.target.copy(),
            "reward_vector": {k: np.asarray(v, dtype=np.float32) for k, v in rewards.items()},
        }
        terminated = np.zeros(actions.shape[0], dtype=bool)
        return next_state, rewards["goal"].astype(np.float32), terminated, info

    def observe(self, state: SymbolicState) -> np.ndarray:
        """``[N, 8 + C]`` float32 in [0, 1]: one-hot symbol (zeros for blank), then cues."""
        return np.concatenate([_ONE_HOT[state.symbol], state.cue], axis=1)
