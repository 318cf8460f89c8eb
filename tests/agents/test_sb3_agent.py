import gymnasium as gym
import pytest
import torch

import lucidgym  # noqa: F401
from lucidgym.agents.protocol import Learner
from lucidgym.agents.sb3.agent import SB3Agent, make_sb3_agent


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def _success(agent, seed=5, steps=128):
    env = gym.make("PatternEcho-v0")
    obs, _ = env.reset(seed=seed)
    hits = 0
    for _ in range(steps):
        obs, _, _, _, info = env.step(agent.act(obs))
        hits += info["success"]
    return hits / steps


def test_ppo_learns_pattern_echo_above_random(tmp_path):
    env = gym.make("PatternEcho-v0")
    agent = make_sb3_agent("PPO", env, n_steps=64, batch_size=64, learning_rate=3e-3, seed=0)
    assert isinstance(agent, Learner)
    curves = agent.learn(env, 2048, seed=0)
    assert curves["env_steps"] and len(curves["episode_return"]) == len(curves["success_rate"])
    assert curves["success_rate"][-1] > curves["success_rate"][0]
    learned = _success(agent)
    assert learned > 0.5  # chance is 1/8
    agent.save(tmp_path / "ppo")
    assert not (tmp_path / "ppo" / "model.zip").exists()
    loaded = SB3Agent.load(tmp_path / "ppo")
    assert _success(loaded) == learned


def test_whole_rollouts_are_counted_as_the_env_steps_taken():
    env = gym.make("PatternEcho-v0")
    agent = make_sb3_agent("PPO", env, n_steps=64, batch_size=64, seed=0)
    agent.learn(env, 100, seed=0)
    assert agent.trained_env_steps == 128  # two whole rollouts of 64


def test_unknown_algorithm_lists_valid_ones():
    with pytest.raises(ValueError, match="PPO"):
        make_sb3_agent("NotAnAlgo", gym.make("PatternEcho-v0"))


def test_dqn_on_box_actions_is_rejected_at_construction():
    with pytest.raises(ValueError, match="sb3:DQN cannot be used"):
        make_sb3_agent("DQN", gym.make("MovingDot-v0"))
