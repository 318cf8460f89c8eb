"""Parents: what an output leads to.

The parent is the symbolic world's source of consequences. :class:`DeterministicParent`
applies the task's rules; the :class:`Parent` protocol is public so that another
source of consequences (a learned critic, a language model) can be plugged in.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from lucidgym.envs.symbolic.tasks import BLANK, SymbolicState, Task


@runtime_checkable
class Parent(Protocol):
    """Gives the consequences of a batch of outputs: next states and reward vectors."""

    reward_components: tuple[str, ...]
    """Names of the reward vector's components; must include ``"goal"``."""

    def respond(
        self,
        task: Task,
        state: SymbolicState,
        actions: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[SymbolicState, dict[str, np.ndarray]]:
        """React to ``actions [N]`` given in ``state`` (a batch of ``N``).

        Returns:
            ``(next_state, rewards)`` with one ``[N]`` float32 array per name in
            :attr:`reward_components`. The environment's scalar reward is ``goal``.
        """
        ...


class DeterministicParent:
    """Rule-based parent: reward 1 for the correct output on a graded step, else 0.

    The world moves on by the task's own rules whatever the output, so an episode's
    course does not depend on the agent's mistakes (there is nothing to exploit).
    """

    reward_components: tuple[str, ...] = ("goal",)

    def respond(
        self,
        task: Task,
        state: SymbolicState,
        actions: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[SymbolicState, dict[str, np.ndarray]]:
        """Grade ``actions`` against ``state.target`` and advance the task."""
        correct = (actions == state.target) & (state.target != BLANK)
        return task.advance(state, rng), {"goal": correct.astype(np.float32)}
