"""SB3VecEnv: Gymnasium vector envs as SB3 VecEnvs, with SB3's same-step reset."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.monitor import Monitor  # noqa: E402
from stable_baselines3.common.vec_env import (  # noqa: E402
    DummyVecEnv,
    VecCheckNan,
    VecEnv,
    VecMonitor,
)

import lucidgym  # noqa: E402, F401
from lucidgym.agents.sb3.vec_env import SB3VecEnv, make_sb3_vec_env, unbatch_info  # noqa: E402

N = 3


def _play(venv: VecEnv, steps: int, seed: int = 7) -> list[Any]:
    """Everything ``venv`` returns over ``steps`` seeded random actions."""
    venv.seed(seed)
    record: list[Any] = [venv.reset(), list(venv.reset_infos)]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs, rewards, dones, infos = venv.step(rng.integers(0, 5, size=venv.num_envs))
        record.append((obs, rewards, dones, infos, list(venv.reset_infos)))
    return record


def _same(a: Any, b: Any) -> bool:
    """Equal values, arrays and NumPy scalars compared by value, dicts by keys too."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_transitions_equal_those_of_dummy_vec_env_over_single_envs(mode: AutoresetMode) -> None:
    """Same seeds and actions: every observation, reward, done and info alike."""
    dummy = DummyVecEnv([lambda: gym.make("Tutoring-v0")] * N)
    vector = gym.make_vec(
        "Tutoring-v0", N, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )
    _assert_same_transitions(_play(SB3VecEnv(vector), 300), _play(dummy, 300), ends=5)


def _assert_same_transitions(got: list[Any], expected: list[Any], ends: int) -> None:
    """Every observation, reward, done and info of two ``_play`` records alike."""
    assert sum(int(step[2].sum()) for step in expected[2:]) >= ends  # resets are exercised
    # DummyVecEnv's infos hold the env's Python values; a vector env batches them into
    # NumPy arrays, so values are compared as arrays of the vector env's dtypes.
    assert _same(got[0], expected[0])
    for step, (g, e) in enumerate(zip(got[2:], expected[2:], strict=True)):
        assert _same(g[0], e[0]) and _same(g[1], e[1]) and _same(g[2], e[2]), step
        for gi, ei in zip(g[3], e[3], strict=True):
            assert set(gi) == set(ei), step
            for key in ei:
                assert np.array_equal(np.asarray(gi[key]), np.asarray(ei[key])), (step, key)


def test_make_sb3_vec_env_steps_tutoring_copies_in_its_native_vector_env() -> None:
    """The native env, resetting in the same step: what DummyVecEnv gives, in one call.

    Equal transitions need one copy: the native env's copies share one generator where
    DummyVecEnv's single envs have one each.
    """
    from lucidgym.envs.tutoring import TutoringVectorEnv

    venv = make_sb3_vec_env("Tutoring-v0", num_envs=8)
    assert isinstance(venv, VecMonitor) and isinstance(venv.venv, SB3VecEnv)
    assert isinstance(venv.venv.venv.unwrapped, TutoringVectorEnv)
    assert venv.venv.autoreset_mode is AutoresetMode.SAME_STEP
    dummy = DummyVecEnv([lambda: gym.make("Tutoring-v0")])
    one = make_sb3_vec_env("Tutoring-v0", num_envs=1).venv
    _assert_same_transitions(_play(one, 400), _play(dummy, 400), ends=3)
    space, lengths = venv.observation_space, []
    for obs, _, dones, infos, _ in _play(venv, 200)[2:]:
        assert obs.shape == (8, 20) and all(space.contains(row) for row in obs)
        for done, info in zip(dones, infos, strict=True):
            assert ("terminal_observation" in info) == bool(done)
            if done:
                assert space.contains(info["terminal_observation"])
                assert info["TimeLimit.truncated"] == (info["episode"]["l"] == 80)
                lengths.append(info["episode"]["l"])
    assert len(lengths) >= 8 and max(lengths) <= 80


def test_a_native_vector_env_without_partial_reset_is_refused() -> None:
    """Next-step autoreset and no partial reset: converting it would invent transitions."""
    native = gym.make_vec("Tutoring-v0", N, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match="autoresets on the next step and has no partial reset"):
        SB3VecEnv(native)


def test_a_batched_model_vector_env_is_refused_and_model_env_copies_train() -> None:
    from lucidgym.world_models.model_env import ModelEnv, ModelVectorEnv
    from lucidgym.world_models.registry import make_world_model

    real = gym.make("PatternEcho-v0")
    model = make_world_model("mlp", real.observation_space, real.action_space)
    starts = np.stack([real.observation_space.sample() for _ in range(16)]).astype(np.float32)
    with pytest.raises(ValueError, match="next step"):
        SB3VecEnv(ModelVectorEnv(model, starts, num_envs=N, max_episode_steps=8))
    copies = SyncVectorEnv(
        [lambda: ModelEnv(model, starts, max_episode_steps=8)] * N,
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    ppo = PPO("MlpPolicy", SB3VecEnv(copies), n_steps=16, batch_size=48, n_epochs=1, seed=0)
    ppo.learn(48)
    assert ppo.num_timesteps == 48
    batched = ModelVectorEnv(
        model, starts, num_envs=N, max_episode_steps=8, autoreset_mode=AutoresetMode.SAME_STEP
    )
    ppo = PPO("MlpPolicy", VecMonitor(SB3VecEnv(batched)), n_steps=16, batch_size=48, seed=0)
    ppo.learn(48)
    lengths = [ep["l"] for ep in ppo.ep_info_buffer]  # an untrained model ends some early
    assert len(lengths) >= 2 * N and all(1 <= n <= 8 for n in lengths)


def _vector_that_takes_autoreset_mode(
    num_envs: int, autoreset_mode: AutoresetMode = AutoresetMode.NEXT_STEP, **kwargs: Any
) -> SyncVectorEnv:
    venv = SyncVectorEnv(
        [lambda: gym.make("PatternEcho-v0")] * num_envs, autoreset_mode=autoreset_mode
    )
    venv.built_here = True  # type: ignore[attr-defined]
    return venv


@pytest.fixture
def same_step_id() -> Iterator[str]:
    """An id whose vector entry point takes ``autoreset_mode``, registered for one test."""
    env_id = "LucidgymTest/SameStepEcho-v0"
    gym.register(
        env_id,
        entry_point=lambda **kwargs: gym.make("PatternEcho-v0").unwrapped,
        vector_entry_point=_vector_that_takes_autoreset_mode,
        max_episode_steps=32,
    )
    yield env_id
    del gym.registry[env_id]


def test_make_sb3_vec_env_picks_the_native_env_where_it_resets_in_the_same_step(
    same_step_id: str,
) -> None:
    picked = make_sb3_vec_env(same_step_id, N).venv
    assert isinstance(picked, SB3VecEnv) and getattr(picked.venv, "built_here", False)
    assert picked.autoreset_mode is AutoresetMode.SAME_STEP
    fallback = make_sb3_vec_env(gym.make("CartPole-v1", render_mode="rgb_array"), N)
    assert isinstance(fallback, DummyVecEnv)  # CartPole's native env autoresets late
    assert fallback.env_is_wrapped(Monitor) == [True] * N
    assert fallback.render_mode is None  # copies for training draw nothing
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        make_sb3_vec_env("Tutoring-v0", 0)


def _echo_copies(mode: AutoresetMode, n: int = 4) -> VecEnv:
    vector = gym.make_vec(
        "PatternEcho-v0", n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )
    return VecMonitor(SB3VecEnv(vector))


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_it_meets_the_vec_env_api_sb3_expects(mode: AutoresetMode) -> None:
    venv = _echo_copies(mode)
    space = venv.observation_space
    assert isinstance(venv, VecEnv) and venv.num_envs == 4
    assert venv.get_attr("render_mode") == [None] * 4
    assert venv.env_method("get_wrapper_attr", "spec", indices=[1])[0].id == "PatternEcho-v0"
    checked = VecCheckNan(venv, raise_exception=True)
    checked.seed(3)
    first = checked.reset()
    assert first.shape == (4, *space.shape) and first.dtype == space.dtype
    venv.seed(3)
    assert np.array_equal(venv.reset(), first)  # a seed fixes the episodes
    ends = 0
    for t in range(70):
        obs, rewards, dones, infos = checked.step(np.full(4, t % 8))
        assert rewards.shape == (4,) and rewards.dtype == np.float32 and dones.dtype == bool
        assert all(space.contains(row) for row in obs) and len(infos) == 4
        for done, info in zip(dones, infos, strict=True):
            assert ("terminal_observation" in info) == bool(done)
            assert info["TimeLimit.truncated"] == bool(done)  # PatternEcho ends by time only
            if done:
                assert space.contains(info["terminal_observation"])
                assert info["episode"]["l"] == 32  # VecMonitor's episode statistics
                ends += 1
    assert ends == 8
    mean, _ = evaluate_policy(PPO("MlpPolicy", venv, seed=0), venv, n_eval_episodes=4)
    assert np.isfinite(mean)


def test_ppo_trains_on_it() -> None:
    venv = _echo_copies(AutoresetMode.NEXT_STEP)
    ppo = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=2, seed=0)
    before = [p.detach().clone() for p in ppo.policy.parameters()]
    ppo.learn(256)
    assert ppo.num_timesteps == 256
    assert [ep["l"] for ep in ppo.ep_info_buffer] == [32] * 8  # every episode, whole
    assert any(not torch.equal(a, b) for a, b in zip(ppo.policy.parameters(), before, strict=True))


def test_unbatch_info_reads_gymnasium_masks_and_nested_dicts() -> None:
    info = {
        "success": np.array([1.0, 0.0, 0.0]),
        "_success": np.array([True, False, True]),
        "episode": {"r": np.array([1.0, 2.0, 3.0]), "_r": np.array([False, True, False])},
        "_episode": np.array([False, True, False]),
        "step": 4,
    }
    rows = unbatch_info(info, 3)
    assert rows[0] == {"success": 1.0, "step": 4}
    assert rows[1] == {"episode": {"r": 2.0}, "step": 4}
    assert rows[2] == {"success": 0.0, "step": 4}
