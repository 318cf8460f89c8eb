from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from lucidgym.envs.kernel import KernelDynamics
from lucidgym.world_models.evaluation import (
    collect_eval_data,
    evaluate_world_model,
    observation_scale,
)
from lucidgym.world_models.protocol import Prediction, Rollout


class WalkState(NamedTuple):
    x: np.ndarray


class WalkKernel:
    """x in 0..9 moves by the action - 1, plus -1, 0 or +1 at random when ``noisy``."""

    def __init__(self, noisy: bool) -> None:
        self.noisy = noisy

    def initial(self, rng, n):
        return WalkState(rng.integers(3, 7, size=n))

    def transition(self, state, actions, rng):
        step = (
            np.asarray(actions) - 1 + (rng.integers(-1, 2, size=state.x.shape) if self.noisy else 0)
        )
        x = np.clip(state.x + step, 0, 9)
        n = x.shape[0]
        return WalkState(x), np.zeros(n, np.float32), np.zeros(n, bool), {}

    def observe(self, state):
        return (state.x[:, None] / 9.0).astype(np.float32)


class WalkEnv(gym.Env):
    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def __init__(self, noisy: bool = False) -> None:
        self.kernel = WalkKernel(noisy)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.kernel.initial(self.np_random, 1)
        return self.kernel.observe(self.state)[0], {}

    def step(self, action):
        self.state, _, _, _ = self.kernel.transition(self.state, np.array([action]), self.np_random)
        return self.kernel.observe(self.state)[0], 0.0, False, False, {}

    def get_state(self):
        return WalkState(self.state.x.copy())

    def get_dynamics(self, seed=None):
        return KernelDynamics(self.kernel, self.action_space, seed)


for _id, _noisy in (("TestWalk-v0", False), ("TestNoisyWalk-v0", True)):
    if _id not in gym.registry:
        gym.register(_id, entry_point=WalkEnv, max_episode_steps=15, kwargs={"noisy": _noisy})


class State(NamedTuple):
    x: torch.Tensor


class WalkModel(nn.Module):
    """Predicts x + action - 1 + ``drift`` (the exact dynamics when ``drift`` is 0)."""

    def __init__(self, drift: float = 0.0) -> None:
        super().__init__()
        self.drift = drift

    def initial_state(self, batch_size: int) -> State:
        return State(torch.zeros(batch_size))

    def observe(self, state: State, action: Any, obs: torch.Tensor) -> tuple[State, Prediction]:
        z = torch.zeros(obs.shape[0])
        return State(obs[:, 0] * 9.0), Prediction(obs, z, z)

    def rollout(self, state: State, actions: torch.Tensor) -> Rollout:
        x, out = state.x, []
        for h in range(actions.shape[1]):
            x = torch.clamp(x + actions[:, h].float() - 1 + self.drift, 0.0, 9.0)
            out.append(x / 9.0)
        obs = torch.stack(out, 1)[..., None]
        zeros = torch.zeros(obs.shape[:2])
        return Rollout(obs, zeros, zeros, None, State(x))


def test_perfect_model_on_a_deterministic_env_scores_zero():
    data = collect_eval_data("TestWalk-v0", 6, seed=0)
    errors = evaluate_world_model(WalkModel(), data, horizon=5, context=2)
    assert errors.model == pytest.approx(np.zeros(5), abs=1e-6)
    assert errors.oracle == pytest.approx(np.zeros(5), abs=1e-12)
    assert errors.metrics()["nmae"] == pytest.approx(0.0, abs=1e-6)
    wrong = evaluate_world_model(WalkModel(drift=0.5), data, horizon=5, context=2)
    assert wrong.metrics()["nmae"] > 0.05


def test_persistence_is_the_change_over_the_horizon():
    data = collect_eval_data("TestWalk-v0", 4, seed=1)
    horizon = 3
    errors = evaluate_world_model(None, data, horizon=horizon, max_windows=10_000)
    expected = np.mean(
        [
            abs(ep.obs[s + horizon, 0] - ep.obs[s, 0])
            for ep in data.episodes
            for s in range(16 - horizon)
        ]
    )
    assert errors.windows == 4 * (15 - horizon + 1)
    assert errors.persistence[-1] == pytest.approx(expected, rel=1e-6)
    assert np.isnan(errors.metrics()["nmae"])


def test_oracle_is_the_floor_on_a_stochastic_env():
    data = collect_eval_data("TestNoisyWalk-v0", 20, seed=2)
    oracle_only = evaluate_world_model(None, data, horizon=4, oracle_samples=256)
    # The rule without the noise predicts the median future: it ties with the oracle
    # (up to the oracle's sampling noise); biased models fall behind it.
    exact = evaluate_world_model(WalkModel(drift=0.0), data, horizon=4, oracle_samples=256)
    assert exact.oracle is not None
    assert exact.oracle[-1] == pytest.approx(exact.model[-1], rel=0.05)
    for drift in (0.5, -1.0):
        errors = evaluate_world_model(WalkModel(drift=drift), data, horizon=4, oracle_samples=256)
        assert errors.oracle is not None
        assert errors.oracle[-1] < errors.model[-1] - 0.01
    assert oracle_only.oracle[-1] < oracle_only.persistence[-1]
    mean = evaluate_world_model(None, data, horizon=4, oracle_samples=256, oracle_statistic="mean")
    assert mean.oracle is not None and mean.oracle[-1] >= oracle_only.oracle[-1] - 1e-3
    curve = oracle_only.curve()
    assert curve["horizon"] == [1.0, 2.0, 3.0, 4.0] and len(curve["oracle_nmae"]) == 4


def test_env_without_an_oracle_reports_none():
    data = collect_eval_data("PatternEcho-v0", 2, seed=0)
    data.states = None
    assert evaluate_world_model(None, data, horizon=2).metrics()["oracle_nmae"] is None


def test_infinite_bounds_scale_by_the_data():
    data = collect_eval_data("TestWalk-v0", 3, seed=0)
    space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    low, span = observation_scale(space, data.episodes)
    all_obs = np.concatenate([ep.obs for ep in data.episodes])
    assert low[0] == pytest.approx(all_obs.min()) and span[0] == pytest.approx(np.ptp(all_obs))


def test_bad_arguments():
    data = collect_eval_data("TestWalk-v0", 1, seed=0)
    with pytest.raises(ValueError, match="horizon"):
        evaluate_world_model(None, data, horizon=40)
    with pytest.raises(ValueError, match="oracle_statistic"):
        evaluate_world_model(None, data, horizon=2, oracle_statistic="mode")
