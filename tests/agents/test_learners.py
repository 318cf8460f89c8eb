"""The ``Learner`` contract: every learner reports the real env steps it took."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.agents import Learner, make_agent


class StepCountingEnv(gym.Env[np.ndarray, int]):
    """A 20-step episode of noise that counts every real ``step`` of every copy."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    steps = 0

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action: int):
        StepCountingEnv.steps += 1
        self._t += 1
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return obs, float(action), False, self._t >= 20, {}


gym.register("lucidgym-test/StepCounting-v0", entry_point=StepCountingEnv)

TINY_MODEL = {
    "model": "mlp",
    "model_config": {"hidden_size": 16},
    "learning": {"train_steps": 5, "refit_steps": 5, "chunks": 1, "batch_size": 4, "seq_len": 4},
}
LEARNERS = {
    "reactive": {},
    "sb3:PPO": {},
    "greedy": TINY_MODEL,
    "mcts": {**TINY_MODEL, "num_simulations": 4, "max_depth": 2},
    "baby": {"num_envs": 4, "rollout_steps": 1},
    "dyna": {"num_envs": 4, "prefill_steps": 40, "horizon": 3, "train_every": 8},
}


@pytest.mark.parametrize("name", LEARNERS)
def test_trained_env_steps_is_the_count_the_env_saw(name):
    pytest.importorskip("stable_baselines3")
    env = gym.make("lucidgym-test/StepCounting-v0")
    agent = make_agent(name, env, **LEARNERS[name])
    assert isinstance(agent, Learner) and agent.trained_env_steps == 0
    StepCountingEnv.steps = 0
    agent.learn(env, 100, seed=0)
    assert agent.trained_env_steps == StepCountingEnv.steps >= 100


def test_the_model_free_baseline_reports_the_steps_of_its_sb3_learner():
    # SB3 collects whole rollouts of 2,048 steps: a budget of 100 takes one of them.
    pytest.importorskip("stable_baselines3")
    env = gym.make("CartPole-v1")
    reactive, ppo = make_agent("reactive", env), make_agent("sb3:PPO", env)
    reactive.learn(env, 100, seed=0)
    ppo.learn(env, 100, seed=0)
    assert reactive.trained_env_steps == ppo.trained_env_steps == 2048


def test_a_benchmark_run_records_the_real_steps():
    pytest.importorskip("stable_baselines3")
    from lucidgym.benchmarks.runner import run_one
    from lucidgym.benchmarks.specs import RunSpec

    record = run_one(RunSpec("CartPole-v1", "reactive", budget=100, episodes=1), make_agent)
    assert record.env_steps == 2048
