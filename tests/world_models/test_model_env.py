from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from torch import nn

from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer
from lucidgym.world_models.model_env import ModelEnv, ModelVectorEnv
from lucidgym.world_models.protocol import Prediction


class State(NamedTuple):
    obs: torch.Tensor


class ShiftModel(nn.Module):
    """next obs = obs + 0.1 * action; reward = action; done once obs[0] exceeds 0.95."""

    observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def initial_state(self, batch_size: int) -> State:
        return State(torch.zeros(batch_size, 2))

    def observe(self, state: State, action: Any, obs: torch.Tensor):
        z = torch.zeros(obs.shape[0])
        return State(obs), Prediction(obs, z, z)

    def imagine(self, state: State, action: torch.Tensor):
        obs = state.obs + 0.1 * action.float()[:, None]
        done = (obs[:, 0] > 0.95).float()
        return State(obs), Prediction(obs, action.float(), done, torch.full_like(done, 0.5))


STARTS = np.array([[0.0, 0.5], [0.2, 0.1]], dtype=np.float32)


def test_model_env_passes_gymnasium_checks():
    check_env(ModelEnv(ShiftModel(), STARTS, max_episode_steps=20), skip_render_check=True)


def test_model_env_steps_follow_the_model():
    env = ModelEnv(ShiftModel(), STARTS, max_episode_steps=4)
    obs, _ = env.reset(seed=0)
    assert any(np.array_equal(obs, s) for s in STARTS)
    nxt, reward, terminated, truncated, info = env.step(2)
    assert nxt == pytest.approx(np.minimum(obs + 0.2, 1.0))
    assert reward == 2.0 and not terminated and not truncated
    assert info["uncertainty"] == 0.5
    for _ in range(3):
        *_, truncated, _ = env.step(0)
    assert truncated
    with pytest.raises(ValueError, match="outside"):
        env.step(3)


def test_uncertainty_penalty_lowers_the_reward():
    env = ModelEnv(ShiftModel(), STARTS, uncertainty_penalty=2.0)
    env.reset(seed=0)
    assert env.step(1)[1] == pytest.approx(1.0 - 2.0 * 0.5)


def test_predicted_done_terminates():
    env = ModelEnv(ShiftModel(), np.array([[0.5, 0.0]], np.float32), max_episode_steps=50)
    env.reset(seed=0)
    ends = [env.step(2)[2] for _ in range(3)]
    assert ends == [False, False, True]


def test_starts_from_a_buffer_are_episode_starts():
    buffer = SequenceReplayBuffer(ShiftModel.observation_space, ShiftModel.action_space, 100)
    for start in (0.1, 0.3):
        obs = np.array([[start, 0.0], [0.6, 0.6], [0.7, 0.7]], np.float32)
        buffer.add_episode(Episode(obs, np.zeros(2), np.zeros(2), np.zeros(2, bool)))
    env = ModelEnv(ShiftModel(), buffer)
    firsts = {round(float(env.reset(seed=i)[0][0]), 3) for i in range(20)}
    assert firsts == {0.1, 0.3}
    anywhere = ModelEnv(ShiftModel(), buffer, start_from="any")
    assert len({round(float(anywhere.reset(seed=i)[0][0]), 3) for i in range(40)}) > 2


def test_vector_env_autoresets_on_the_next_step():
    env = ModelVectorEnv(ShiftModel(), STARTS, num_envs=3, max_episode_steps=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 2)
    _, r1, _, tr1, _ = env.step(np.array([1, 1, 1]))
    _, r2, _, tr2, _ = env.step(np.array([1, 1, 1]))
    assert r1.tolist() == [1, 1, 1] and not tr1.any() and tr2.all()
    obs3, r3, te3, tr3, _ = env.step(np.array([2, 2, 2]))
    assert r3.tolist() == [0, 0, 0] and not te3.any() and not tr3.any()
    assert all(any(np.array_equal(o, s) for s in STARTS) for o in obs3)
    _, r4, _, _, _ = env.step(np.array([2, 0, 1]))
    assert r4.tolist() == [2, 0, 1]
    with pytest.raises(ValueError):
        env.step(np.array([0, 1]))


def test_vector_env_same_step_equals_sync_vector_env_of_model_envs():
    """Same seed and actions: one copy steps, ends and restarts as a ``SyncVectorEnv`` does."""
    same = AutoresetMode.SAME_STEP
    vector = ModelVectorEnv(ShiftModel(), STARTS, num_envs=1, max_episode_steps=3,
                            autoreset_mode=same)  # fmt: skip
    assert vector.metadata["autoreset_mode"] is same
    assert ModelVectorEnv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    reference = SyncVectorEnv(
        [lambda: ModelEnv(ShiftModel(), STARTS, max_episode_steps=3)], autoreset_mode=same
    )
    assert np.array_equal(vector.reset(seed=4)[0], reference.reset(seed=4)[0])
    rng, ends = np.random.default_rng(0), 0
    for t in range(40):
        actions = rng.integers(3, size=1)
        *got, info = vector.step(actions)
        *expected, expected_info = reference.step(actions)
        for g, e in zip(got, expected, strict=True):
            assert np.array_equal(g, e), t
        assert ("final_obs" in info) == ("final_obs" in expected_info), t
        if "final_obs" in info:
            ends += 1
            for key in ("_final_obs", "_final_info"):
                assert np.array_equal(info[key], expected_info[key]), t
            assert np.array_equal(info["final_obs"][0], expected_info["final_obs"][0]), t
            final, expected_final = info["final_info"], expected_info["final_info"]
            assert set(final) >= {"done_probability", "_done_probability"}
            assert final["done_probability"][0] == expected_final["done_probability"][0], t
    assert ends >= 5


def test_vector_env_same_step_restarts_copies_in_the_step_that_ends_them():
    env = ModelVectorEnv(ShiftModel(), STARTS, num_envs=3, max_episode_steps=2,
                         autoreset_mode="SameStep")  # fmt: skip
    env.reset(seed=0)
    _, r1, _, tr1, info1 = env.step(np.array([1, 1, 1]))
    assert r1.tolist() == [1, 1, 1] and not tr1.any() and "final_obs" not in info1
    obs, r2, _, tr2, info = env.step(np.array([2, 0, 1]))
    assert r2.tolist() == [2, 0, 1] and tr2.all()  # the real reward, with the end
    assert info["_final_obs"].all() and info["final_info"]["_done_probability"].all()
    assert all(any(np.array_equal(o, s) for s in STARTS) for o in obs)  # fresh starts
    assert not any(np.array_equal(f, o) for f, o in zip(info["final_obs"], obs, strict=True))
    _, r3, _, tr3, _ = env.step(np.array([2, 2, 2]))
    assert r3.tolist() == [2, 2, 2] and not tr3.any()  # a new episode, counted from 0
    with pytest.raises(ValueError, match="autoreset_mode must be"):
        ModelVectorEnv(ShiftModel(), STARTS, num_envs=3, autoreset_mode=AutoresetMode.DISABLED)


def _sticky_random(num_envs: int, repeat: float, seed: int):
    """Random actions that repeat the previous one with probability ``repeat``.

    Runs of the same strategy show the model what repetition does to a student (boredom,
    quitting), which uniform random data almost never shows.
    """
    rng = np.random.default_rng(seed)
    previous = rng.integers(8, size=num_envs)

    def policy(obs: np.ndarray) -> np.ndarray:
        nonlocal previous
        fresh = rng.integers(8, size=num_envs)
        previous = np.where(rng.random(num_envs) < repeat, previous, fresh)
        return previous

    return policy


def test_ppo_trained_only_inside_a_learned_tutoring_model_beats_random():
    # One thread: small networks gain nothing from two, and lose much on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _ppo_inside_the_model_beats_random()
    finally:
        torch.set_num_threads(threads)


def _ppo_inside_the_model_beats_random():
    if "Tutoring-v0" not in gym.registry:
        pytest.skip("Tutoring-v0 is not registered")
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from lucidgym.world_models.collect import collect_to_buffer, make_collection_env
    from lucidgym.world_models.registry import make_world_model
    from lucidgym.world_models.trainer import Trainer, TrainerConfig

    torch.manual_seed(0)
    real = make_collection_env("Tutoring-v0", 32)
    buffer = collect_to_buffer(real, 200, _sticky_random(32, 0.7, 0), seed=0)
    model = make_world_model("mlp", real.single_observation_space, real.single_action_space)
    Trainer(model, TrainerConfig(steps=600, progress=False, threads=1, eval_fraction=0.0)).fit(
        buffer
    )
    dream = make_vec_env(lambda: ModelEnv(model, buffer, max_episode_steps=80), n_envs=4, seed=0)
    ppo = PPO("MlpPolicy", dream, n_steps=256, batch_size=256, n_epochs=4, learning_rate=1e-3,
              ent_coef=0.01, seed=0, device="cpu")  # fmt: skip
    ppo.learn(8192)

    def mean_return(act, episodes: int = 150) -> float:
        env = gym.make("Tutoring-v0")
        total = 0.0
        for i in range(episodes):
            obs, _ = env.reset(seed=5000 + i)
            done = False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(act(obs))
                total += float(reward)
                done = terminated or truncated
        return total / episodes

    rng = np.random.default_rng(1)
    random_return = mean_return(lambda obs: int(rng.integers(8)))
    ppo_return = mean_return(lambda obs: int(ppo.predict(obs, deterministic=False)[0]))
    assert ppo_return > 1.15 * random_return, (ppo_return, random_return)
