"""Without an extra, what needs it says which to install in one line; the rest works.

These run where the extras are missing (the no-extras CI job); with them installed
they are skipped, as there is nothing missing to report.
"""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import pytest

import lucidgym  # noqa: F401
from lucidgym.agents import make_agent
from lucidgym.cli import main

no_sb3 = pytest.mark.skipif(
    importlib.util.find_spec("stable_baselines3") is not None, reason="SB3 is installed"
)
no_minari = pytest.mark.skipif(
    importlib.util.find_spec("minari") is not None, reason="Minari is installed"
)


@no_sb3
def test_sb3_agents_name_the_extra():
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match=r'sb3:PPO.*pip install "lucidgym\[sb3\]"'):
        make_agent("sb3:PPO", env)
    with pytest.raises(ValueError, match=r'reactive.*pip install "lucidgym\[sb3\]"'):
        make_agent("reactive", env)


@no_sb3
def test_agents_that_need_no_extra_work_without_one():
    env = gym.make("Tutoring-v0")
    for name in ("random", "reactive", "dream", "mcts"):
        agent = make_agent(name, env, **({"num_simulations": 4} if name == "mcts" else {}))
        obs, _ = env.reset(seed=0)
        agent.reset(seed=0)
        assert env.action_space.contains(agent.act(obs))


@no_sb3
def test_bench_refuses_an_sb3_agent_before_any_run(tmp_path, capsys):
    argv = ["bench", "--env", "CartPole-v1", "--agent", "random", "--agent", "reactive"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "lucidgym[sb3]"' in err and err.count("\n") == 1
    assert not (tmp_path / "b").exists()


@no_minari
def test_data_names_the_extra(capsys):
    assert main(["data", "--env", "Tutoring-v0", "--episodes", "2", "--out", "a/b-v0"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "lucidgym[data]"' in err and "Traceback" not in err


def test_contrib_agents_name_their_extra(monkeypatch):
    import lucidgym.agents.registry as registry

    monkeypatch.setattr(registry, "contrib_available", lambda: False)
    env = gym.make("CartPole-v1")
    if registry.sb3_available():
        with pytest.raises(ValueError, match=r'RecurrentPPO.*pip install "lucidgym\[contrib\]"'):
            make_agent("sb3:RecurrentPPO", env)
        assert "sb3:RecurrentPPO" not in registry.agent_names()
    with pytest.raises(ValueError, match="unknown SB3 algorithm"):
        make_agent("sb3:NoSuchAlgo", env)
