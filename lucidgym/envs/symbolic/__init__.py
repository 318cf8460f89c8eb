"""The symbolic family: discrete symbols and a parent that answers (seed: WMIL)."""

from lucidgym.envs.symbolic.env import SymbolicEnv, SymbolicVectorEnv
from lucidgym.envs.symbolic.parent import DeterministicParent, Parent
from lucidgym.envs.symbolic.tasks import (
    BLANK,
    NUM_SYMBOLS,
    TASKS,
    Conditional,
    DelayedRecall,
    PatternEcho,
    SequenceNext,
    SymbolicState,
    Task,
    make_task,
)

__all__ = [
    "BLANK",
    "NUM_SYMBOLS",
    "TASKS",
    "Conditional",
    "DelayedRecall",
    "DeterministicParent",
    "Parent",
    "PatternEcho",
    "SequenceNext",
    "SymbolicEnv",
    "SymbolicState",
    "SymbolicVectorEnv",
    "Task",
    "make_task",
]
