"""lucidgym's torch-thread default: applied inside its training loops, restored after."""

from __future__ import annotations

import pytest
import torch

from lucidgym.threads import DEFAULT_THREADS, torch_threads
from lucidgym.world_models.trainer import TrainerConfig


def test_torch_threads_sets_the_count_and_restores_it():
    before = torch.get_num_threads()
    seen = []
    with torch_threads(1):
        seen.append(torch.get_num_threads())
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("a failing block restores the count too")
    with torch_threads(None):
        seen.append(torch.get_num_threads())
    assert seen == [1, before] and torch.get_num_threads() == before


def test_torch_threads_refuses_a_count_below_one():
    with pytest.raises(ValueError, match="threads must be positive"), torch_threads(0):
        pass


def test_dyna_learns_with_its_thread_count(monkeypatch):
    import gymnasium as gym

    from lucidgym.agents.dyna import DynaAgent

    seen = []
    monkeypatch.setattr(DynaAgent, "_learn", lambda *args: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    env = gym.make("PatternEcho-v0")
    DynaAgent(env).learn(env, 10)
    DynaAgent(env, threads=None).learn(env, 10)
    assert seen == [DEFAULT_THREADS, before] and torch.get_num_threads() == before
    assert TrainerConfig().threads == DEFAULT_THREADS == 1
