"""Dreams weighted by the predicted continuation (``done="expected"``) on a known model."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import pytest
import torch

from lucidgym.agents import make_agent
from lucidgym.agents.planners import BeamConfig, BeamPlanner, imagine_returns
from lucidgym.agents.planning.dynamics import MIN_ALIVE, TimeLimitedDynamics, WorldModelDynamics
from lucidgym.world_models.protocol import Prediction, Rollout

SAFE_REWARD, RISKY_REWARD, RISK = 1.0, 1.5, 0.4


class _Obs(NamedTuple):
    obs: torch.Tensor


class RiskModel:
    """Action 0 pays 1 and never ends the episode; action 1 pays 1.5 and ends it with p 0.4.

    Over three steps without discount, a planner that ignores a done probability under
    0.5 takes the risk every step (4.5); the expected return is highest for [0, 0, 1]:
    1 + 1 + 1.5 = 3.5, the risk taken only when nothing is left to lose.
    """

    device = torch.device("cpu")
    action_space = gym.spaces.Discrete(2)

    def imagine(self, state: _Obs, action: torch.Tensor) -> tuple[_Obs, Prediction]:
        risky = action.float()
        reward = SAFE_REWARD + (RISKY_REWARD - SAFE_REWARD) * risky
        return _Obs(state.obs + 1), Prediction(state.obs + 1, reward, RISK * risky)

    def rollout(self, state: _Obs, actions: torch.Tensor) -> Rollout:
        obs, rewards, dones = [], [], []
        for t in range(actions.shape[1]):
            state, pred = self.imagine(state, actions[:, t])
            obs.append(pred.obs)
            rewards.append(pred.reward)
            dones.append(pred.done)
        return Rollout(
            torch.stack(obs, 1), torch.stack(rewards, 1), torch.stack(dones, 1), None, state
        )


def _expected_return(sequence: tuple[int, ...]) -> float:
    total, alive = 0.0, 1.0
    for a in sequence:
        total += alive * (RISKY_REWARD if a else SAFE_REWARD)
        alive *= 1 - RISK * a
    return total


def _root(dynamics: WorldModelDynamics):
    obs = torch.zeros(1, 1)
    return dynamics.root(_Obs(obs), obs)


SEQUENCES = np.array(list(itertools.product([0, 1], repeat=3)), dtype=np.int64)


class _StepOnly:
    """The dynamics without their one-call ``rollout``, so that planners step them."""

    def __init__(self, dynamics: WorldModelDynamics) -> None:
        self.dynamics, self.action_space = dynamics, dynamics.action_space

    def step(self, states, actions):
        return self.dynamics.step(states, actions)

    def take(self, states, index):
        return self.dynamics.take(states, index)

    def continuation(self, states):
        return self.dynamics.continuation(states)


@pytest.mark.parametrize("one_call", [True, False])
def test_expected_done_weighs_each_reward_by_the_chance_the_episode_still_runs(one_call):
    dynamics = WorldModelDynamics(RiskModel(), done="expected")
    planned = dynamics if one_call else _StepOnly(dynamics)
    returns = imagine_returns(planned, _root(dynamics), SEQUENCES, gamma=1.0)
    expected = [_expected_return(tuple(s)) for s in SEQUENCES]
    np.testing.assert_allclose(returns, expected, rtol=1e-6)
    assert SEQUENCES[int(np.argmax(returns))].tolist() == [0, 0, 1]


def test_threshold_done_ignores_a_risk_under_one_half():
    dynamics = WorldModelDynamics(RiskModel())
    returns = imagine_returns(dynamics, _root(dynamics), SEQUENCES, gamma=1.0)
    np.testing.assert_allclose(returns, SEQUENCES.sum(1) * 0.5 + 3.0)
    assert SEQUENCES[int(np.argmax(returns))].tolist() == [1, 1, 1]


def test_beam_search_finds_the_expected_best_plan():
    dynamics = WorldModelDynamics(RiskModel(), done="expected")
    planner = BeamPlanner(BeamConfig(width=8, depth=3, gamma=1.0))
    assert int(planner.plan(dynamics, _root(dynamics))) == 0
    assert planner.last_plan.tolist() == [0, 0, 1]
    threshold = WorldModelDynamics(RiskModel())
    assert planner.plan(threshold, _root(threshold)) == 1


def test_a_dream_ends_once_its_continuation_falls_below_the_floor():
    dynamics = WorldModelDynamics(RiskModel(), done="expected")
    states = _root(dynamics)
    ended = []
    for _ in range(12):
        states, _, done = dynamics.step(states, np.ones(1, dtype=np.int64))
        ended.append(bool(done[0]))
    first = ended.index(True)
    assert (1 - RISK) ** first >= MIN_ALIVE > (1 - RISK) ** (first + 1)
    assert all(ended[first:])
    np.testing.assert_allclose(dynamics.continuation(states), (1 - RISK) ** 12, rtol=1e-5)
    timed = TimeLimitedDynamics(dynamics, limit=100)
    assert timed.continuation(timed.root(states, 0))[0] == pytest.approx((1 - RISK) ** 12, rel=1e-5)


def test_the_done_mode_is_checked():
    with pytest.raises(ValueError, match="done must be one of"):
        WorldModelDynamics(RiskModel(), done="soft")
    with pytest.raises(ValueError, match="done must be one of"):
        make_agent("dream", gym.make("CartPole-v1"), model="mlp", done="soft")
