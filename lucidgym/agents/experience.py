"""Vectorized experience for learning agents: one vector env, episode bookkeeping.

Learners take a single ``gym.Env`` (the benchmark's contract) but collect experience
from ``N`` copies at once: the env's native vector env where its id registers one,
else :class:`gymnasium.vector.SyncVectorEnv`. Both autoreset on the next step, so the
step after an episode end returns a reset observation and its transition is dropped
(:attr:`EpisodeTracker.live` says which transitions are real).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv


def make_vector_env(env: gym.Env[Any, Any], num_envs: int) -> VectorEnv:  # type: ignore[type-arg]
    """``num_envs`` copies of ``env`` stepped together, autoresetting on the next step.

    Uses the env's registered vector entry point when its spec has one (with the same
    keyword arguments ``env`` was made with), else a ``SyncVectorEnv`` of fresh copies.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    spec = env.spec
    if spec is not None:
        vec = gym.make_vec(spec, num_envs=num_envs)
    else:
        vec = SyncVectorEnv([lambda: copy.deepcopy(env) for _ in range(num_envs)])
    mode = vec.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode != AutoresetMode.NEXT_STEP:
        vec.close()
        raise ValueError(f"vector env for {spec.id if spec else env}: needs next-step autoreset")
    return vec


def info_array(info: dict[str, Any], key: str, num_envs: int) -> np.ndarray | None:
    """``info[key]`` as an ``[N]`` float array (``None`` where the env does not report it)."""
    if key not in info:
        return None
    value = np.asarray(info[key], dtype=np.float64)
    if value.shape != (num_envs,):
        return None
    mask = info.get(f"_{key}")
    return value if mask is None else np.where(np.asarray(mask, dtype=bool), value, 0.0)


def reward_components(info: dict[str, Any], num_envs: int) -> dict[str, np.ndarray]:
    """``info["reward_vector"]`` as ``{component: [N] float array}`` (empty if absent)."""
    vector = info.get("reward_vector")
    if not isinstance(vector, dict):
        return {}
    out = {}
    for name in vector:
        if not name.startswith("_"):
            value = info_array(vector, name, num_envs)
            if value is not None:
                out[name] = value
    return out


class SuccessCount:
    """Success of ``N`` episodes in progress, counted one way everywhere.

    Where the env reports ``info["graded"]``, an episode's rate is the fraction of its
    graded steps that succeeded; otherwise the episode counts once, as a success if any
    of its steps reported ``info["success"]``. Finished episodes also add to pooled
    totals, the rate a benchmark records (:attr:`rate`).
    """

    def __init__(self, num_envs: int = 1) -> None:
        self.reported = False
        """Some step reported ``success`` (else every rate is undefined)."""
        self.graded_total = 0.0
        self.success_total = 0.0
        self._graded = np.zeros(num_envs)
        self._success = np.zeros(num_envs)
        self._any = np.zeros(num_envs, dtype=bool)
        self._grades = np.zeros(num_envs, dtype=bool)

    def step(self, live: np.ndarray, success: np.ndarray | None, graded: np.ndarray | None) -> None:
        """Count one step of the ``live`` copies (``success``/``graded``: ``[N]`` or ``None``)."""
        if success is None:
            return
        self.reported = True
        hit = live & (np.asarray(success) > 0)
        if graded is None:
            self._grades[live] = False
            self._any |= hit
        else:
            counted = live & (np.asarray(graded) > 0)
            self._grades[live] = True
            self._graded += counted
            self._success += counted & hit

    def finish(self, i: int) -> float:
        """End episode ``i``: its rate (NaN where nothing was graded), added to the totals."""
        if self.reported and not self._grades[i]:
            self._graded[i] += 1
            self._success[i] += float(self._any[i])
        graded, success = self._graded[i], self._success[i]
        self.graded_total += graded
        self.success_total += success
        self._graded[i] = self._success[i] = 0.0
        self._any[i] = self._grades[i] = False
        return float(success / graded) if graded > 0 else float("nan")

    @property
    def rate(self) -> float | None:
        """Successes over the graded episodes or steps of every finished episode.

        ``None`` where the env never reported ``success``.
        """
        if not self.reported:
            return None
        return self.success_total / self.graded_total if self.graded_total else 0.0


class EpisodeTracker:
    """Per-env returns and successes; finished episodes become curve points."""

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.live = np.ones(num_envs, dtype=bool)
        """``[N]``: the transition just stepped is real (not an autoreset step)."""
        self._return = np.zeros(num_envs)
        self.success = SuccessCount(num_envs)
        self.curves: dict[str, list[float]] = {
            "env_steps": [],
            "episode_return": [],
            "success_rate": [],
        }
        self.env_steps = 0

    def step(
        self,
        reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: dict[str, Any],
    ) -> np.ndarray:
        """Account for one vector step; returns the ``[N]`` mask of real transitions."""
        live = self.live.copy()
        self.env_steps += int(live.sum())
        success = info_array(info, "success", self.num_envs)
        graded = info_array(info, "graded", self.num_envs)
        self._return += np.where(live, reward, 0.0)
        self.success.step(live, success, graded)
        done = live & (np.asarray(terminated) | np.asarray(truncated))
        for i in np.flatnonzero(done):
            self.curves["env_steps"].append(float(self.env_steps))
            self.curves["episode_return"].append(float(self._return[i]))
            self.curves["success_rate"].append(self.success.finish(int(i)))
            self._return[i] = 0.0
        self.live = ~done
        return live
