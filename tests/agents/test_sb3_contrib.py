"""sb3-contrib's algorithms as ``sb3:<ALGO>`` agents; ``RecurrentPPO`` keeps its LSTM state."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import lucidgym  # noqa: F401
from lucidgym.agents.registry import agent_names, make_agent
from lucidgym.agents.sb3.agent import SB3Agent

pytest.importorskip("sb3_contrib")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


def _episode(agent, env, seed):
    obs, _ = env.reset(seed=seed)
    agent.reset(seed=0)
    actions, total, done = [], 0.0, False
    while not done:
        action = agent.act(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        actions.append(action)
        total, done = total + float(reward), terminated or truncated
    return actions, total


def test_contrib_algorithms_are_listed_and_named_in_any_case():
    assert "sb3:RecurrentPPO" in agent_names()
    agent = make_agent("sb3:recurrentppo", gym.make("PatternEcho-v0"), n_steps=32)
    assert agent.algo == "RecurrentPPO" and agent.recurrent
    assert agent.policy_name == "MlpLstmPolicy"


def test_the_lstm_state_is_carried_within_an_episode_and_cleared_by_reset():
    env = gym.make("SequenceNext-v0")
    agent = make_agent("sb3:RecurrentPPO", env, n_steps=32, seed=0)
    first, _ = _episode(agent, env, seed=3)
    again, _ = _episode(agent, env, seed=3)
    assert first == again  # reset() forgets what the last episode left in the LSTM
    obs, _ = env.reset(seed=3)
    agent.reset()
    agent.act(obs)
    carried = [np.array(h, copy=True) for h in agent._hidden]
    agent.act(obs)
    assert any(not np.array_equal(a, b) for a, b in zip(carried, agent._hidden, strict=True))


@pytest.mark.slow
def test_recurrent_ppo_learns_pattern_echo_and_reloads(tmp_path):
    # Untrained it scores about chance (4.5 of 32); 2,048 steps lift it past 15.
    env = gym.make("PatternEcho-v0")
    agent = make_agent(
        "sb3:RecurrentPPO", env, n_steps=128, batch_size=64, learning_rate=3e-3, seed=0
    )
    _, before = _episode(agent, env, seed=11)
    agent.learn(env, 2048, seed=0)
    actions, after = _episode(agent, env, seed=11)
    assert after > before + 8.0, (before, after)
    agent.save(tmp_path / "rppo")
    loaded = SB3Agent.load(tmp_path / "rppo")
    assert loaded.recurrent
    assert _episode(loaded, env, seed=11)[0] == actions
