"""ArrayVectorEnv: the native vector envs' autoreset modes, over every registered id."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import lucidgym  # noqa: F401
from lucidgym.batched import batch_take
from lucidgym.envs.registration import ENVS

VECTOR_IDS = [e.id for e in ENVS if e.vector_entry_point is not None]
SAME_STEP = AutoresetMode.SAME_STEP


def _native(env_id: str, num_envs: int, **kwargs: Any) -> gym.vector.VectorEnv:
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )


def _actions(space: gym.spaces.Space[Any], n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(space.n, size=n)
    return rng.uniform(-1.0, 1.0, (n, *space.shape)).astype(np.float32)


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_same_step_transitions_equal_sync_vector_env_over_single_envs(env_id: str) -> None:
    """Same seed and actions: the same steps, final observations, frames and states.

    One copy: the native env's copies share one generator where a ``SyncVectorEnv``
    gives each single env its own, so only one copy draws the same numbers from a seed.
    """
    native = _native(env_id, 1, autoreset_mode=SAME_STEP, render_mode="rgb_array")
    assert native.metadata["autoreset_mode"] is SAME_STEP
    reference = SyncVectorEnv(
        [lambda: gym.make(env_id, render_mode="rgb_array")], autoreset_mode=SAME_STEP
    )
    got, _ = native.reset(seed=3)
    expected, _ = reference.reset(seed=3)
    assert np.array_equal(got, expected)
    rng = np.random.default_rng(0)
    ends, ended_before = 0, True
    for t in range(400):
        actions = _actions(native.single_action_space, 1, rng)
        *got, info = native.step(actions)
        *expected, reference_info = reference.step(actions)
        names = ("obs", "reward", "terminated", "truncated")
        for name, g, e in zip(names, got, expected, strict=True):
            assert np.array_equal(g, e), (t, name)
        assert ("final_obs" in info) == ("final_obs" in reference_info), t
        if "final_obs" in info:
            ends += 1
            for key in ("_final_obs", "_final_info"):
                assert np.array_equal(info[key], reference_info[key]), (t, key)
            assert np.array_equal(info["final_obs"][0], reference_info["final_obs"][0]), t
            assert set(info["final_info"]) == set(reference_info["final_info"]), t
        single = reference.envs[0].unwrapped
        state = native.unwrapped.get_state()
        assert all(np.array_equal(a, b) for a, b in zip(state, single.get_state(), strict=True))
        if ended_before or "final_obs" in info:  # drawing is slow: around the ends only
            assert np.array_equal(native.render()[0], reference.render()[0]), t
        ended_before = "final_obs" in info
    assert ends >= 3, "too few episode ends to test the autoreset"


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_same_step_copies_restart_in_the_step_that_ends_them(env_id: str) -> None:
    """Several copies: the masks name the copies that ended, which come back fresh."""
    limit = gym.spec(env_id).max_episode_steps
    envs = _native(env_id, 3, autoreset_mode=SAME_STEP, render_mode="rgb_array")
    single = gym.make(env_id, render_mode="rgb_array").unwrapped
    space = envs.single_observation_space
    envs.reset(seed=2)
    rng = np.random.default_rng(1)
    lengths: list[int] = []
    steps = np.zeros(3, dtype=np.int64)
    for _ in range(2 * limit + 1):
        _, _, terminated, truncated, info = envs.step(_actions(envs.single_action_space, 3, rng))
        done = terminated | truncated
        steps += 1
        assert ("final_obs" in info) == bool(done.any())
        if not done.any():
            continue
        assert np.array_equal(info["_final_obs"], done)
        assert np.array_equal(info["_final_info"], done)
        frames = envs.render()
        for i in range(3):
            final = info["final_obs"][i]
            assert (final is not None) == done[i]
            if done[i]:
                assert space.contains(final)
                single.reset(seed=0)  # the copy restarted: drawn as a fresh single env
                single.set_state(batch_take(envs.unwrapped.get_state(), np.array([i])))
                assert np.array_equal(frames[i], single.render())
                lengths.append(int(steps[i]))
                assert truncated[i] == (steps[i] == limit)  # a new episode counts from 0
                steps[i] = 0
    assert len(lengths) >= 3 and max(lengths) <= limit


def test_the_autoreset_mode_is_each_instance_s() -> None:
    default = _native("Tutoring-v0", 2)
    same = _native("Tutoring-v0", 2, autoreset_mode="SameStep")
    assert default.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert same.metadata["autoreset_mode"] is SAME_STEP
    assert type(same.unwrapped).metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    same.reset(seed=0)
    assert "final_obs" not in same.step(np.zeros(2, dtype=np.int64))[4]  # nothing ended


@pytest.mark.parametrize("mode", [AutoresetMode.DISABLED, "sometimes", None])
def test_an_unsupported_autoreset_mode_is_a_value_error(mode: Any) -> None:
    with pytest.raises(ValueError, match=r"TutoringVectorEnv: autoreset_mode must be"):
        _native("Tutoring-v0", 2, autoreset_mode=mode)
