import gymnasium as gym
import numpy as np
import pytest
import torch

import lucidgym  # noqa: F401
from lucidgym.agents.baby import BabyAgent
from lucidgym.agents.protocol import AGENTS, Learner, Transition

FAST = {"num_envs": 8, "rollout_steps": 1, "learning_rate": 1e-3}


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def test_registered_and_about_117k_parameters():
    env = gym.make("PatternEcho-v0")
    agent = AGENTS["baby"](env)
    assert isinstance(agent, Learner) and isinstance(agent, BabyAgent)
    count = sum(p.numel() for p in agent.model.parameters())
    assert 110_000 < count < 125_000


def test_learns_pattern_echo_far_above_chance():
    env = gym.make("PatternEcho-v0")
    agent = BabyAgent(env, **FAST)
    before = agent.evaluate(env, 16, seed=123)["success_rate"]
    curves = agent.learn(env, 1500, seed=0)
    after = agent.evaluate(env, 16, seed=123)["success_rate"]
    assert curves["env_steps"][-1] <= 1500
    assert len(curves["episode_return"]) == len(curves["success_rate"]) > 0
    assert "reward/goal" in curves and "loss/world_model" in curves
    # Chance is 1/8; the defaults solve PatternEcho within this budget on every seed tried.
    assert after > 0.9
    assert after > before + 0.2


def test_without_world_model_head_still_learns():
    env = gym.make("PatternEcho-v0")
    agent = BabyAgent(env, world_model_coef=0.0, **FAST)
    curves = agent.learn(env, 1500, seed=1)
    assert agent.evaluate(env, 16, seed=7)["success_rate"] > 0.9
    # The head is not trained: its loss stays where an untrained head starts.
    assert curves["loss/world_model"][-1] > 0.5 * curves["loss/world_model"][0]


def test_world_model_head_learns_the_next_observation():
    # In SequenceNext the next symbol follows from the episode so far; a head that is
    # not trained (world_model_coef=0) shows the loss of a blind guess.
    env = gym.make("SequenceNext-v0")
    final = {}
    for coef in (1.0, 0.0):
        torch.manual_seed(0)
        curves = BabyAgent(env, world_model_coef=coef, **FAST).learn(env, 1200, seed=0)
        final[coef] = np.mean(curves["loss/world_model"][-20:])
    assert final[1.0] < 0.8 * final[0.0]


def test_save_load_gives_identical_actions(tmp_path):
    env = gym.make("SequenceNext-v0")
    agent = BabyAgent(env, num_envs=4)
    agent.learn(env, 200, seed=0)
    agent.save(tmp_path / "baby")
    loaded = BabyAgent.load(tmp_path / "baby")
    obs, _ = env.reset(seed=3)
    agent.reset()
    loaded.reset()
    for _ in range(40):
        a, b = agent.act(obs), loaded.act(obs)
        assert a == b
        next_obs, reward, terminated, truncated, info = env.step(a)
        t = Transition(obs, a, float(reward), next_obs, terminated, truncated, info)
        agent.observe(t)
        loaded.observe(t)
        obs = next_obs
        if terminated or truncated:  # stepping on past an episode's end is refused
            obs, _ = env.reset()
            agent.reset()
            loaded.reset()


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="Discrete action space"):
        BabyAgent(gym.make("MovingDot-v0"))
    with pytest.raises(ValueError, match="unknown config keys"):
        BabyAgent(gym.make("PatternEcho-v0"), widht=3)
