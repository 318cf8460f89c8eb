"""``make_agent``, the planning agents on real envs, and the simple agents."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import lucidgym  # noqa: F401
from lucidgym.agents import Learner, Transition, agent_names, make_agent
from lucidgym.agents.planning.agents import ModelPlanningAgent
from lucidgym.agents.planning.dynamics import WorldModelDynamics, oracle_dynamics

PLANNING = ("greedy", "dream", "mcts", "beam")
TINY = {
    "model_config": {"hidden_size": 32},
    "learning": {"train_steps": 30, "refit_steps": 10, "chunks": 1, "batch_size": 8, "seq_len": 8},
}
SMALL_PLANNERS = {
    "greedy": {},
    "dream": {"horizon": 4, "num_candidates": 16},
    "mcts": {"num_simulations": 8, "max_depth": 3},
    "beam": {"width": 2, "depth": 3},
}


def run_episodes(agent, env, episodes: int, seed: int = 100) -> np.ndarray:
    returns = []
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        agent.reset(seed=e)
        done, total = False, 0.0
        while not done:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, info = env.step(action)
            agent.observe(
                Transition(obs, action, float(reward), next_obs, terminated, truncated, info)
            )
            obs, total, done = next_obs, total + float(reward), terminated or truncated
        returns.append(total)
    return np.array(returns)


def test_agent_names_lists_the_planners_and_simple_agents():
    names = agent_names()
    for name in (*PLANNING, "random", "reactive"):
        assert name in names


def test_unknown_agent_lists_valid_names():
    with pytest.raises(ValueError, match="unknown agent 'nope'.*dream"):
        make_agent("nope", gym.make("CartPole-v1"))


def test_unknown_config_key_is_named():
    with pytest.raises(ValueError, match="unknown config keys \\['horizn'\\]"):
        make_agent("dream", gym.make("PatternEcho-v0"), horizn=3)


def test_oracle_needs_a_simulator():
    with pytest.raises(ValueError, match="CartPole-v1 has no true simulator"):
        make_agent("mcts", gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="no true simulator"):
        oracle_dynamics(gym.make("CartPole-v1"))


def test_unsupported_spaces_are_refused_at_construction():
    env = gym.make("FrozenLake-v1")  # Discrete observations: no learned model fits
    with pytest.raises(ValueError, match="dream.*FrozenLake-v1.*Box observation space"):
        make_agent("dream", env, model="mlp")
    with pytest.raises(ValueError, match="unknown world model"):
        make_agent("dream", gym.make("CartPole-v1"), model="nope")


@pytest.mark.parametrize("name", PLANNING)
def test_planning_agent_learns_a_model_of_cartpole_and_reloads_it(name, tmp_path):
    torch.manual_seed(0)
    env = gym.make("CartPole-v1", max_episode_steps=30)
    agent = make_agent(name, env, model="mlp", **TINY, **SMALL_PLANNERS[name])
    assert isinstance(agent, Learner)
    curves = agent.learn(gym.make("CartPole-v1"), 150, seed=0)
    assert curves["env_steps"] and len(curves["env_steps"]) == len(curves["episode_return"])
    assert curves["env_steps"][-1] <= 150
    assert curves["model_loss"]
    assert agent.trained_env_steps == 150
    agent.save(tmp_path / name)
    again = ModelPlanningAgent.load(tmp_path / name, env)
    obs, _ = env.reset(seed=5)
    agent.reset()
    again.reset()
    assert again.act(obs) == agent.act(obs)


@pytest.mark.parametrize("name", PLANNING)
def test_every_planner_plans_well_in_a_learned_model(name):
    # PatternEcho pays 1 for echoing the symbol shown (random: 4 of 32). The rules are
    # unknown to the model until it is fitted (checked with train_steps=0: every
    # planner then scores about 3).
    torch.manual_seed(0)
    env = gym.make("PatternEcho-v0")
    learning = {"train_steps": 300, "refit_steps": 0, "chunks": 1, "warmup_fraction": 1.0}
    learning |= {"batch_size": 16, "seq_len": 8, "lr": 3e-3}
    agent = make_agent(
        name, env, model="mlp", model_config={"hidden_size": 64}, learning=learning,
        **SMALL_PLANNERS[name],
    )  # fmt: skip
    agent.learn(env, 320, seed=0)
    assert run_episodes(agent, env, 3).mean() >= 20


def test_learned_model_planning_beats_random_on_cartpole():
    # Checked to fail with learning switched off (train_steps=0: the plans of an
    # unfitted model score 13 where random scores 20).
    torch.manual_seed(0)
    env = gym.make("CartPole-v1", max_episode_steps=100)
    learning = {"train_steps": 300, "chunks": 1, "warmup_fraction": 1.0, "seq_len": 8, "lr": 3e-3}
    agent = make_agent(
        "dream",
        env,
        model="mlp",
        model_config={"hidden_size": 64},
        horizon=8,
        num_candidates=32,
        learning=learning,
    )
    agent.learn(gym.make("CartPole-v1"), 500, seed=0)
    planned = run_episodes(agent, env, 3).mean()
    random = run_episodes(make_agent("random", env), env, 10).mean()
    assert planned > 2 * random


def test_oracle_planners_beat_random_on_a_symbolic_env():
    env = gym.make("SequenceNext-v0")
    random = run_episodes(make_agent("random", env, seed=0), env, 3).mean()
    for name in PLANNING:
        agent = make_agent(name, env, **SMALL_PLANNERS[name])
        assert run_episodes(agent, env, 3).mean() > random + 10, name


def test_oracle_lookahead_escapes_delayed_credit():
    # DelayedRecall pays only at the cue: one-step greedy sees no difference between
    # actions until then, a planner that looks past the blanks does.
    env = gym.make("DelayedRecall-v0")
    dream = make_agent("dream", env, mode="cem", horizon=5, num_candidates=128, iterations=3)
    random = make_agent("random", env, seed=0)
    assert run_episodes(dream, env, 2).mean() > run_episodes(random, env, 2).mean() + 3


def test_random_agent_is_seeded():
    env = gym.make("CartPole-v1")
    a, b = make_agent("random", env, seed=3), make_agent("random", env, seed=3)
    obs, _ = env.reset(seed=0)
    assert [a.act(obs) for _ in range(20)] == [b.act(obs) for _ in range(20)]


@pytest.mark.parametrize("made", [True, False], ids=["gym.make", "constructor"])
def test_reactive_on_tutoring_is_the_expert_rules(made):
    # Found through the env's expert_policy() hook, so an env built without gym.make
    # (no spec, no id) gets its rules too.
    from lucidgym.agents.baselines import ExpertAgent
    from lucidgym.envs.tutoring import TutoringEnv
    from lucidgym.envs.tutoring.policies import expert_strategy

    env = gym.make("Tutoring-v0") if made else TutoringEnv()
    agent = make_agent("reactive", env)
    assert isinstance(agent, ExpertAgent)
    obs, _ = env.reset(seed=0)
    for _ in range(10):
        assert agent.act(obs) == int(expert_strategy(obs))
        obs, *_ = env.step(agent.act(obs))


def test_planners_build_on_the_rules_of_an_env_made_without_gym_make():
    from lucidgym.envs.tutoring import TutoringEnv

    env = TutoringEnv()
    dream, mcts = make_agent("dream", env), make_agent("mcts", env)
    assert dream.planner.base_policy is not None and dream.planner.config.mode == "policy"
    assert mcts.planner.base_policy is not None and mcts.planner.config.rollout_depth == 12
    assert make_agent("dream", env, base_policy="none").planner.base_policy is None


def test_dream_without_rules_searches_box_actions_by_cem_and_discrete_by_random_shooting():
    pendulum = make_agent("dream", gym.make("Pendulum-v1"), model="ensemble")
    assert (pendulum.planner.config.mode, pendulum.planner.config.horizon) == ("cem", 20)
    assert pendulum.planner.config.num_candidates == 128
    chosen = make_agent("dream", gym.make("Pendulum-v1"), model="ensemble", mode="random")
    assert (chosen.planner.config.mode, chosen.planner.config.horizon) == ("random", 8)
    cartpole = make_agent("dream", gym.make("CartPole-v1"), model="ensemble")
    assert (cartpole.planner.config.mode, cartpole.planner.config.horizon) == ("random", 8)


def test_oracle_planners_beat_random_on_tutoring():
    pytest.importorskip("lucidgym.envs.tutoring")
    env = gym.make("Tutoring-v0")
    random = run_episodes(make_agent("random", env, seed=0), env, 4, seed=7).mean()
    dream = make_agent("dream", env, mode="policy", horizon=4, samples=2)
    assert run_episodes(dream, env, 4, seed=7).mean() > random + 3


def test_world_model_dynamics_is_a_batched_dynamics():
    from lucidgym.world_models.registry import make_world_model

    env = gym.make("CartPole-v1")
    model = make_world_model("mlp", env.observation_space, env.action_space)
    dynamics = WorldModelDynamics(model)
    obs = torch.zeros(1, 4)
    state, _ = model.observe(model.initial_state(1), None, obs)
    root = dynamics.root(state, obs)
    states = dynamics.take(root, np.zeros(5, dtype=np.int64))
    nxt, rewards, dones = dynamics.step(states, np.array([0, 1, 0, 1, 1]))
    assert rewards.shape == (5,) and dones.dtype == bool and dynamics.observe(nxt).shape == (5, 4)
    r, d, final = dynamics.rollout(states, np.zeros((5, 3), dtype=np.int64))
    assert r.shape == (5, 3) and d.shape == (5, 3) and final.obs.shape == (5, 4)


@pytest.mark.parametrize("name", PLANNING)
def test_planning_agents_act_in_a_box_action_space(name):
    env = gym.make("MovingDot-v0")
    config = dict(SMALL_PLANNERS[name])
    if name == "dream":
        config["mode"] = "cem"
    agent = make_agent(name, env, model="mlp", model_config={"hidden_size": 16}, **config)
    obs, _ = env.reset(seed=0)
    agent.reset()
    for _ in range(2):
        action = agent.act(obs)
        assert env.action_space.contains(action)
        obs, *_ = env.step(action)


def test_measure_planner_speed_reports_batched_and_unbatched_mcts():
    from lucidgym.benchmarks.throughput import measure_planner_speed

    result = measure_planner_speed("mcts", "CartPole-v1", "mlp", 3, num_simulations=8, max_depth=3)
    assert result["decisions"] == 3 and result["decisions_per_s"] > 0
    assert result["simulations_per_s"] == pytest.approx(8 * result["decisions_per_s"])
    assert result["batching_speedup"] > 0 and result["leaf_batch"] == 8
    with pytest.raises(ValueError, match="not a planning agent"):
        measure_planner_speed("random", "CartPole-v1")


def test_measure_planner_speed_fits_a_learned_model_first():
    from lucidgym.benchmarks.throughput import measure_planner_speed

    fresh = measure_planner_speed("greedy", "CartPole-v1", "mlp", 2)
    fitted = measure_planner_speed(
        "greedy", "CartPole-v1", "mlp", 2, fit_steps=60, learning={"train_steps": 5}
    )
    assert fresh["fit_steps"] == 0 and fitted["fit_steps"] == 60
    with pytest.raises(ValueError, match="learns nothing"):
        measure_planner_speed("greedy", "Tutoring-v1", "oracle", 2, fit_steps=10)
    with pytest.raises(ValueError, match="fit_steps must be"):
        measure_planner_speed("greedy", "CartPole-v1", "mlp", 2, fit_steps=-1)


def test_dream_replans_only_when_surprised():
    # SequenceNext is deterministic once the sequence is drawn: the oracle's predictions
    # come true, so the agent follows each plan to its end instead of re-planning.
    env = gym.make("SequenceNext-v0")
    agent = make_agent("dream", env, horizon=2, num_candidates=64, replan_threshold=0.01)
    assert run_episodes(agent, env, 1)[0] == 32
    assert agent.planner.replans == 32 // 2
    assert max(agent.planner.surprises) <= 0.01


def test_reactive_elsewhere_is_a_model_free_learner():
    pytest.importorskip("lucidgym.agents.sb3.agent")
    env = gym.make("CartPole-v1")
    agent = make_agent("reactive", env)
    assert isinstance(agent, Learner)
    obs, _ = env.reset(seed=0)
    agent.reset()
    assert env.action_space.contains(agent.act(obs))
    with pytest.raises(ValueError, match="reactive.*FrozenLake-v1.*Box"):
        make_agent("reactive", gym.make("FrozenLake-v1"))


def test_sb3_names_dispatch_to_the_sb3_agent():
    pytest.importorskip("lucidgym.agents.sb3.agent")
    assert "sb3:PPO" in agent_names()
    agent = make_agent("sb3:PPO", gym.make("CartPole-v1"))
    assert isinstance(agent, Learner)
    with pytest.raises(ValueError, match="unknown SB3 algorithm"):
        make_agent("sb3:NOPE", gym.make("CartPole-v1"))


def test_planners_build_on_expert_rules_where_the_env_has_them():
    tutoring = gym.make("Tutoring-v0")
    mcts = make_agent("mcts", tutoring)
    assert mcts.planner.config.prior_weight == 0.5 and mcts.planner.config.rollout_depth == 12
    assert make_agent("mcts", tutoring, base_policy="none").planner.config.prior_weight == 0.0
    assert make_agent("mcts", gym.make("PatternEcho-v0")).planner.config.prior_weight == 0.0
    learned = make_agent("dream", tutoring, model="ensemble")
    assert learned.planner.config.mode == "policy" and learned.planner.config.confidence == 3.0
    # Repeated dreams of one candidate differ, so the confidence test has a spread to read.
    assert learned.model.config.imagine_mode == "random" and learned.model.config.sample
    assert learned.planner.config.samples == 16 and learned.planner.config.horizon == 15
    oracle = make_agent("dream", tutoring)
    # With the true simulator: many long rule rollouts on common random numbers, no gate.
    config = oracle.planner.config
    assert (config.samples, config.horizon, config.confidence) == (128, 40, 0.0)
    assert config.common_random and config.gamma == 1.0
    chosen = make_agent("dream", tutoring, model="ensemble", model_config={"sample": False})
    assert chosen.model.config.imagine_mode == "random" and not chosen.model.config.sample


def test_dream_warns_that_a_deterministic_model_gives_its_margin_nothing_to_read():
    tutoring = gym.make("Tutoring-v0")
    with pytest.warns(UserWarning, match="'mlp' backend dreams alike every time"):
        make_agent("dream", tutoring, model="mlp")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_agent("dream", tutoring, model="rssm")
        make_agent("dream", tutoring, model="mlp", confidence=0.0)


def test_uncertainty_penalty_lowers_imagined_rewards_by_the_disagreement():
    from lucidgym.world_models.registry import make_world_model

    env = gym.make("CartPole-v1")
    torch.manual_seed(0)
    model = make_world_model("ensemble", env.observation_space, env.action_space)
    plain, pessimist = WorldModelDynamics(model), WorldModelDynamics(model, None, 2.0)
    obs = torch.zeros(4, 4)
    state, _ = model.observe(model.initial_state(4), None, obs)
    actions = np.array([0, 1, 0, 1])
    _, reward, _ = plain.step(plain.root(state, obs), actions)
    _, penalised, _ = pessimist.step(pessimist.root(state, obs), actions)
    _, pred = model.imagine(state, torch.as_tensor(actions))
    expected = reward - 2.0 * pred.uncertainty.detach().numpy()
    np.testing.assert_allclose(penalised, expected, rtol=1e-5, atol=1e-6)
    assert (penalised < reward).all()
    with pytest.raises(ValueError, match="uncertainty_penalty"):
        WorldModelDynamics(model, None, -1.0)
