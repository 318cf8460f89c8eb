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
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        hits += info["success"]
        if terminated or truncated:  # stepping on past an episode's end is refused
            obs, _ = env.reset()
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


# -- resumable saves -------------------------------------------------------------------


def _optimizer_states_equal(a, b) -> bool:
    if a["param_groups"] != b["param_groups"] or set(a["state"]) != set(b["state"]):
        return False
    return all(
        set(a["state"][i]) == set(b["state"][i])
        and all(torch.equal(a["state"][i][k], b["state"][i][k]) for k in a["state"][i])
        for i in a["state"]
    )


@pytest.mark.parametrize(
    ("algo", "kwargs"), [("PPO", {"n_steps": 64, "batch_size": 64}), ("A2C", {"n_steps": 8})]
)
def test_loaded_on_policy_agent_keeps_its_optimizer_and_step_count(tmp_path, algo, kwargs):
    env = gym.make("PatternEcho-v0")
    agent = make_sb3_agent(algo, env, seed=0, **kwargs)
    agent.learn(env, 128, seed=0)
    agent.save(tmp_path / algo)
    loaded = SB3Agent.load(tmp_path / algo)
    assert loaded.model.num_timesteps == agent.model.num_timesteps == 128
    saved_state = agent.model.policy.optimizer.state_dict()
    assert saved_state["state"]  # Adam's (RMSprop's) running moments after the updates
    assert _optimizer_states_equal(loaded.model.policy.optimizer.state_dict(), saved_state)
    assert loaded.model._n_updates == agent.model._n_updates > 0

    curves = loaded.learn(gym.make("PatternEcho-v0"), 128, seed=1)
    assert loaded.model.num_timesteps == 256 and loaded.trained_env_steps == 128
    assert min(curves["env_steps"]) > 128  # the curves go on from the saved count
    # The same updates as the saved agent learning on in memory, to the last bit.
    agent.learn(gym.make("PatternEcho-v0"), 128, seed=1)
    after = dict(agent.model.policy.state_dict())
    assert all(torch.equal(v, after[k]) for k, v in loaded.model.policy.state_dict().items())


def test_learning_again_goes_on_counting():
    env = gym.make("PatternEcho-v0")
    agent = make_sb3_agent("PPO", env, n_steps=64, batch_size=64, seed=0)
    agent.learn(env, 64, seed=0)
    agent.learn(env, 64, seed=0)
    assert agent.model.num_timesteps == 128 and agent.trained_env_steps == 64


@pytest.mark.parametrize(
    ("algo", "env_id"), [("DQN", "PatternEcho-v0"), ("SAC", "Pendulum-v1"), ("TD3", "Pendulum-v1")]
)
def test_off_policy_saves_keep_optimizers_and_counters_not_the_replay_buffer(
    tmp_path, algo, env_id
):
    env = gym.make(env_id)
    agent = make_sb3_agent(algo, env, learning_starts=16, buffer_size=200, seed=0)
    agent.learn(env, 48, seed=0)
    agent.save(tmp_path / algo)
    loaded = SB3Agent.load(tmp_path / algo)
    names, variables = agent.model._get_torch_save_params()
    for name in names[1:]:  # the first is the policy: its weights
        saved = agent.model
        got = loaded.model
        for part in name.split("."):
            saved, got = getattr(saved, part), getattr(got, part)
        assert _optimizer_states_equal(got.state_dict(), saved.state_dict()), name
    for name in variables:  # SAC's entropy coefficient
        assert torch.equal(getattr(loaded.model, name), getattr(agent.model, name))
    for counter in ("num_timesteps", "_episode_num", "_n_updates", "_n_calls"):
        assert getattr(loaded.model, counter, None) == getattr(agent.model, counter, None)
    assert agent.model.replay_buffer.size() == 48
    assert loaded.model.replay_buffer.size() == 0  # too big to keep; see resume's docstring
    loaded.learn(gym.make(env_id), 16, seed=1)
    assert loaded.model.num_timesteps == 64


def test_a_folder_saved_without_training_state_still_loads(tmp_path):
    from lucidgym.files import save_tensors, space_to_json

    env = gym.make("PatternEcho-v0")
    agent = make_sb3_agent("PPO", env, n_steps=64, batch_size=64, seed=0)
    agent.learn(env, 64, seed=0)
    meta = {
        "agent": "sb3:PPO",
        "algo": "PPO",
        "policy": "MlpPolicy",
        "deterministic": True,
        "kwargs": {"n_steps": 64, "batch_size": 64, "seed": 0},
        "observation_space": space_to_json(env.observation_space),
        "action_space": space_to_json(env.action_space),
    }  # what save() wrote before it kept optimizer states
    save_tensors(tmp_path / "old", agent.model.policy.state_dict(), meta)
    loaded = SB3Agent.load(tmp_path / "old")
    obs, _ = env.reset(seed=3)
    assert loaded.act(obs) == agent.act(obs) and loaded.model.num_timesteps == 0


def test_a_training_state_that_does_not_fit_names_the_file(tmp_path):
    from lucidgym.files import load_tensors, save_tensors

    env = gym.make("PatternEcho-v0")
    make_sb3_agent("PPO", env, n_steps=64, batch_size=64).save(tmp_path / "ppo")
    tensors, meta = load_tensors(tmp_path / "ppo")
    meta["training"]["optimizers"] = {}
    save_tensors(tmp_path / "ppo", tensors, meta)
    with pytest.raises(ValueError, match=r"config\.json.*policy\.optimizer"):
        SB3Agent.load(tmp_path / "ppo")


# -- many copies at a time -------------------------------------------------------------


def test_num_envs_trains_on_copies_and_is_saved(tmp_path):
    env = gym.make("PatternEcho-v0")
    agent = make_sb3_agent("PPO", env, num_envs=4, n_steps=64, batch_size=64, seed=0)
    assert agent.model.n_envs == 4
    curves = agent.learn(env, 256, seed=0)
    assert agent.trained_env_steps == 256
    assert len(curves["episode_return"]) == 8  # two 32-step episodes in each copy
    assert agent.settings()["hyperparameters"]["n_envs"] == 4
    agent.save(tmp_path / "ppo4")
    loaded = SB3Agent.load(tmp_path / "ppo4")
    assert loaded.num_envs == 4 and loaded.model.num_timesteps == 256
    loaded.learn(env, 256, seed=1)
    assert loaded.model.num_timesteps == 512


def test_ppo_on_four_copies_learns_pattern_echo():
    env = gym.make("PatternEcho-v0")
    agent = make_sb3_agent(
        "PPO", env, num_envs=4, n_steps=64, batch_size=64, learning_rate=3e-3, seed=0
    )
    before = _success(agent)
    agent.learn(env, 4096, seed=0)
    assert _success(agent) > max(0.5, before + 0.3)  # chance is 1/8


def test_num_envs_refuses_what_it_cannot_copy():
    env = gym.make("PatternEcho-v0")
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        make_sb3_agent("PPO", env, num_envs=0)
    from gymnasium.envs.classic_control import CartPoleEnv

    with pytest.raises(ValueError, match="not made by gym.make"):
        make_sb3_agent("PPO", CartPoleEnv(), num_envs=2)  # no spec: no id to copy it from


def test_a_vec_env_given_sets_the_number_of_copies():
    from stable_baselines3.common.env_util import make_vec_env

    agent = make_sb3_agent("PPO", make_vec_env("PatternEcho-v0", 3), n_steps=32, batch_size=48)
    assert agent.num_envs == agent.model.n_envs == 3
    with pytest.raises(ValueError, match="a VecEnv of 3 copies for an agent of num_envs=2"):
        make_sb3_agent("PPO", make_vec_env("PatternEcho-v0", 3), num_envs=2)
