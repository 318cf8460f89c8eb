"""Machinery shared by the environment families.

Each family writes its dynamics once, as an :class:`ArrayKernel`: pure functions over a
batch of ``N`` states held in a ``NamedTuple`` of arrays. The single environment runs
the kernel with ``N = 1``; the native vector environment (:class:`ArrayVectorEnv`)
runs it with ``N = num_envs`` in one NumPy call; the oracle (:class:`KernelDynamics`)
runs it over whatever batch a planner asks for, with its own random generator.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lucidgym.batched import batch_copy, batch_put, batch_take
from lucidgym.envs.rendering import HumanWindow

S = TypeVar("S", bound=tuple[Any, ...])


class ArrayKernel(Protocol[S]):
    """The dynamics of an environment family, written once over a batch of ``N``."""

    def initial(self, rng: np.random.Generator, n: int) -> S:
        """``n`` fresh episode-start states."""
        ...

    def transition(
        self, state: S, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[S, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every state.

        Args:
            state: a batch of ``N`` states.
            actions: ``[N]`` ints or ``[N, A]`` floats, already validated.
            rng: the generator every random draw comes from.

        Returns:
            ``(next_state, reward [N] float32, terminated [N] bool, info)`` where every
            value of ``info`` is an array with leading dimension ``N``.
        """
        ...

    def observe(self, state: S) -> np.ndarray:
        """Observations ``[N, *obs_shape]`` of a batch of states."""
        ...


def reset_rows(kernel: ArrayKernel[S], state: S, rows: np.ndarray, rng: np.random.Generator) -> S:
    """``state`` with rows ``rows`` replaced by fresh episode starts.

    A kernel may offer ``reset_rows(state, rows, rng)`` that writes them in place (the
    caller owns ``state``); otherwise the rows come from ``initial`` and a copy.
    """
    in_place = getattr(kernel, "reset_rows", None)
    if in_place is None:
        return batch_put(state, rows, kernel.initial(rng, rows.size))
    in_place(state, rows, rng)
    return state


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


class KernelDynamics(Generic[S]):
    """An environment's true dynamics as a batched :class:`~lucidgym.types.Dynamics`.

    The oracle draws its own randomness from ``seed``: it knows the hidden state, not
    the future random draws of the environment it was taken from.
    """

    def __init__(
        self,
        kernel: ArrayKernel[S],
        action_space: gym.spaces.Space[Any],
        seed: int | None = None,
    ) -> None:
        self.kernel = kernel
        self.action_space = action_space
        self.rng = np.random.default_rng(seed)

    def step(self, states: S, actions: np.ndarray) -> tuple[S, np.ndarray, np.ndarray]:
        """``states`` batch of ``B``, ``actions [B]`` -> ``(states, rewards [B], dones [B])``."""
        next_states, reward, terminated, _ = self.kernel.transition(
            states, np.asarray(actions), self.rng
        )
        return next_states, reward.astype(np.float32), terminated.astype(bool)

    def take(self, states: S, index: np.ndarray) -> S:
        """Rows ``index`` of a batch of states."""
        return batch_take(states, np.asarray(index))

    def observe(self, states: S) -> np.ndarray:
        """Observations of a batch of states (what the agent would see there)."""
        return self.kernel.observe(states)


class KernelEnvMixin(Generic[S]):
    """Snapshots, the oracle and the window, shared by every family's single env.

    The env holds its ``kernel``, its state as a batch of one in ``_state`` (``None``
    before the first reset) and its pygame window in ``_window``.
    """

    kernel: Any
    action_space: gym.spaces.Space[Any]
    metadata: dict[str, Any]
    _state: S | None
    _window: HumanWindow | None

    @property
    def _name(self) -> str:
        return type(self).__name__

    def get_state(self) -> S:
        """A copy of the episode's hidden state as a batch of one (not the random generator)."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before get_state()")
        return batch_copy(self._state)

    def set_state(self, state: S) -> None:
        """Restore a snapshot from :meth:`get_state`; a malformed one raises ``ValueError``."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before set_state()")
        self._state = check_state(self._state, state, self._name)

    def get_dynamics(self, seed: int | None = None) -> KernelDynamics[S]:
        """The true dynamics as a batched :class:`~lucidgym.types.Dynamics` (own RNG)."""
        return KernelDynamics(self.kernel, self.action_space, seed)

    def _show_in_window(self, frame: np.ndarray) -> None:
        if self._window is None:
            self._window = HumanWindow(self._name, self.metadata["render_fps"])
        self._window.show(frame)

    def close(self) -> None:
        """Close the window, if one is open."""
        if self._window is not None:
            self._window.close()
            self._window = None


class ArrayVectorEnv(VectorEnv, Generic[S]):  # type: ignore[type-arg]
    """A native vector env over an :class:`ArrayKernel`, with next-step autoreset.

    As in Gymnasium 1.x's ``CartPoleVectorEnv``: the step after a sub-environment ends
    returns its reset observation with reward 0 and ``terminated = truncated = False``;
    collectors of experience drop that transition.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        kernel: ArrayKernel[S],
        num_envs: int,
        single_observation_space: gym.spaces.Space[Any],
        single_action_space: gym.spaces.Space[Any],
        max_episode_steps: int | None,
        name: str,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"{name}: num_envs must be at least 1, got {num_envs}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"{name}: max_episode_steps must be positive, got {max_episode_steps}")
        self.kernel = kernel
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = single_observation_space
        self.single_action_space = single_action_space
        self.observation_space = batch_space(single_observation_space, num_envs)
        self.action_space = batch_space(single_action_space, num_envs)
        self._name = name
        self._state: S | None = None
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._prev_done = np.zeros(num_envs, dtype=bool)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment; ``seed`` determines all episodes that follow."""
        super().reset(seed=seed)
        self._state = self.kernel.initial(self.np_random, self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)
        return self._observation(self._state, np.zeros(self.num_envs, dtype=bool), {})

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-environment; those that ended last step are reset instead."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before step()")
        actions = check_batched_actions(
            self.single_action_space, actions, self.num_envs, self._name
        )
        state, reward, terminated, info = self.kernel.transition(
            self._state, actions, self.np_random
        )
        reward = reward.astype(np.float32, copy=True)
        terminated = terminated.astype(bool, copy=True)
        self._steps += 1
        if self.max_episode_steps is not None:
            truncated = self._steps >= self.max_episode_steps
        else:
            truncated = np.zeros(self.num_envs, dtype=bool)
        if self._prev_done.any():
            index = np.flatnonzero(self._prev_done)
            state = self._restart(state, index)
            self._steps[index] = 0
            reward[index] = 0.0
            terminated[index] = False
            truncated[index] = False
        self._state = state
        self._prev_done = terminated | truncated
        obs, info = self._observation(state, terminated, info)
        return obs, reward, terminated, truncated, info

    def _restart(self, state: S, rows: np.ndarray) -> S:
        """``state`` with fresh episodes in rows ``rows`` (the autoreset); ``state`` is ours."""
        return reset_rows(self.kernel, state, rows, self.np_random)

    def _observation(
        self, state: S, terminated: np.ndarray, info: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Observations and ``info`` returned for ``state`` (after any autoreset)."""
        return self.kernel.observe(state), info

    def get_state(self) -> S:
        """A copy of every sub-environment's hidden state (not the random generator)."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before get_state()")
        return batch_copy(self._state)
