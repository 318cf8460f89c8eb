"""Behavioural tests of the tutoring student: each documented property of the model."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.batched import batch_take
from lucidgym.envs.tutoring import Strategy, StudentState, TutoringEnv, TutoringKernel
from lucidgym.envs.tutoring.parameters import (
    ATTEMPTS,
    EFFICIENCY,
    ENGAGEMENT,
    ERROR,
    FRUSTRATION,
    POP,
    PRIOR_ESTIMATE,
    QUIZ_ITEMS,
    TOPIC,
)
from lucidgym.envs.tutoring.policies import expert_strategy

N = 1000


def _students(population: str, n: int = N, seed: int = 0) -> tuple[TutoringKernel, StudentState]:
    kernel = TutoringKernel(population)
    return kernel, kernel.initial(np.random.default_rng(seed), n)


def _with(state: StudentState, **columns: dict[int, float]) -> StudentState:
    """A copy of ``state`` with columns of named fields set to constants."""
    fields = state._asdict()
    for name, values in columns.items():
        arr = fields[name].copy()
        for col, value in values.items():
            arr[:, col] = value
        fields[name] = arr
    return StudentState(**fields)


def _step(kernel: TutoringKernel, state: StudentState, action: int, seed: int = 1):
    actions = np.full(state.mastery.shape[0], int(action))
    return kernel.transition(state, actions, np.random.default_rng(seed))


def _mean_reward(kernel: TutoringKernel, state: StudentState, action: int) -> float:
    return float(_step(kernel, state, action)[1].mean())


def test_observation_is_the_tutors_estimate_not_the_truth() -> None:
    env = gym.make("Tutoring-v0")
    obs, info = env.reset(seed=0)
    assert obs.shape == (20,) and obs.dtype == np.float32
    assert np.all((obs >= 0) & (obs <= 1))
    np.testing.assert_allclose(obs[:4], PRIOR_ESTIMATE, atol=1e-6)  # population-blind prior
    assert not np.allclose(obs[:4], info["true_mastery"])
    obs, _, _, _, info = env.step(Strategy.DIRECT)
    assert set(info) >= {"true_mastery", "quit", "mastered", "learning_effect", "topic"}
    assert info["true_mastery"].shape == (4,) and isinstance(info["quit"], np.bool_)
    assert obs[16] == pytest.approx(1 / 80) and obs[19] == 0.0


def test_direct_beats_socratic_for_a_novice_and_the_reverse_near_mastery() -> None:
    kernel, state = _students("novice")
    assert _mean_reward(kernel, state, Strategy.DIRECT) > 3 * _mean_reward(
        kernel, state, Strategy.SOCRATIC
    )
    near = _with(state, mastery={0: 0.8})
    assert _mean_reward(kernel, near, Strategy.SOCRATIC) > 2 * _mean_reward(
        kernel, near, Strategy.DIRECT
    )
    assert _mean_reward(kernel, near, Strategy.EXPLORATORY) > _mean_reward(
        kernel, near, Strategy.DIRECT
    )
    # scaffolding is the robust middle: never the worst, in either zone
    for s in (state, near):
        rewards = [_mean_reward(kernel, s, a) for a in range(5)]
        assert rewards[Strategy.SCAFFOLDED] > min(rewards) * 1.5


def test_remediation_pays_after_errors() -> None:
    kernel, state = _students("average")
    mid = _with(state, mastery={0: 0.45})
    erred = _with(mid, session={ERROR: 1.0, ATTEMPTS: 1.0})
    assert _mean_reward(kernel, erred, Strategy.REMEDIAL) > 2 * _mean_reward(
        kernel, mid, Strategy.REMEDIAL
    )
    assert _mean_reward(kernel, erred, Strategy.REMEDIAL) > _mean_reward(
        kernel, erred, Strategy.SCAFFOLDED
    )


def test_repeated_mismatched_strategy_frustrates_until_students_quit() -> None:
    kernel, state = _students("novice")
    rng = np.random.default_rng(2)
    frustration = [state.mind[:, FRUSTRATION].mean()]
    quit_ = np.zeros(N, dtype=bool)
    for _ in range(80):
        state, _, _, info = kernel.transition(state, np.full(N, Strategy.SOCRATIC), rng)
        quit_ |= info["quit"]
        frustration.append(state.mind[:, FRUSTRATION].mean())
    assert frustration[10] > frustration[0] + 0.2
    assert quit_.mean() > 0.5


def test_metacognition_pays_later_not_now() -> None:
    kernel, state = _students("mixed")
    _, reward, _, info = _step(kernel, state, Strategy.METACOGNITIVE)
    assert np.all(info["learning_effect"] == 0) and np.all(reward <= 0)
    assert np.all(info["efficiency"] > 1.0)

    def session(first: int | None) -> float:
        rng = np.random.default_rng(5)
        s, total, alive = state, np.zeros(N), np.ones(N, dtype=bool)
        for t in range(80):
            obs = kernel.observe(s)
            actions = expert_strategy(obs)
            actions[actions == Strategy.METACOGNITIVE] = Strategy.SCAFFOLDED
            if first is not None and t < 3:
                actions[:] = first
            s, r, done, _ = kernel.transition(s, actions, rng)
            total += r * alive
            alive &= ~done
        return float(total.mean())

    assert session(Strategy.METACOGNITIVE) > 1.1 * session(None)


def test_assessment_sharpens_the_estimate_and_advances_the_topic() -> None:
    kernel, state = _students("mixed")
    before = np.abs(state.estimate[:, 0] - state.mastery[:, 0]).mean()
    quiz, _, _, quiz_info = _step(kernel, state, Strategy.ASSESSMENT)
    idle, _, _, _ = _step(kernel, state, Strategy.MOTIVATIONAL)
    one, _, _, _ = _step(kernel, state, Strategy.SCAFFOLDED)

    def error(s: StudentState) -> float:
        return float(np.abs(s.estimate[:, 0] - s.mastery[:, 0]).mean())

    assert error(quiz) < 0.9 * before and error(quiz) < error(one) < error(idle)
    assert np.all(quiz.variance[:, 0] < one.variance[:, 0])
    strong = _with(state, mastery={0: 0.95})
    moved = _step(kernel, strong, Strategy.ASSESSMENT)[3]["topic"]
    assert (moved == 1).mean() > 0.6 and np.all(quiz_info["items"] == QUIZ_ITEMS)
    for a in set(range(8)) - {Strategy.ASSESSMENT}:
        assert np.all(_step(kernel, strong, a)[3]["topic"] == 0)


def test_motivation_restores_engagement_and_teaches_nothing() -> None:
    kernel, state = _students("anxious")
    upset = _with(state, mind={FRUSTRATION: 0.7, ENGAGEMENT: 0.3})
    after, reward, _, info = _step(kernel, upset, Strategy.MOTIVATIONAL)
    assert after.mind[:, FRUSTRATION].mean() < 0.5 and after.mind[:, ENGAGEMENT].mean() > 0.45
    assert np.all(info["learning_effect"] == 0) and np.all(reward <= 0)


def test_prerequisites_slow_learning() -> None:
    kernel, state = _students("average")
    on_topic_1 = _with(state, session={TOPIC: 1.0}, mastery={1: 0.1})
    weak, strong = _with(on_topic_1, mastery={0: 0.1}), _with(on_topic_1, mastery={0: 0.9})
    assert _mean_reward(kernel, strong, Strategy.DIRECT) > 2 * _mean_reward(
        kernel, weak, Strategy.DIRECT
    )


def test_unpractised_topics_are_forgotten() -> None:
    kernel, state = _students("advanced")
    rng = np.random.default_rng(0)
    start = state.mastery.copy()
    for _ in range(30):
        state = kernel.transition(state, np.full(N, Strategy.MOTIVATIONAL), rng)[0]
    assert np.all(state.mastery <= start) and (start - state.mastery).mean() > 0.05


def test_populations_differ() -> None:
    def evaluate(population: str) -> tuple[float, float]:
        kernel, s = _students(population, 400, seed=3)
        rng, total = np.random.default_rng(4), np.zeros(400)
        alive, quit_ = np.ones(400, dtype=bool), np.zeros(400, dtype=bool)
        for _ in range(80):
            s, r, done, info = kernel.transition(s, rng.integers(0, 8, 400), rng)
            total += r * alive
            quit_ |= info["quit"] & alive
            alive &= ~done
        return float(s.mastery.mean()), float(quit_.mean())

    novice, average, advanced, anxious = (
        evaluate(p) for p in ("novice", "average", "advanced", "anxious")
    )
    assert novice[0] < average[0] < advanced[0]
    assert anxious[1] > average[1] and anxious[1] > advanced[1]


def test_population_argument_and_reset_option() -> None:
    env = TutoringEnv(population="advanced")
    env.reset(seed=0)
    assert env.get_state().traits[0, POP] == 2
    env.reset(seed=0, options={"population": "novice"})
    assert env.get_state().traits[0, POP] == 0
    with pytest.raises(ValueError, match="valid populations.*novice.*mixed"):
        TutoringEnv(population="genius")
    with pytest.raises(ValueError, match="valid populations"):
        env.reset(options={"population": "genius"})
    envs = gym.make_vec("Tutoring-v0", num_envs=4, vectorization_mode="vector_entry_point")
    envs.reset(seed=0, options={"population": "anxious"})
    assert np.all(envs.unwrapped.get_state().traits[:, POP] == 3)
    _, _, _, _, info = envs.step(np.zeros(4, dtype=np.int64))
    assert info["true_mastery"].shape == (4, 4) and info["quit"].shape == (4,)
    with pytest.raises(ValueError, match="valid populations"):
        gym.make("Tutoring-v0", population="nobody")


def test_state_snapshot_round_trip_and_bad_snapshots() -> None:
    env = TutoringEnv()
    env.reset(seed=1)
    env.step(Strategy.DIRECT)
    snap, dice = env.get_state(), copy.deepcopy(env.np_random)
    first = [env.step(a) for a in (1, 5, 6, 0)]
    env.set_state(snap)
    env.np_random = dice
    replay = [env.step(a) for a in (1, 5, 6, 0)]
    for a, b in zip(first, replay, strict=True):
        assert np.array_equal(a[0], b[0]) and a[1] == b[1]
        assert np.array_equal(a[4]["true_mastery"], b[4]["true_mastery"])
    snap.mastery[:] = 0.0  # the env holds its own copy
    assert env.get_state().mastery.sum() > 0
    with pytest.raises(ValueError, match="StudentState"):
        env.set_state(tuple(snap))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mastery"):
        env.set_state(snap._replace(mastery=np.zeros((2, 4))))
    with pytest.raises(ValueError, match="NaN"):
        env.set_state(snap._replace(mind=np.full((1, 6), np.nan)))
    with pytest.raises(ValueError, match="Tutoring"):
        env.step(8)
    dynamics = env.get_dynamics(seed=0)
    states = dynamics.take(snap, np.zeros(16, dtype=np.int64))
    nxt, rewards, dones = dynamics.step(states, np.arange(16) % 8)
    assert rewards.shape == (16,) and dones.dtype == bool and nxt.mastery.shape == (16, 4)


def test_random_play_sanity_and_expert_beats_random() -> None:
    kernel, state = _students("mixed", 200, seed=7)
    rng = np.random.default_rng(8)

    def play(policy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, total = state, np.zeros(200)
        alive, quit_ = np.ones(200, dtype=bool), np.zeros(200, dtype=bool)
        for _ in range(80):
            s, r, done, info = kernel.transition(s, policy(kernel.observe(s)), rng)
            total += r * alive
            quit_ |= info["quit"] & alive
            alive &= ~done
        return total, quit_, alive

    random_return, random_quit, random_full = play(lambda o: rng.integers(0, 8, o.shape[0]))
    assert random_quit.any() and random_full.any()
    expert_return, expert_quit, _ = play(expert_strategy)
    assert expert_return.mean() > 1.4 * random_return.mean()
    assert expert_quit.mean() < random_quit.mean()


def test_expert_strategy_shapes() -> None:
    obs = np.zeros((3, 20), dtype=np.float32)
    out = expert_strategy(obs)
    assert out.shape == (3,) and out.dtype == np.int64
    assert expert_strategy(obs[0]).shape == ()
    assert expert_strategy(obs[0]) == Strategy.METACOGNITIVE  # a session starts with planning
    with pytest.raises(ValueError, match="20"):
        expert_strategy(np.zeros((3, 5)))


def test_render_modes_show_the_session() -> None:
    env = TutoringEnv(render_mode="rgb_array")
    env.reset(seed=0)
    empty = env.render()
    for a in (7, 2, 1, 5):
        env.step(a)
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.shape == empty.shape and frame.dtype == np.uint8
    assert not np.array_equal(frame, empty)
    text = TutoringEnv(render_mode="ansi")
    text.reset(seed=0)
    text.step(Strategy.DIRECT)
    line = text.render()
    assert isinstance(line, str) and "DIRECT" in line and "\n" not in line


def test_vector_env_steps_like_the_kernel() -> None:
    envs = gym.make_vec("Tutoring-v0", num_envs=8, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=0)
    state = envs.unwrapped.get_state()
    assert obs.shape == (8, 20)
    obs, reward, _, _, info = envs.step(np.full(8, Strategy.DIRECT))
    np.testing.assert_allclose(
        reward, 10 * (info["true_mastery"].sum(1) - state.mastery.sum(1)), atol=1e-4
    )
    assert batch_take(envs.unwrapped.get_state(), np.array([0])).mastery.shape == (1, 4)


def _episode_observations(seed: int, steps: int = 200) -> np.ndarray:
    """Observations of real sessions under random strategies, episodes reset as they end."""
    env = gym.make("Tutoring-v0")
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    seen = [obs]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(8)))
        seen.append(obs)
        if terminated or truncated:
            obs, _ = env.reset()
            seen.append(obs)
    return np.stack(seen)


def test_expert_policy_without_gym_make() -> None:
    env = TutoringEnv()
    assert env.spec is None
    policy = env.expert_policy()
    obs, _ = env.reset(seed=0)
    actions = policy(obs[None])
    assert actions.shape == (1,) and actions.dtype == np.int64
    assert actions[0] == Strategy.METACOGNITIVE  # a session starts with planning


def test_expert_policy_is_the_rules_row_by_row() -> None:
    obs = _episode_observations(seed=3)
    policy = gym.make("Tutoring-v0").unwrapped.expert_policy()
    actions = policy(obs)
    assert actions.shape == (obs.shape[0],) and actions.dtype == np.int64
    expected = np.array([expert_strategy(row) for row in obs])
    np.testing.assert_array_equal(actions, expected)
    assert len(set(actions.tolist())) >= 4  # the episodes reach several of the rules
    # predictions that leave the observation space are read as their clipped values
    off = obs + np.random.default_rng(0).normal(0.0, 0.3, obs.shape).astype(np.float32)
    np.testing.assert_array_equal(policy(off), expert_strategy(np.clip(off, 0.0, 1.0)))


def test_vector_env_offers_the_same_expert_policy() -> None:
    envs = gym.make_vec("Tutoring-v0", num_envs=6, vectorization_mode="vector_entry_point")
    policy = envs.unwrapped.expert_policy()
    assert policy is TutoringEnv().expert_policy()
    obs, _ = envs.reset(seed=0)
    for _ in range(20):
        actions = policy(obs)
        np.testing.assert_array_equal(actions, [expert_strategy(row) for row in obs])
        obs, *_ = envs.step(actions)


def test_a_student_who_quit_is_gone_until_reset() -> None:
    env = gym.make("Tutoring-v0", population="anxious")
    for seed in range(50):
        env.reset(seed=seed)
        for _ in range(80):
            _, _, terminated, _, info = env.step(Strategy.EXPLORATORY)
            if terminated:
                break
        if terminated and info["quit"]:
            break
    assert info["quit"], "no student quit"
    with pytest.raises(RuntimeError, match=r"Tutoring-v0: step\(\) after the episode terminated"):
        env.step(Strategy.DIRECT)
    obs, _ = env.reset()
    assert obs.shape == (20,)


def test_set_state_refuses_values_outside_the_model() -> None:
    env = TutoringEnv()
    env.reset(seed=0)
    snap = env.get_state()
    cases = {
        "mastery": (snap.mastery + 5.0, r"field 'mastery' holds 5\.\d+, outside .*\[0, 1\]"),
        "variance": (snap.variance + 1.0, r"'variance' .*\[0, 0\.25\]"),
        "mind": (_with(snap, mind={EFFICIENCY: 2.0}).mind, r"column 5 \(efficiency\)"),
        "traits": (_with(snap, traits={POP: 1.5}).traits, r"\(population index\).*whole"),
        "session": (_with(snap, session={TOPIC: 4}).session, r"\(topic\) holds 4.*\[0, 3\]"),
        "signals": (snap.signals - 1.0, r"'signals' holds -"),
    }
    for field, (value, message) in cases.items():
        with pytest.raises(ValueError, match=rf"TutoringEnv\.set_state: .*{message}"):
            env.set_state(snap._replace(**{field: value}))
    env.set_state(snap)
    assert env.step(Strategy.DIRECT)[1] > -1.0
