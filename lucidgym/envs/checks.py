"""The checks a family runs on what it is given: actions, batches of actions, snapshots.

Each raises a ``ValueError`` that names the environment, so that a user sees which env
refused what.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

import gymnasium as gym
import numpy as np

from lucidgym.batched import batch_copy

S = TypeVar("S", bound=tuple[Any, ...])


def _as_array(value: Any, what: str, dtype: Any = None) -> np.ndarray:
    """``value`` as an array of real numbers (of ``dtype``, if given).

    Raises:
        ValueError: naming ``what`` for values NumPy cannot read as one array, and for
            complex numbers, text or dates, which a cast would silently mangle.
    """
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufO":
            raise ValueError(f"{arr.dtype} values are not real numbers")
        return arr if dtype is None else arr.astype(dtype, copy=False)
    except (TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"{what} cannot be read as numbers ({err})") from None


def check_action(space: gym.spaces.Space[Any], action: Any, env_name: str) -> np.ndarray:
    """Return ``action`` as an array, or raise a ``ValueError`` naming the env and action.

    Discrete actions come back as an int64 scalar array, Box actions as float32 arrays.
    NaN or infinite actions are refused rather than clipped or rounded: they point to a
    bug upstream that clipping would hide.
    """
    if isinstance(space, gym.spaces.Discrete):
        arr = np.asarray(action)
        if arr.shape == () and np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr):
            raise ValueError(f"{env_name}: action {action!r} is NaN or infinite, not in {space}")
        if (
            arr.shape != ()
            or not np.issubdtype(arr.dtype, np.integer)
            and not (np.issubdtype(arr.dtype, np.floating) and float(arr).is_integer())
        ):
            raise ValueError(f"{env_name}: action {action!r} is not a single integer in {space}")
        # A Python int compares without overflow, however far outside the space it lies.
        value, start = int(arr), int(space.start)
        if not start <= value < start + int(space.n):
            raise ValueError(f"{env_name}: action {action!r} is outside {space}")
        return np.asarray(value, dtype=np.int64)
    if isinstance(space, gym.spaces.Box):
        arr = _as_array(action, f"{env_name}: action {action!r}", np.float32)
        if arr.shape != space.shape:
            raise ValueError(
                f"{env_name}: action {action!r} has shape {arr.shape}, expected {space.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{env_name}: action {action!r} contains NaN or infinity")
        if not space.contains(arr):
            raise ValueError(f"{env_name}: action {action!r} is outside {space}")
        return arr
    raise TypeError(f"{env_name}: unsupported action space {space}")


def check_batched_actions(
    single_space: gym.spaces.Space[Any], actions: Any, n: int, env_name: str
) -> np.ndarray:
    """Validate a batch of ``n`` actions against one env's ``single_space``."""
    arr = _as_array(actions, f"{env_name}: actions")
    if isinstance(single_space, gym.spaces.Discrete):
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{env_name}: actions must be {n} integers, got shape {arr.shape} "
                f"of dtype {arr.dtype}"
            )
        lo, hi = int(single_space.start), int(single_space.start + single_space.n)
        if arr.min() < lo or arr.max() >= hi:  # two reductions, no temporary arrays
            bad = (arr < lo) | (arr >= hi)
            raise ValueError(
                f"{env_name}: actions {arr[bad][:5].tolist()} are outside {single_space}"
            )
        return arr.astype(np.int64, copy=False)
    if isinstance(single_space, gym.spaces.Box):
        arr = _as_array(arr, f"{env_name}: actions", np.float32)
        if arr.shape != (n, *single_space.shape):
            raise ValueError(
                f"{env_name}: actions have shape {arr.shape}, expected {(n, *single_space.shape)}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{env_name}: actions contain NaN or infinity")
        if np.any(arr < single_space.low) or np.any(arr > single_space.high):
            raise ValueError(f"{env_name}: actions are outside {single_space}")
        return arr
    raise TypeError(f"{env_name}: unsupported action space {single_space}")


def check_render_mode(render_mode: str | None, modes: Sequence[str], owner: str = "") -> None:
    """Refuse a ``render_mode`` that is not one of ``modes`` (``None`` always passes).

    Raises:
        ValueError: naming the mode, the valid ones and ``owner`` where given.
    """
    if render_mode is not None and render_mode not in modes:
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}render_mode {render_mode!r} is not one of {list(modes)}")


def check_state(reference: S, state: Any, env_name: str) -> S:
    """Validate a snapshot given to ``set_state`` against one of the right layout.

    Raises:
        ValueError: naming the first field whose type, shape or dtype differs.
    """
    if type(state) is not type(reference):
        raise ValueError(
            f"{env_name}.set_state: expected a {type(reference).__name__} from "
            f"get_state(), got {type(state).__name__}"
        )
    for name, ref, value in zip(reference._fields, reference, state, strict=True):  # type: ignore[attr-defined]
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{env_name}.set_state: field {name!r} is not an array")
        if value.shape != ref.shape or value.dtype != ref.dtype:
            raise ValueError(
                f"{env_name}.set_state: field {name!r} has shape {value.shape} and "
                f"dtype {value.dtype}, expected {ref.shape} and {ref.dtype}"
            )
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise ValueError(f"{env_name}.set_state: field {name!r} holds NaN or infinity")
    return batch_copy(state)


class FieldRange(NamedTuple):
    """The values a snapshot field may hold, in all of it or in some of its columns."""

    field: str
    """The field of the state ``NamedTuple``."""
    low: float
    """Smallest valid value."""
    high: float
    """Largest valid value (``inf`` for counts without a bound)."""
    columns: tuple[int, ...] | None = None
    """Columns (last axis) the range is for; ``None``: every value of the field."""
    names: tuple[str, ...] = ()
    """What each of ``columns`` holds, for the error message."""
    whole: bool = False
    """The values are counts or indices: whole numbers, even in a float field."""


def check_ranges(state: tuple[Any, ...], ranges: Sequence[FieldRange], env_name: str) -> None:
    """Refuse a snapshot with a value outside its field's range.

    Raises:
        ValueError: naming the field, the column where there is one, the value and the
            valid range.
    """
    for r in ranges:
        values = getattr(state, r.field)
        if r.columns is not None:
            values = values[..., list(r.columns)]
        bad = (values < r.low) | (values > r.high)
        if r.whole:
            bad |= values != np.floor(values)
        if not np.any(bad):
            continue
        where = np.argwhere(bad)[0]
        what = f"field {r.field!r}"
        if r.columns is not None:
            column = int(where[-1])
            what += f" column {r.columns[column]}"
            if r.names:
                what += f" ({r.names[column]})"
        kind = "whole numbers in " if r.whole else ""
        raise ValueError(
            f"{env_name}.set_state: {what} holds {values[tuple(where)]:g}, outside its "
            f"valid range: {kind}[{r.low:g}, {r.high:g}]"
        )
