"""Checks every registered lucidgym environment gets for free, by being registered."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import lucidgym  # noqa: F401
from lucidgym.envs.registration import ENVS, env_ids

VECTOR_IDS = [e.id for e in ENVS if e.vector_entry_point is not None]
ROLLOUT_STEPS = 300


def _rollout(env: gym.Env, seed: int, steps: int = ROLLOUT_STEPS) -> list:
    """A seeded random rollout; episodes that end are reset without a seed."""
    env.action_space.seed(seed + 1)
    obs, info = env.reset(seed=seed)
    trace = [("reset", obs.copy())]
    for _ in range(steps):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs), f"observation outside the space: {obs}"
        assert np.all(np.isfinite(obs))
        assert np.isfinite(reward)
        trace.append((obs.copy(), float(reward), bool(terminated), bool(truncated)))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append(("reset", obs.copy()))
    return trace


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=False))
    return a == b


@pytest.mark.parametrize("env_id", env_ids())
def test_gymnasium_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env.unwrapped, skip_render_check=False)
    problems = [str(w.message) for w in caught if "render" not in str(w.message).lower()]
    assert not problems, problems
    env.close()


@pytest.mark.parametrize("env_id", env_ids())
def test_sb3_check_env(env_id: str) -> None:
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id)
    sb3_env_checker.check_env(env, warn=True)
    env.close()


@pytest.mark.parametrize("env_id", env_ids())
def test_same_seed_same_rollout(env_id: str) -> None:
    first = _rollout(gym.make(env_id), seed=7)
    second = _rollout(gym.make(env_id), seed=7)
    assert all(_same(a, b) for a, b in zip(first, second, strict=True))
    other = _rollout(gym.make(env_id), seed=8)
    assert not all(_same(a, b) for a, b in zip(first, other, strict=False)), (
        "the seed changes nothing"
    )


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_native_vector_env(env_id: str) -> None:
    def run(seed: int) -> list[np.ndarray]:
        envs = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point")
        assert "autoreset_mode" in envs.metadata
        envs.action_space.seed(seed)
        obs, _ = envs.reset(seed=seed)
        out = [obs]
        ended = np.zeros(5, dtype=bool)
        for _ in range(ROLLOUT_STEPS):
            obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
            assert envs.observation_space.contains(obs)
            assert np.all(np.isfinite(obs)) and np.all(np.isfinite(reward))
            # next-step autoreset: the step after an end carries reward 0, no end flags
            assert np.all(reward[ended] == 0) and not np.any(terminated[ended] | truncated[ended])
            ended = terminated | truncated
            out += [obs, reward, terminated, truncated]
        envs.close()
        return out

    first, second = run(3), run(3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_vector_episodes_end_like_single(env_id: str) -> None:
    """The vector env truncates at the registered limit, as the single env does."""
    limit = gym.spec(env_id).max_episode_steps
    envs = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    envs.action_space.seed(0)
    ended_early = np.zeros(4, dtype=bool)
    for t in range(1, limit + 1):
        _, _, terminated, truncated, _ = envs.step(envs.action_space.sample())
        assert not np.any(truncated[~ended_early] & (t < limit)), "truncated before the limit"
        if t == limit:
            # sub-envs that terminated earlier were autoreset and are mid-episode now
            assert np.all(truncated[~ended_early])
        ended_early |= terminated | truncated


@pytest.mark.parametrize("env_id", env_ids())
def test_pickle_round_trip(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=3)
    env.action_space.seed(0)
    for _ in range(5):
        env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    env.action_space.seed(1)
    for _ in range(20):
        action = env.action_space.sample()
        a, b = env.step(action), clone.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]


@pytest.mark.parametrize("env_id", env_ids())
def test_render_modes(env_id: str) -> None:
    modes = gym.make(env_id).unwrapped.metadata.get("render_modes", [])
    assert modes, "every lucidgym env renders"
    for mode in modes:
        env = gym.make(env_id, render_mode=mode)
        env.reset(seed=0)
        env.step(env.action_space.sample())
        out = env.render()
        if mode == "ansi":
            assert isinstance(out, str) and out
        elif mode == "rgb_array":
            assert isinstance(out, np.ndarray) and out.dtype == np.uint8
            assert out.ndim == 3 and out.shape[2] == 3 and min(out.shape[:2]) >= 16
        elif mode == "human":
            pytest.importorskip("pygame")
            assert out is None
        env.close()


@pytest.mark.parametrize("env_id", env_ids())
def test_out_of_space_action_is_refused(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    space = env.action_space
    bad = space.n + 3 if isinstance(space, gym.spaces.Discrete) else np.full(space.shape, 5.0)
    with pytest.raises(ValueError, match=env_id):
        env.step(bad)


@pytest.mark.parametrize("env_id", env_ids())
def test_make_without_import(env_id: str) -> None:
    env = gym.make(f"lucidgym:{env_id}")
    assert env.spec is not None and env.spec.id == env_id


@pytest.mark.parametrize("env_id", env_ids())
def test_class_docstring_has_gymnasium_sections(env_id: str) -> None:
    doc = type(gym.make(env_id).unwrapped).__doc__ or ""
    for section in (
        "Description",
        "Action Space",
        "Observation Space",
        "Rewards",
        "Starting State",
        "Episode End",
        "Arguments",
        "Version History",
    ):
        assert f"## {section}" in doc, f"missing section {section}"
