"""Operations on batched states.

A batched state is a ``NamedTuple`` (or dataclass-free tuple) whose fields are arrays
(NumPy or torch) sharing a leading batch dimension ``B``. The environments' array
dynamics, their oracle :class:`~lucidgym.types.Dynamics` and the planners all move
such states around; these helpers index every field at once.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

S = TypeVar("S", bound=tuple[Any, ...])


def batch_take(state: S, index: Any) -> S:
    """Rows ``index`` of every field: ``[B, ...] -> [K, ...]`` (repeats allowed)."""
    return type(state)(*(field[index] for field in state))


def batch_put(state: S, index: Any, values: S) -> S:
    """A copy of ``state`` whose rows ``index`` are replaced by the rows of ``values``."""
    fields = []
    for field, new in zip(state, values, strict=True):
        field = field.copy() if isinstance(field, np.ndarray) else field.clone()
        field[index] = new
        fields.append(field)
    return type(state)(*fields)


def batch_size(state: Any) -> int:
    """The leading dimension ``B`` shared by every field (of nested containers too)."""
    while isinstance(state, tuple):
        state = state[0]
    return int(state.shape[0])


def batch_copy(state: S) -> S:
    """A deep copy of every field (NumPy arrays or tensors)."""
    return type(state)(*(f.copy() if isinstance(f, np.ndarray) else f.clone() for f in state))
