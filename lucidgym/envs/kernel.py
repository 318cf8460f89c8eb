"""Machinery shared by the environment families.

Each family writes its dynamics once, as an :class:`ArrayKernel`: pure functions over a
batch of ``N`` states held in a ``NamedTuple`` of arrays. The single environment runs
the kernel with ``N = 1``; the native vector environment
(:class:`~lucidgym.envs.vector.ArrayVectorEnv`) runs it with ``N = num_envs`` in one
NumPy call; the oracle (:class:`KernelDynamics`) runs it over whatever batch a planner
asks for, with its own random generator. A family's single env is a :class:`KernelEnv`
that fills in a few hooks.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar, cast

import gymnasium as gym
import numpy as np

from lucidgym.batched import batch_copy, batch_put, batch_take
from lucidgym.envs.checks import check_render_mode, check_state
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

    def step_common(
        self, states: S, actions: np.ndarray, groups: int
    ) -> tuple[S, np.ndarray, np.ndarray]:
        """:meth:`step`, with common random numbers across ``groups`` blocks of rows.

        Row ``i`` of block ``j`` (rows ``j * K .. j * K + K - 1``, ``K = B / groups``) draws
        the same random numbers as row ``i`` of every other block: comparing candidate
        actions block by block, a difference of returns is then the actions', not the
        dice's (common random numbers, a variance reduction for comparing plans).
        """
        next_states, reward, terminated, _ = self.kernel.transition(
            # CommonDraws offers the Generator methods kernels draw with.
            states,
            np.asarray(actions),
            cast(np.random.Generator, CommonDraws(self.rng, groups)),
        )
        return next_states, reward.astype(np.float32), terminated.astype(bool)

    def take(self, states: S, index: np.ndarray) -> S:
        """Rows ``index`` of a batch of states."""
        return batch_take(states, np.asarray(index))

    def observe(self, states: S) -> np.ndarray:
        """Observations of a batch of states (what the agent would see there)."""
        return self.kernel.observe(states)


class CommonDraws:
    """A generator whose draws for ``groups * K`` rows repeat the draws of ``K`` rows.

    It stands in for the ``np.random.Generator`` a kernel's ``transition`` draws from
    (``random``, ``uniform``, ``standard_normal``, ``integers``): a draw whose leading
    size is a multiple of ``groups`` is drawn for one block and tiled; any other draw is
    passed to the generator unchanged.
    """

    def __init__(self, rng: np.random.Generator, groups: int) -> None:
        if groups < 1:
            raise ValueError(f"groups must be positive, got {groups}")
        self.rng = rng
        self.groups = groups

    def _tiled(self, draw: Any, size: Any, *args: Any, **kwargs: Any) -> Any:
        shape = (size,) if isinstance(size, int | np.integer) else size
        if shape is None or len(shape) == 0 or shape[0] % self.groups:
            return draw(*args, size=size, **kwargs)
        block = draw(*args, size=(shape[0] // self.groups, *shape[1:]), **kwargs)
        return np.tile(block, (self.groups,) + (1,) * (block.ndim - 1))

    def random(self, size: Any = None, dtype: Any = np.float64) -> Any:
        """``Generator.random``, tiled."""
        return self._tiled(self.rng.random, size, dtype=dtype)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        """``Generator.uniform``, tiled."""
        return self._tiled(self.rng.uniform, size, low, high)

    def standard_normal(self, size: Any = None, dtype: Any = np.float64) -> Any:
        """``Generator.standard_normal``, tiled."""
        return self._tiled(self.rng.standard_normal, size, dtype=dtype)

    def integers(self, low: Any, high: Any = None, size: Any = None, **kwargs: Any) -> Any:
        """``Generator.integers``, tiled."""
        return self._tiled(self.rng.integers, size, low, high, **kwargs)


class KernelEnv(gym.Env[np.ndarray, Any], Generic[S]):
    """The single env of a family: one episode of an :class:`ArrayKernel`, a batch of one.

    The base owns what every family's single env shares: the ``render_mode`` check
    against ``metadata["render_modes"]``, ``reset`` and ``step`` (seeding, the guards
    against a step before ``reset`` and after the episode's end, the episode's steps and
    running return, a redraw per step in ``human`` mode), ``render``, the pygame window,
    snapshots (:meth:`get_state`, :meth:`set_state`), the oracle (:meth:`get_dynamics`)
    and :meth:`close`. A family fills in the hooks, as a Minigrid env fills in
    ``_gen_grid``:

    - ``_advance(state, action) -> (state, obs, reward, terminated, info)``, required:
      one step from ``state``, validating ``action`` first.
    - ``_first_observation(state) -> (obs, info)``, required: what ``reset`` returns.
    - ``_frame() -> np.ndarray``, required for ``rgb_array`` and ``human``: a
      ``[H, W, 3]`` uint8 picture of now.
    - ``_ansi() -> str``, required for ``ansi``: the text of now.
    - ``_start_episode(options) -> None``: read ``reset`` options and clear the
      records of the last episode, before the new one is drawn.
    - ``_check_snapshot(state) -> None``: checks of a ``set_state`` snapshot beyond its
      layout.
    - ``_unregistered_name() -> str``: the name errors carry when the env was built
      without ``gym.make`` (with it, they carry the registered id).

    Envs with expert rules also offer ``expert_policy()``: a batched
    ``obs [B, *O] -> actions [B]`` function. The base does not define it, so that
    ``getattr(env.unwrapped, "expert_policy", None)`` tells which envs have rules.

    The end of an episode, as Gymnasium defines it, is enforced: a ``step`` after a
    terminating one raises ``RuntimeError`` until ``reset`` (or ``set_state``).
    Truncation belongs to the ``TimeLimit`` wrapper that ``gym.make`` adds from the
    registration, as for Gymnasium's own envs, so the env never reports it; but since
    that wrapper lets a step past the limit through, an env made by ``gym.make`` reads
    its registered ``max_episode_steps`` and raises on a step past it. The env cannot
    see the wrapper's own limit: ``gym.make(id, max_episode_steps=N)`` with a smaller
    ``N`` truncates sooner, while longer episodes need an id registered with the longer
    limit. An env built directly has no time limit.

    Args:
        kernel: the family's dynamics.
        observation_space: the space of one observation.
        action_space: the space of one action.
        render_mode: one of ``metadata["render_modes"]``, or ``None``.

    Raises:
        ValueError: for a ``render_mode`` the family does not draw.
    """

    def __init__(
        self,
        kernel: ArrayKernel[S],
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        render_mode: str | None,
    ) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.kernel = kernel
        self.observation_space = observation_space
        self.action_space = action_space
        self.render_mode = render_mode
        self._state: S | None = None
        """The episode's state as a batch of one; ``None`` before the first reset."""
        self._return = 0.0
        """The episode's return so far, for the pictures."""
        self._elapsed = 0
        """Steps taken since ``reset``."""
        self._terminated = False
        """The last step ended the episode (cleared by ``reset`` and ``set_state``)."""
        self._time_limit: int | None = None
        """The registered ``max_episode_steps``, read at ``reset``; ``None`` for none."""
        self._window: HumanWindow | None = None

    @property
    def _name(self) -> str:
        return self.spec.id if self.spec is not None else self._unregistered_name()

    def _unregistered_name(self) -> str:
        return type(self).__name__

    # -- the episode ----------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``seed`` fixes it and every episode after it."""
        super().reset(seed=seed)
        self._start_episode(options)
        self._state = self.kernel.initial(self.np_random, 1)
        self._return = 0.0
        self._elapsed = 0
        self._terminated = False
        self._time_limit = self._registered_limit()
        if self.render_mode == "human":
            self.render()
        return self._first_observation(self._state)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One step; truncation is left to the registered time limit.

        Raises:
            RuntimeError: before the first ``reset``, after a step that terminated the
                episode, and past the registered ``max_episode_steps``.
            ValueError: for an action outside the action space.
        """
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before step()")
        if self._terminated or self._elapsed == self._time_limit:
            raise RuntimeError(f"{self._name}: step() after {self._end()}")
        self._state, obs, reward, terminated, info = self._advance(self._state, action)
        self._return += reward
        self._elapsed += 1
        self._terminated = terminated
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, False, info

    def _end(self) -> str:
        """How the episode ended and what to do, for the error of a step after it."""
        if self._terminated:
            return f"the episode terminated at step {self._elapsed}; call reset() first"
        return (
            f"the episode's registered time limit of {self._time_limit} steps "
            "(max_episode_steps); call reset() first, or register an id with a larger "
            "max_episode_steps for longer episodes"
        )

    def _registered_limit(self) -> int | None:
        """``max_episode_steps`` of this env's registration, if ``gym.make`` made it.

        ``gym.make`` gives the env a spec without the limit (its ``TimeLimit`` wrapper
        holds it), so the registry is asked.
        """
        if self.spec is None:
            return None
        registered = gym.registry.get(self.spec.id)
        return None if registered is None else registered.max_episode_steps

    def _start_episode(self, options: dict[str, Any] | None) -> None:
        """Read ``reset``'s ``options`` and clear the last episode's records (here: none)."""

    def _first_observation(self, state: S) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _advance(self, state: S, action: Any) -> tuple[S, np.ndarray, float, bool, dict[str, Any]]:
        raise NotImplementedError

    # -- snapshots and oracle -------------------------------------------------------

    def get_state(self) -> S:
        """A copy of the episode's hidden state as a batch of one (not the random generator)."""
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before get_state()")
        return batch_copy(self._state)

    def set_state(self, state: S) -> None:
        """Restore a snapshot from :meth:`get_state`.

        The episode goes on from ``state``, even after a terminating step; the steps
        since ``reset`` still count towards the time limit, as ``TimeLimit`` counts them.

        Raises:
            ValueError: for a snapshot of another layout, with NaN or infinity, or with
                a value outside its field's range, naming the field.
        """
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before set_state()")
        state = check_state(self._state, state, self._name)
        self._check_snapshot(state)
        self._state = state
        self._terminated = False

    def _check_snapshot(self, state: S) -> None:
        """Refuse a snapshot whose values the family cannot hold (here: any is fine).

        A family checks the ranges of its fields here, most simply with
        :func:`~lucidgym.envs.checks.check_ranges`.
        """

    def get_dynamics(self, seed: int | None = None) -> KernelDynamics[S]:
        """The true dynamics as a batched :class:`~lucidgym.types.Dynamics` (own RNG)."""
        return KernelDynamics(self.kernel, self.action_space, seed)

    # -- rendering ------------------------------------------------------------------

    def render(self) -> str | np.ndarray | None:
        """``ansi``: a line of text; ``rgb_array``: a picture; ``human``: it in a window."""
        if self.render_mode is None:
            gym.logger.warn(f"{self._name}: render() called without a render_mode")
            return None
        if self._state is None:
            raise RuntimeError(f"{self._name}: call reset() before render()")
        if self.render_mode == "ansi":
            return self._ansi()
        frame = self._frame()
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            self._window = HumanWindow(self._name, self.metadata["render_fps"])
        self._window.show(frame)
        return None

    def _frame(self) -> np.ndarray:
        raise NotImplementedError

    def _ansi(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        """Close the window, if one is open."""
        if self._window is not None:
            self._window.close()
            self._window = None
