"""Behaviour of the symbolic family: what each task shows, grades and hides."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.envs.symbolic import (
    BLANK,
    DeterministicParent,
    PatternEcho,
    SymbolicEnv,
    SymbolicState,
    SymbolicVectorEnv,
    Task,
    make_task,
)


def _play(env: gym.Env, policy, steps: int, seed: int = 0) -> list[dict]:
    obs, info = env.reset(seed=seed)
    log = []
    for _ in range(steps):
        action = policy(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        log.append(
            {
                "obs": obs,
                "action": action,
                "reward": reward,
                "info": info,
                "terminated": terminated,
                "truncated": truncated,
            }
        )
        obs = next_obs
        if terminated or truncated:
            break
    return log


def test_pattern_echo_is_solved_by_echo() -> None:
    log = _play(gym.make("PatternEcho-v0"), lambda obs, _: int(obs.argmax()), 100)
    assert len(log) == 32, "episodes end on the time limit only"
    assert all(step["reward"] == 1.0 and step["info"]["success"] for step in log)
    assert not any(step["terminated"] for step in log)
    assert log[-1]["truncated"]


def test_info_reward_vector_and_target() -> None:
    env = gym.make("PatternEcho-v0")
    obs, _ = env.reset(seed=1)
    _, reward, _, _, info = env.step((int(obs.argmax()) + 1) % 8)
    assert reward == 0.0 and info["reward_vector"] == {"goal": 0.0}
    assert info["target"] == int(obs.argmax()) and info["success"] is False


def test_sequence_next_is_drawn_anew_each_episode() -> None:
    env = gym.make("SequenceNext-v0")
    sequences = set()
    for seed in range(20):
        log = _play(env, lambda obs, _: 0, 4, seed=seed)
        sequences.add(tuple(int(step["obs"].argmax()) for step in log))
    assert len(sequences) >= 15, "the sequence must change between episodes"


def test_sequence_next_needs_memory_not_a_table() -> None:
    """A policy that remembers what followed what solves it after one cycle; any fixed
    symbol -> symbol table scores near chance over many episodes."""
    length = 4

    def run(policy_factory, episodes: int = 40) -> float:
        env = gym.make("SequenceNext-v0", length=length)
        total = 0.0
        for seed in range(episodes):
            policy = policy_factory()
            log = _play(env, policy, 32, seed=seed)
            total += sum(step["reward"] for step in log) / len(log)
        return total / episodes

    def memory_policy():
        successor: dict[int, int] = {}
        last: list[int] = []

        def act(obs, info):
            symbol = int(obs.argmax())
            if last:
                successor[last[0]] = symbol
                last.clear()
            last.append(symbol)
            return successor.get(symbol, 0)

        return act

    table = {s: (s + 1) % 8 for s in range(8)}
    memory_score = run(memory_policy)
    table_score = run(lambda: lambda obs, info: table[int(obs.argmax())])
    assert memory_score > (32 - length) / 32 - 0.05
    assert table_score < 0.3


def test_sequence_next_length_argument() -> None:
    env = gym.make("SequenceNext-v0", length=3)
    log = _play(env, lambda obs, _: 0, 9, seed=0)
    shown = [int(step["obs"].argmax()) for step in log]
    assert shown[:3] == shown[3:6] == shown[6:9] and len(set(shown[:3])) == 3


def test_conditional_cue_only_on_first_step() -> None:
    env = gym.make("Conditional-v0")
    for seed in range(10):
        log = _play(env, lambda obs, _: 0, 32, seed=seed)
        cues = np.array([step["obs"][8:] for step in log])
        assert cues[0].sum() == 1.0 and np.all(cues[1:] == 0)
        rule = int(cues[0].argmax())
        for step in log:
            symbol = int(step["obs"][:8].argmax())
            assert step["info"]["target"] == (symbol + rule * 4) % 8


def test_delayed_recall_rewards_only_at_the_cue() -> None:
    delay = 3
    env = gym.make("DelayedRecall-v0", delay=delay)
    stored: list[int] = []

    def recall(obs, info):
        if obs[:8].any():
            stored[:] = [int(obs[:8].argmax())]
        return stored[0] if obs[8] == 1.0 else int(obs[:8].argmax()) if obs[:8].any() else 0

    log = _play(env, recall, 50, seed=4)
    for t, step in enumerate(log):
        at_cue = t % (delay + 2) == delay + 1
        assert step["info"]["graded"] == at_cue
        assert step["reward"] == (1.0 if at_cue else 0.0), t
        if not at_cue:
            assert step["info"]["target"] == BLANK
    assert sum(step["reward"] for step in log) == 10


@pytest.mark.parametrize(
    ("task", "kwargs"),
    [
        ("sequence_next", {"length": 1}),
        ("sequence_next", {"length": 9}),
        ("sequence_next", {"length": -2}),
        ("conditional", {"num_rules": 0}),
        ("delayed_recall", {"delay": -1}),
        ("pattern_echo", {"length": 3}),
        ("no_such_task", {}),
    ],
)
def test_bad_arguments_raise_at_construction(task: str, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SymbolicEnv(task=task, **kwargs)


def test_unknown_task_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="pattern_echo"):
        make_task("nope")


def test_bad_render_mode() -> None:
    with pytest.raises(ValueError, match="render_mode"):
        SymbolicEnv(render_mode="svg")


def test_a_custom_parent_plugs_in() -> None:
    class GenerousParent(DeterministicParent):
        reward_components = ("goal", "effort")

        def respond(self, task: Task, state: SymbolicState, actions, rng):
            next_state, rewards = super().respond(task, state, actions, rng)
            rewards["effort"] = np.full(actions.shape, 0.1, dtype=np.float32)
            return next_state, rewards

    env = SymbolicEnv(task="pattern_echo", parent=GenerousParent())
    obs, _ = env.reset(seed=0)
    _, reward, _, _, info = env.step(int(obs.argmax()))
    assert reward == 1.0
    assert info["reward_vector"] == {"goal": 1.0, "effort": pytest.approx(0.1)}


def test_parent_without_goal_is_refused() -> None:
    class NoGoal(DeterministicParent):
        reward_components = ("effort",)

    with pytest.raises(ValueError, match="goal"):
        SymbolicEnv(parent=NoGoal())


def test_vector_env_matches_single_env_rules() -> None:
    envs = SymbolicVectorEnv(num_envs=64, task="pattern_echo", max_episode_steps=32)
    obs, _ = envs.reset(seed=0)
    obs, reward, *_ = envs.step(obs.argmax(axis=1))
    assert np.all(reward == 1.0)
    with pytest.raises(ValueError, match="outside"):
        envs.step(np.full(64, 8))
    with pytest.raises(ValueError, match="64 integers"):
        envs.step(np.zeros(3, dtype=np.int64))


def test_oracle_dynamics_from_a_snapshot() -> None:
    env = SymbolicEnv(task="sequence_next")
    env.reset(seed=2)
    state = env.get_state()
    dynamics = env.get_dynamics(seed=0)
    target = int(state.target[0])
    batch = dynamics.take(state, np.zeros(8, dtype=np.int64))
    _, rewards, dones = dynamics.step(batch, np.arange(8))
    assert rewards.tolist() == [1.0 if a == target else 0.0 for a in range(8)]
    assert not dones.any()
    # the env itself is untouched by planning
    assert env.step(target)[1] == 1.0


def test_set_state_restores_and_validates() -> None:
    env = SymbolicEnv(task="conditional")
    env.reset(seed=0)
    snapshot = env.get_state()
    first = [env.step(a)[0] for a in range(4)]
    env.set_state(snapshot)
    env.reset(seed=0)
    env.set_state(snapshot)
    again = [env.step(a)[0] for a in range(4)]
    assert np.array_equal(first[0], again[0])
    with pytest.raises(ValueError, match="field 'memory'"):
        env.set_state(snapshot._replace(memory=np.zeros((1, 5), dtype=np.int64)))
    with pytest.raises(ValueError, match="SymbolicState"):
        env.set_state({"symbol": 1})


def test_human_render_without_pygame_says_what_to_install(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pygame(name, *args, **kwargs):
        if name == "pygame":
            raise ImportError("No module named 'pygame'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pygame)
    env = SymbolicEnv(render_mode="human")
    with pytest.raises(gym.error.DependencyNotInstalled, match=r"lucidgym\[human\]"):
        env.reset(seed=0)


def test_sb3_ppo_learns_pattern_echo() -> None:
    sb3 = pytest.importorskip("stable_baselines3")
    import torch

    torch.manual_seed(0)
    env = gym.make("PatternEcho-v0")
    model = sb3.PPO(
        "MlpPolicy",
        env,
        seed=0,
        n_steps=256,
        batch_size=64,
        learning_rate=3e-3,
        ent_coef=0.0,
        verbose=0,
        device="cpu",
    )
    model.learn(total_timesteps=4096)
    eval_env = gym.make("PatternEcho-v0")
    obs, _ = eval_env.reset(seed=123)
    total, steps = 0.0, 0
    for _ in range(5 * 32):
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, _ = eval_env.step(int(action))
        total += reward
        steps += 1
        if terminated or truncated:
            obs, _ = eval_env.reset()
    assert total / steps > 0.6, f"success {total / steps:.2f} vs 0.125 for random"


def test_set_state_refuses_hidden_variables_outside_the_task() -> None:
    cases = {
        "sequence_next": (
            {"length": 4},
            lambda m: m.__setitem__((0, 4), 4),
            r"column 4 \(position\) holds 4.*\[0, 3\]",
        ),
        "conditional": ({}, lambda m: m.__setitem__((0, 0), 2), r"\(rule\) holds 2.*\[0, 1\]"),
        "delayed_recall": ({}, lambda m: m.__setitem__((0, 1), 5), r"\(phase\) holds 5.*\[0, 4\]"),
    }
    for task, (kwargs, spoil, message) in cases.items():
        env = SymbolicEnv(task=task, **kwargs)
        env.reset(seed=0)
        snapshot = env.get_state()
        memory = snapshot.memory.copy()
        spoil(memory)
        with pytest.raises(ValueError, match=rf"SymbolicEnv\({task}\)\.set_state: field 'memory' "):
            env.set_state(snapshot._replace(memory=memory))
        with pytest.raises(ValueError, match=message):
            env.set_state(snapshot._replace(memory=memory))
        env.set_state(snapshot)
    env = SymbolicEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"field 'symbol' holds 99, outside .*\[-1, 7\]"):
        env.set_state(env.get_state()._replace(symbol=np.array([99])))


def test_a_task_without_memory_ranges_is_still_checked_for_the_rest() -> None:
    class Echo:
        name = "echo"
        num_cues = 0

        def initial(self, rng: np.random.Generator, n: int) -> SymbolicState:
            return PatternEcho().initial(rng, n)

        def advance(self, state: SymbolicState, rng: np.random.Generator) -> SymbolicState:
            return PatternEcho().advance(state, rng)

    env = SymbolicEnv(task=Echo())
    env.reset(seed=0)
    env.set_state(env.get_state())
    with pytest.raises(ValueError, match="field 'target'"):
        env.set_state(env.get_state()._replace(target=np.array([8])))
