"""A learned world model as a Gymnasium environment, so any RL library trains inside it.

Episodes start from real observations (sampled from a replay buffer or an array of
observations, or from a real env's resets); the model supplies the next observation,
the reward and termination (predicted done probability above a threshold); a time
limit truncates. :class:`ModelEnv` is a ``gymnasium.Env`` (wrap it in SB3's
``DummyVecEnv`` like any env); :class:`ModelVectorEnv` is a Gymnasium ``VectorEnv``
stepping every copy in one batched model call, with next-step autoreset or, for SB3's
``VecEnv`` adapter, same-step autoreset.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lucidgym.batched import batch_put
from lucidgym.world_models.buffer import SequenceReplayBuffer

Starts = SequenceReplayBuffer | np.ndarray | gym.Env  # type: ignore[type-arg]
"""Where episodes start: a buffer, observations ``[N, *O]``, or a real env to reset."""


class _StartSampler:
    """Draws starting observations ``[K, *O]`` from a buffer, an array or a real env."""

    def __init__(self, starts: Starts, start_from: str) -> None:
        if start_from not in ("first", "any"):
            raise ValueError(f"start_from must be 'first' or 'any', got {start_from!r}")
        self.env: gym.Env[Any, Any] | None = None
        self.pool: np.ndarray | None = None
        if isinstance(starts, SequenceReplayBuffer):
            n = len(starts)
            rows = starts.is_first[:n] if start_from == "first" else np.ones(n, dtype=bool)
            self.pool = starts.obs[:n][rows]
        elif isinstance(starts, np.ndarray):
            self.pool = starts.astype(np.float32)
        elif isinstance(starts, gym.Env):
            self.env = starts
        else:
            raise TypeError(f"starts must be a buffer, an array or an env, got {type(starts)}")
        if self.pool is not None and self.pool.shape[0] == 0:
            raise ValueError("ModelEnv: no starting observations to sample from")
        self._first_env_reset = True

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        if self.pool is not None:
            return self.pool[rng.integers(0, self.pool.shape[0], size=k)]
        assert self.env is not None
        obs = []
        for _ in range(k):
            seed = int(rng.integers(2**31)) if self._first_env_reset else None
            self._first_env_reset = False
            obs.append(self.env.reset(seed=seed)[0])
        return np.asarray(obs, dtype=np.float32)


def _to_space(obs: np.ndarray, space: Any) -> np.ndarray:
    """Clip predictions into the space's bounds and cast to its dtype."""
    obs = np.clip(obs, space.low, space.high)
    if np.issubdtype(space.dtype, np.integer):
        obs = np.rint(obs)
    return obs.astype(space.dtype)


class ModelEnv(gym.Env):  # type: ignore[type-arg]
    """One episode at a time inside a learned model.

    Args:
        model: a world model with ``observation_space`` and ``action_space``.
        starts: starting observations (a buffer, ``[N, *O]`` array, or a real env).
        max_episode_steps: steps before truncation.
        done_threshold: predicted done probability above which an episode terminates.
        start_from: for a buffer, ``"first"`` (episode starts) or ``"any"`` (any row).
        uncertainty_penalty: subtracted from the reward times the model's uncertainty
            (ensemble disagreement), so that a policy does not exploit model errors
            where the model is unsure; 0 to leave the reward as predicted.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        model: Any,
        starts: Starts,
        max_episode_steps: int = 100,
        done_threshold: float = 0.5,
        start_from: str = "first",
        uncertainty_penalty: float = 0.0,
    ) -> None:
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be positive, got {max_episode_steps}")
        self.uncertainty_penalty = uncertainty_penalty
        self.model = model
        self.observation_space = model.observation_space
        self.action_space = model.action_space
        self.max_episode_steps = max_episode_steps
        self.done_threshold = done_threshold
        self._starts = _StartSampler(starts, start_from)
        self._state: Any = None
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start from a sampled real observation."""
        super().reset(seed=seed)
        obs = self._starts.sample(self.np_random, 1)
        with torch.no_grad():
            obs_t = torch.as_tensor(obs, dtype=torch.float32, device=_device(self.model))
            self._state, _ = self.model.observe(self.model.initial_state(1), None, obs_t)
        self._t = 0
        return _to_space(obs[0], self.observation_space), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One imagined step; the info holds the done probability and any uncertainty."""
        if self._state is None:
            raise RuntimeError("ModelEnv: call reset() before step()")
        action = _check_actions(self.action_space, np.asarray(action)[None])
        with torch.no_grad():
            act = torch.as_tensor(action, device=_device(self.model))
            self._state, pred = self.model.imagine(self._state, act)
        self._t += 1
        done_p = float(pred.done[0])
        info: dict[str, Any] = {"done_probability": done_p}
        reward = float(pred.reward[0])
        if pred.uncertainty is not None:
            info["uncertainty"] = float(pred.uncertainty[0])
            reward -= self.uncertainty_penalty * info["uncertainty"]
        obs = _to_space(pred.obs[0].cpu().numpy(), self.observation_space)
        truncated = self._t >= self.max_episode_steps
        return obs, reward, done_p > self.done_threshold, truncated, info


class ModelVectorEnv(VectorEnv):  # type: ignore[type-arg]
    """``num_envs`` episodes inside a learned model, stepped in one batched call.

    ``autoreset_mode`` (also ``metadata["autoreset_mode"]``) says when an episode that
    ended starts again: ``AutoresetMode.NEXT_STEP`` (the default, as Gymnasium's native
    vector envs), the step after the end returns a fresh starting observation with
    reward 0; ``AutoresetMode.SAME_STEP`` (as ``SyncVectorEnv`` with that mode), the
    step that ends it returns the fresh observation, the final one in
    ``info["final_obs"]`` and its ``done_probability`` in ``info["final_info"]``, each
    beside its mask (``_final_obs``, ``_final_info``).

    Args:
        model: a world model with ``observation_space`` and ``action_space``.
        starts: starting observations (a buffer, ``[N, *O]`` array, or a real env).
        num_envs: ``B``, the episodes stepped together.
        max_episode_steps: steps before truncation.
        done_threshold: predicted done probability above which an episode terminates.
        start_from: for a buffer, ``"first"`` (episode starts) or ``"any"`` (any row).
        uncertainty_penalty: subtracted from the reward times the model's uncertainty.
        autoreset_mode: ``AutoresetMode.NEXT_STEP`` or ``AutoresetMode.SAME_STEP`` (or
            its value, ``"NextStep"`` or ``"SameStep"``).

    Raises:
        ValueError: for a ``num_envs`` or ``max_episode_steps`` below 1, or another
            ``autoreset_mode``.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        model: Any,
        starts: Starts,
        num_envs: int,
        max_episode_steps: int = 100,
        done_threshold: float = 0.5,
        start_from: str = "first",
        uncertainty_penalty: float = 0.0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if num_envs < 1 or max_episode_steps < 1:
            raise ValueError("num_envs and max_episode_steps must be positive")
        names = {m.value: m for m in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)}
        key = autoreset_mode.value if isinstance(autoreset_mode, AutoresetMode) else autoreset_mode
        if not isinstance(key, str) or key not in names:
            raise ValueError(
                "ModelVectorEnv: autoreset_mode must be AutoresetMode.NEXT_STEP or "
                f"SAME_STEP, got {autoreset_mode!r}"
            )
        self.autoreset_mode = names[key]
        # Per instance: two envs of one class may reset in different steps.
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.uncertainty_penalty = uncertainty_penalty
        self.model = model
        self.num_envs = num_envs
        self.single_observation_space = model.observation_space
        self.single_action_space = model.action_space
        self.observation_space = batch_space(model.observation_space, num_envs)
        self.action_space = batch_space(model.action_space, num_envs)
        self.max_episode_steps = max_episode_steps
        self.done_threshold = done_threshold
        self._starts = _StartSampler(starts, start_from)
        self._state: Any = None
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._prev_done = np.zeros(num_envs, dtype=bool)

    def _start(self, k: int) -> tuple[np.ndarray, Any]:
        obs = self._starts.sample(self.np_random, k)
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=_device(self.model))
        state, _ = self.model.observe(self.model.initial_state(k), None, obs_t)
        return obs, state

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start every episode from a sampled real observation."""
        super().reset(seed=seed)
        with torch.no_grad():
            obs, self._state = self._start(self.num_envs)
        self._steps[:] = 0
        self._prev_done[:] = False
        return _to_space(obs, self.single_observation_space), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One imagined step of every episode (``actions [B]`` or ``[B, A]``)."""
        if self._state is None:
            raise RuntimeError("ModelVectorEnv: call reset() before step()")
        actions = _check_actions(self.single_action_space, np.asarray(actions), self.num_envs)
        with torch.no_grad():
            act = torch.as_tensor(actions, device=_device(self.model))
            state, pred = self.model.imagine(self._state, act)
            obs = pred.obs.cpu().numpy()
            reward = pred.reward.cpu().numpy().astype(np.float32)
            if pred.uncertainty is not None:
                reward -= self.uncertainty_penalty * pred.uncertainty.cpu().numpy()
            done_p = pred.done.cpu().numpy()
            terminated = done_p > self.done_threshold
            self._steps += 1
            truncated = self._steps >= self.max_episode_steps
            info: dict[str, Any] = {"done_probability": done_p}
            if self._prev_done.any():
                index = np.flatnonzero(self._prev_done)
                state = self._restart(state, obs, index)
                reward[index] = 0.0
                terminated[index] = False
                truncated[index] = False
            done = terminated | truncated
            if self.autoreset_mode is AutoresetMode.NEXT_STEP:
                self._prev_done = done
            elif done.any():
                info.update(self._finals(obs, done_p, done))
                state = self._restart(state, obs, np.flatnonzero(done))
        self._state = state
        return _to_space(obs, self.single_observation_space), reward, terminated, truncated, info

    def _restart(self, state: Any, obs: np.ndarray, index: np.ndarray) -> Any:
        """``state`` with fresh episodes in rows ``index``; their starts go into ``obs``."""
        fresh_obs, fresh = self._start(index.size)
        obs[index] = fresh_obs
        self._steps[index] = 0
        return batch_put(state, torch.as_tensor(index, device=_device(self.model)), fresh)

    def _finals(self, obs: np.ndarray, done_p: np.ndarray, done: np.ndarray) -> dict[str, Any]:
        """``final_obs``, ``final_info`` and their masks, as ``SyncVectorEnv`` fills them."""
        final_obs = np.full(self.num_envs, None, dtype=object)
        final_p = np.zeros_like(done_p)
        for i in np.flatnonzero(done):
            final_obs[i] = _to_space(obs[i], self.single_observation_space)
            final_p[i] = done_p[i]
        final_info = {"done_probability": final_p, "_done_probability": done.copy()}
        return {
            "final_obs": final_obs,
            "_final_obs": done.copy(),
            "final_info": final_info,
            "_final_info": done.copy(),
        }


def _device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device  # type: ignore[no-any-return]
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _check_actions(space: gym.spaces.Space[Any], actions: np.ndarray, n: int = 1) -> np.ndarray:
    """Validated actions ``[n]`` (discrete) or ``[n, *A]``; raises ``ValueError``."""
    if isinstance(space, gym.spaces.Discrete):
        flat = actions.reshape(-1)
        if flat.shape != (n,) or not (
            np.issubdtype(flat.dtype, np.integer) or np.all(flat == np.round(flat))
        ):
            raise ValueError(f"actions {actions!r} are not {n} integers of {space}")
        flat = flat.astype(np.int64)
        if np.any(flat < space.start) or np.any(flat >= space.start + space.n):
            raise ValueError(f"actions {flat.tolist()[:5]} are outside {space}")
        return flat
    if isinstance(space, gym.spaces.Box):
        arr = actions.astype(np.float32).reshape(n, *space.shape)
        if not np.all(np.isfinite(arr)):
            raise ValueError("actions contain NaN or infinity")
        if np.any(arr < space.low) or np.any(arr > space.high):
            raise ValueError(f"actions are outside {space}")
        return arr
    raise TypeError(f"unsupported action space {space}")
