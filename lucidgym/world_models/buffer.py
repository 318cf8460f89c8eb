"""A replay buffer of sequence rows that respects episode boundaries.

Rows follow the convention of :mod:`lucidgym.world_models.protocol`: row ``t`` holds
``obs_t``, the ``action_t`` taken after it and the ``reward_t`` / ``terminal_t`` of that
action; an episode's last observation is a row with ``valid = False``; ``is_first``
marks the first row of every episode. Sampled windows of ``T`` rows may span an
episode boundary: the models reset their state where ``is_first`` and mask the losses
where ``not valid``, so nothing leaks from one episode into the next.

Data enters training here, so every value is checked once, as it is added
(:func:`check_episode`); a refusal names the episode, the step and the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from lucidgym.world_models import layers
from lucidgym.world_models.protocol import SequenceBatch


class _EpisodeArrays(NamedTuple):
    obs: np.ndarray
    """``[T + 1, *O]`` observations, the last one after the last action."""
    action: np.ndarray
    """``[T]`` int64 or ``[T, A]`` float32 actions."""
    reward: np.ndarray
    """``[T]`` float32 rewards."""
    terminal: np.ndarray
    """``[T]`` bool: the action ended the episode (terminated, not truncated)."""


class Episode(_EpisodeArrays):
    """One episode as arrays: ``T`` transitions and ``T + 1`` observations.

    A named tuple of ``obs``, ``action``, ``reward`` and ``terminal`` whose ``len`` is
    the number of transitions.
    """

    __slots__ = ()

    def __len__(self) -> int:
        """The number of transitions ``T``."""
        return int(self.reward.shape[0])

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Episode:  # type: ignore[override]
        # The named tuple's own _make (behind _replace) checks len(), which __len__
        # above redefines as the number of transitions: count the fields instead.
        episode = tuple.__new__(cls, iterable)
        count = tuple.__len__(episode)
        if count != len(cls._fields):
            raise TypeError(f"Episode takes {len(cls._fields)} fields, got {count}")
        return episode


def _rows(field: str, values: Any, rows: int, shape: tuple[int, ...], where: str) -> np.ndarray:
    """``values`` as ``[rows, *shape]``, or a ``ValueError`` naming ``field``."""
    values = np.asarray(values)
    if values.size != rows * math.prod(shape):
        raise ValueError(f"{where}: {field} has shape {values.shape}, expected {(rows, *shape)}")
    return values.reshape(rows, *shape)


def check_episode(
    episode: Episode,
    observation_space: gym.spaces.Space[Any],
    action_space: gym.spaces.Space[Any],
    where: str = "episode",
    first_step: int = 0,
    *,
    limits: tuple[float, ...] | None = None,
) -> Episode:
    """``episode`` checked, in the buffer's dtypes: what every source of data goes through.

    Args:
        episode: ``T`` transitions (``obs`` of any number of rows).
        observation_space: the space of one observation.
        action_space: a ``Discrete`` or ``Box`` space.
        where: how messages name the episode (``"dataset 'x-v0', episode 3"``).
        first_step: the step number of the episode's first row.
        limits: the magnitude limits of observations and actions, where the caller
            has them at hand (default: ``magnitude_limit`` of each space).

    Returns:
        The episode with float32 observations and rewards, int64 (``Discrete``) or
        float32 (``Box``) actions and bool terminal flags.

    Raises:
        ValueError: naming ``where``, the step and the field: a wrong shape; a NaN, an
            infinity or a magnitude beyond :func:`~lucidgym.world_models.layers.magnitude_limit`
            (observations, rewards, ``Box`` actions); a ``Discrete`` action that is no
            whole number inside the space; a terminal flag neither true nor false.
    """
    shape, dtype = _action_layout(action_space)
    obs = np.asarray(episode.obs, dtype=np.float32)
    obs_shape = tuple(observation_space.shape or ())
    if obs.shape[1:] != obs_shape:
        want = ", ".join(map(str, obs_shape))
        raise ValueError(f"{where}: observations have shape {obs.shape}, expected [N, {want}]")
    reward = np.asarray(episode.reward, dtype=np.float32)
    if reward.ndim != 1:
        raise ValueError(f"{where}: reward has shape {reward.shape}, expected [T]")
    terminal = _rows("terminal", episode.terminal, reward.shape[0], (), where)
    action = _rows("action", episode.action, reward.shape[0], shape, where)
    if limits is None:
        limits = layers.magnitude_limit(observation_space), layers.magnitude_limit(action_space)
    layers.check_values("obs", obs, limits[0], where, first_step)
    if isinstance(action_space, gym.spaces.Discrete):
        layers.check_discrete_actions(action, action_space, where, first_step)
    else:
        action = action.astype(np.float32)
        layers.check_values("action", action, limits[1], where, first_step)
    layers.check_values("reward", reward, layers.MAX_MAGNITUDE, where, first_step)
    flags = (terminal == 0) | (terminal == 1)
    if not flags.all():
        row, _ = layers.first_false(flags)
        step = first_step + row
        raise ValueError(f"{where}, step {step}: terminal is {terminal[row]}, not true or false")
    return Episode(obs, action.astype(dtype), reward, terminal.astype(bool))


def _action_layout(action_space: gym.spaces.Space[Any]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    if isinstance(action_space, gym.spaces.Discrete):
        return (), np.dtype(np.int64)
    if isinstance(action_space, gym.spaces.Box):
        return tuple(action_space.shape), np.dtype(np.float32)
    raise TypeError(f"SequenceReplayBuffer: unsupported action space {action_space}")


class SequenceReplayBuffer:
    """A fixed-capacity ring of sequence rows with seeded sampling of ``[B, T]`` windows.

    Args:
        observation_space: the space of one observation (``*O`` is its shape).
        action_space: a ``Discrete`` or ``Box`` space of one action.
        capacity: the number of rows kept; the oldest are overwritten first.
        seed: seeds :meth:`sample`.
    """

    def __init__(
        self,
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        capacity: int = 1_000_000,
        seed: int | None = None,
    ) -> None:
        if capacity < 2:
            raise ValueError(f"SequenceReplayBuffer: capacity must be at least 2, got {capacity}")
        if observation_space.shape is None:
            raise TypeError(
                f"SequenceReplayBuffer: unsupported observation space {observation_space}"
            )
        self.observation_space = observation_space
        self.action_space = action_space
        self.capacity = capacity
        self.obs_shape = tuple(observation_space.shape)
        action_shape, action_dtype = _action_layout(action_space)
        self.obs = np.zeros((capacity, *self.obs_shape), dtype=np.float32)
        self.action = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.reward = np.zeros(capacity, dtype=np.float32)
        self.terminal = np.zeros(capacity, dtype=np.float32)
        self.is_first = np.zeros(capacity, dtype=bool)
        self.valid = np.zeros(capacity, dtype=bool)
        self._next = 0
        self._size = 0
        self._open = False
        self._episodes_added = 0
        self._step = 0
        self._limits = tuple(layers.magnitude_limit(s) for s in (observation_space, action_space))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """The number of rows stored."""
        return self._size

    @property
    def num_transitions(self) -> int:
        """The number of valid rows (transitions) stored."""
        return int(self.valid[: self._size].sum())

    def _write(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        terminal: np.ndarray,
        is_first: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        n = obs.shape[0]
        if n > self.capacity:
            keep = slice(n - self.capacity, n)
            obs, action, reward = obs[keep], action[keep], reward[keep]
            terminal, is_first, valid = terminal[keep], is_first[keep], valid[keep]
            n = self.capacity
        index = (self._next + np.arange(n)) % self.capacity
        self.obs[index] = obs
        self.action[index] = action
        self.reward[index] = reward
        self.terminal[index] = terminal
        self.is_first[index] = is_first
        self.valid[index] = valid
        self._next = int((self._next + n) % self.capacity)
        self._size = min(self._size + n, self.capacity)

    def add_episode(self, episode: Episode) -> None:
        """Append a whole episode (``T + 1`` rows, the last one not valid).

        Raises:
            ValueError: the episode's values are refused (see :func:`check_episode`);
                messages count episodes from 0 in the order this buffer received them.
        """
        self._add_episode(episode, f"SequenceReplayBuffer: episode {self._episodes_added}")

    def _add_episode(self, episode: Episode, where: str, check: bool = True) -> None:
        if self._open:
            raise ValueError("SequenceReplayBuffer: finish the episode added step by step first")
        if check:
            spaces = self.observation_space, self.action_space
            episode = check_episode(episode, *spaces, where, limits=self._limits)
        t = len(episode)
        if episode.obs.shape[0] != t + 1:
            raise ValueError(
                f"{where}: an episode of {t} transitions needs {t + 1} observations, "
                f"got {episode.obs.shape[0]}"
            )
        action = np.zeros((t + 1, *self.action.shape[1:]), dtype=self.action.dtype)
        action[:t] = episode.action
        reward, terminal = np.zeros((2, t + 1), dtype=np.float32)
        reward[:t], terminal[:t] = episode.reward, episode.terminal
        is_first, valid = np.arange(t + 1) == 0, np.arange(t + 1) < t
        self._write(episode.obs, action, reward, terminal, is_first, valid)
        self._episodes_added += 1

    def _check_rows(self, obs: Any, step: tuple[Any, float, bool] | None = None) -> Episode:
        # step: (action, reward, terminal), or None for an episode's final observation.
        obs = np.asarray(obs)[None]
        if step is None:
            empty = np.zeros((0, *self.action.shape[1:]))
            rows = Episode(obs, empty, np.zeros(0), np.zeros(0, bool))
        else:
            action, reward, terminal = step
            rows = Episode(
                obs, np.asarray(action)[None], np.asarray([reward]), np.asarray([terminal])
            )
        where = f"SequenceReplayBuffer: episode {self._episodes_added}"
        spaces = self.observation_space, self.action_space
        return check_episode(rows, *spaces, where, self._step, limits=self._limits)

    def add_step(
        self, obs: np.ndarray, action: Any, reward: float, terminal: bool, is_first: bool
    ) -> None:
        """Append one transition row: ``obs_t``, ``action_t`` and what the action led to.

        Raises:
            ValueError: out of order (see :meth:`end_episode`), or a value is refused
                (see :func:`check_episode`), naming the episode and the step.
        """
        if is_first and self._open:
            raise ValueError("SequenceReplayBuffer: an episode is still open; call end_episode")
        if not is_first and not self._open:
            raise ValueError("SequenceReplayBuffer: the first step of an episode needs is_first")
        if is_first:
            self._step = 0
        row = self._check_rows(obs, (action, reward, terminal))
        flags = np.asarray([is_first]), np.asarray([True])
        self._write(row.obs, row.action, row.reward, row.terminal.astype(np.float32), *flags)
        self._open = True
        self._step += 1

    def end_episode(self, final_obs: np.ndarray) -> None:
        """Close the episode added step by step with its last observation (a row not valid)."""
        if not self._open:
            raise ValueError("SequenceReplayBuffer: no episode is open")
        row = self._check_rows(final_obs)
        action = np.zeros((1, *self.action.shape[1:]), dtype=self.action.dtype)
        zero, no = np.zeros(1, dtype=np.float32), np.asarray([False])
        self._write(row.obs, action, zero, zero, no, no)
        self._open = False
        self._episodes_added += 1

    def _chronological(self) -> np.ndarray:
        """Physical row indices from oldest to newest."""
        start = self._next if self._size == self.capacity else 0
        return (start + np.arange(self._size)) % self.capacity

    def sample(
        self, batch_size: int, seq_len: int, rng: np.random.Generator | None = None
    ) -> SequenceBatch:
        """``batch_size`` windows of ``seq_len`` consecutive rows as tensors.

        Args:
            batch_size: ``B``.
            seq_len: ``T``.
            rng: the generator to draw from (default: the buffer's own, seeded).

        Returns:
            A :class:`SequenceBatch` of ``[B, T, ...]`` tensors on the CPU.
        """
        if batch_size < 1 or seq_len < 1:
            raise ValueError(
                f"SequenceReplayBuffer: batch_size and seq_len must be positive, got "
                f"{batch_size} and {seq_len}"
            )
        if self._size < seq_len:
            raise ValueError(
                f"SequenceReplayBuffer: {self._size} rows stored, fewer than seq_len={seq_len}"
            )
        rng = self.rng if rng is None else rng
        starts = rng.integers(0, self._size - seq_len + 1, size=batch_size)
        order = self._chronological()
        index = order[starts[:, None] + np.arange(seq_len)[None, :]]
        return SequenceBatch(
            obs=torch.from_numpy(self.obs[index]),
            action=torch.from_numpy(self.action[index]),
            reward=torch.from_numpy(self.reward[index]),
            terminal=torch.from_numpy(self.terminal[index]),
            is_first=torch.from_numpy(self.is_first[index]),
            valid=torch.from_numpy(self.valid[index]),
        )

    def episodes(self) -> list[Episode]:
        """The stored episodes, oldest first (a partly overwritten first one included)."""
        order = self._chronological()
        starts = np.flatnonzero(self.is_first[order])
        bounds = np.concatenate([[0], starts, [order.size]])
        result = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi - lo < 2:
                continue
            rows = order[lo:hi]
            result.append(
                Episode(
                    obs=self.obs[rows].copy(),
                    action=self.action[rows[:-1]].copy(),
                    reward=self.reward[rows[:-1]].copy(),
                    terminal=self.terminal[rows[:-1]].astype(bool),
                )
            )
        return result

    def split(
        self, eval_fraction: float, seed: int | None = None
    ) -> tuple[SequenceReplayBuffer, SequenceReplayBuffer]:
        """Split by whole episodes into ``(train, eval)`` buffers.

        Args:
            eval_fraction: the share of episodes held out, in ``(0, 1)``.
            seed: seeds the choice of held-out episodes.
        """
        if not 0.0 < eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
        episodes = self.episodes()
        if len(episodes) < 2:
            raise ValueError(
                f"SequenceReplayBuffer: {len(episodes)} episode(s) stored; an eval split "
                "by episode needs at least 2"
            )
        rng = np.random.default_rng(seed)
        n_eval = min(max(1, round(eval_fraction * len(episodes))), len(episodes) - 1)
        held_out = set(rng.choice(len(episodes), size=n_eval, replace=False).tolist())
        parts = []
        for keep in (False, True):
            chosen = [ep for i, ep in enumerate(episodes) if (i in held_out) == keep]
            rows = sum(len(ep) + 1 for ep in chosen)
            part = SequenceReplayBuffer(
                self.observation_space, self.action_space, max(rows, 2), seed=seed
            )
            for ep in chosen:
                # Checked when they entered this buffer.
                part._add_episode(ep, "episode", check=False)
            parts.append(part)
        return parts[0], parts[1]

    @classmethod
    def from_episodes(
        cls,
        episodes: list[Episode],
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        capacity: int | None = None,
        seed: int | None = None,
        source: str | None = None,
    ) -> SequenceReplayBuffer:
        """A buffer holding ``episodes`` (capacity: just enough, unless given).

        Raises:
            ValueError: an episode's values are refused (see :func:`check_episode`);
                the message names ``source`` (a dataset, say), the episode's index in
                ``episodes`` and the step.
        """
        rows = sum(len(ep) + 1 for ep in episodes)
        buffer = cls(observation_space, action_space, capacity or max(rows, 2), seed=seed)
        prefix = f"{source}, " if source else ""
        for i, ep in enumerate(episodes):
            buffer._add_episode(ep, f"{prefix}episode {i}")
        return buffer
