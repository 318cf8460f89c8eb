"""The belief oracle: the true simulator behind a particle filter fed only observations."""

import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.agents.planners.common import imagine_returns
from lucidgym.agents.planning.agents import BeliefPlanningAgent
from lucidgym.agents.planning.belief import ParticleBelief
from lucidgym.agents.protocol import Transition
from lucidgym.agents.registry import make_agent
from lucidgym.envs.tutoring.v1 import rule_actions


class _Counter:
    """States are numbers; a step adds the action and pays the state it leaves."""

    action_space = gym.spaces.Discrete(2)

    def step(self, states, actions):
        return states + actions, states.astype(np.float32), np.zeros(len(states), dtype=bool)

    def take(self, states, index):
        return states[np.asarray(index)]


def test_a_root_of_several_states_starts_row_i_of_every_block_from_state_i():
    root = np.array([0.0, 10.0])
    actions = np.zeros((4, 1), dtype=np.int64)
    np.testing.assert_array_equal(
        imagine_returns(_Counter(), root, actions, 1.0, groups=2), [0, 10, 0, 10]
    )
    one = imagine_returns(_Counter(), root[:1], actions, 1.0, groups=2)
    np.testing.assert_array_equal(one, [0, 0, 0, 0])


def _tracking_error(bandwidth, seeds=4, steps=40):
    """Mean error of the belief's mastery over episodes of the rules."""
    env = gym.make("Tutoring-v1")
    errors = []
    for seed in range(seeds):
        obs, info = env.reset(seed=seed)
        belief = ParticleBelief(env.unwrapped.get_dynamics(seed), 1000, bandwidth, seed=seed)
        belief.start(obs)
        for _ in range(steps):
            action = int(rule_actions(obs))
            obs, _, terminated, truncated, info = env.step(action)
            belief.update(np.int64(action), obs, terminated)
            errors.append(np.abs(belief.mean(belief.states.mastery) - info["true_mastery"]))
            if terminated or truncated:
                break
    return float(np.mean(errors))


def test_the_filter_infers_the_hidden_mastery_from_observations():
    # Particles moved by the same actions but never weighed by what is seen (an infinite
    # bandwidth) miss the true mastery by 0.07 on average; the filter by 0.03.
    filtered, unweighed = _tracking_error(0.2), _tracking_error(1e9)
    assert filtered < 0.6 * unweighed, (filtered, unweighed)


def test_the_belief_agent_never_reads_the_true_state(monkeypatch):
    env = gym.make("Tutoring-v1")
    agent = make_agent("dream", env, model="belief", particles=200, samples=8, horizon=5)
    assert isinstance(agent, BeliefPlanningAgent)

    def peek():
        raise AssertionError("the belief oracle read the hidden state")

    monkeypatch.setattr(env.unwrapped, "get_state", peek)
    obs, _ = env.reset(seed=0)
    agent.reset(seed=0)
    for _ in range(5):
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(Transition(obs, action, reward, next_obs, terminated, truncated, info))
        obs = next_obs
    assert agent.belief is not None and agent.belief.started


def test_bad_belief_options_are_refused():
    env = gym.make("Tutoring-v1")
    with pytest.raises(ValueError, match="particles"):
        make_agent("dream", env, model="belief", particles=0)
    with pytest.raises(ValueError, match="belief_bandwidth"):
        make_agent("dream", env, model="belief", belief_bandwidth=0.0)
    with pytest.raises(ValueError, match="true simulator"):
        make_agent("dream", gym.make("CartPole-v1"), model="belief")
