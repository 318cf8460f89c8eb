"""The checks a family runs on what it is given: actions, batches of actions, snapshots.

Each raises a ``ValueError`` that names the environment, so that a user sees which env
refused what.
"""

from __future__ import annotations

from typing import Any, TypeVar

import gymnasium as gym
import numpy as np

from lucidgym.batched import batch_copy

S = TypeVar("S", bound=tuple[Any, ...])


def check_action(space: gym.spaces.Space[Any], action: Any, env_name: str) -> np.ndarray:
    """Return ``action`` as an array, or raise a ``ValueError`` naming the env and action.

    Discrete actions come back as an int64 scalar array, Box actions as float32 arrays.
    NaN or infinite Box actions are refused rather than clipped: they point to a bug
    upstream that clipping would hide.
    """
    if isinstance(space, gym.spaces.Discrete):
        arr = np.asarray(action)
        if (
            arr.shape != ()
            or not np.issubdtype(arr.dtype, np.integer)
            and not (np.issubdtype(arr.dtype, np.floating) and float(arr) == int(arr))
        ):
            raise ValueError(f"{env_name}: action {action!r} is not a single integer in {space}")
        value = int(arr)
        if not space.contains(np.int64(value)):
            raise ValueError(f"{env_name}: action {action!r} is outside {space}")
        return np.asarray(value, dtype=np.int64)
    if isinstance(space, gym.spaces.Box):
        arr = np.asarray(action, dtype=np.float32)
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
    arr = np.asarray(actions)
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
        arr = arr.astype(np.float32, copy=False)
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
