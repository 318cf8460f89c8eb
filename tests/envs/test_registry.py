"""Checks every registered lucidgym environment gets for free, by being registered."""

from __future__ import annotations

import importlib.util
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import lucidgym  # noqa: F401
from lucidgym.batched import batch_take
from lucidgym.envs.registration import ENVS, env_ids

HAS_PYGAME = importlib.util.find_spec("pygame") is not None

VECTOR_IDS = [e.id for e in ENVS if e.vector_entry_point is not None]
ROLLOUT_STEPS = 300


def _rollout(env: gym.Env, seed: int, steps: int = ROLLOUT_STEPS) -> list:
    """A seeded random rollout; episodes that end are reset without a seed."""
    env.action_space.seed(seed + 1)
    obs, info = env.reset(seed=seed)
    trace = [("reset", obs.copy())]
    for _ in range(steps):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs), f"observation outside the space: {obs}"
        assert np.all(np.isfinite(obs))
        assert np.isfinite(reward)
        trace.append((obs.copy(), float(reward), bool(terminated), bool(truncated)))
        if terminated or truncated:
            obs, info = env.reset()
            trace.append(("reset", obs.copy()))
    return trace


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=False))
    return a == b


@pytest.mark.parametrize("env_id", env_ids())
def test_gymnasium_check_env(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Gymnasium's check renders every mode, the human window included (which needs
        # the human extra); test_render_modes checks the others without it.
        gym_check_env(env.unwrapped, skip_render_check=not HAS_PYGAME)
    problems = [str(w.message) for w in caught if "render" not in str(w.message).lower()]
    assert not problems, problems
    env.close()


@pytest.mark.parametrize("env_id", env_ids())
def test_sb3_check_env(env_id: str) -> None:
    sb3_env_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id)
    sb3_env_checker.check_env(env, warn=True)
    env.close()


@pytest.mark.parametrize("env_id", env_ids())
def test_same_seed_same_rollout(env_id: str) -> None:
    first = _rollout(gym.make(env_id), seed=7)
    second = _rollout(gym.make(env_id), seed=7)
    assert all(_same(a, b) for a, b in zip(first, second, strict=True))
    other = _rollout(gym.make(env_id), seed=8)
    assert not all(_same(a, b) for a, b in zip(first, other, strict=False)), (
        "the seed changes nothing"
    )


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_native_vector_env(env_id: str) -> None:
    def run(seed: int) -> list[np.ndarray]:
        envs = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point")
        assert "autoreset_mode" in envs.metadata
        envs.action_space.seed(seed)
        obs, _ = envs.reset(seed=seed)
        out = [obs]
        ended = np.zeros(5, dtype=bool)
        for _ in range(ROLLOUT_STEPS):
            obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
            assert envs.observation_space.contains(obs)
            assert np.all(np.isfinite(obs)) and np.all(np.isfinite(reward))
            # next-step autoreset: the step after an end carries reward 0, no end flags
            assert np.all(reward[ended] == 0) and not np.any(terminated[ended] | truncated[ended])
            ended = terminated | truncated
            out += [obs, reward, terminated, truncated]
        envs.close()
        return out

    first, second = run(3), run(3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_vector_episodes_end_like_single(env_id: str) -> None:
    """The vector env truncates at the registered limit, as the single env does."""
    limit = gym.spec(env_id).max_episode_steps
    envs = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    envs.action_space.seed(0)
    ended_early = np.zeros(4, dtype=bool)
    for t in range(1, limit + 1):
        _, _, terminated, truncated, _ = envs.step(envs.action_space.sample())
        assert not np.any(truncated[~ended_early] & (t < limit)), "truncated before the limit"
        if t == limit:
            # sub-envs that terminated earlier were autoreset and are mid-episode now
            assert np.all(truncated[~ended_early])
        ended_early |= terminated | truncated


@pytest.mark.parametrize("env_id", env_ids())
def test_pickle_round_trip(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=3)
    env.action_space.seed(0)
    for _ in range(5):
        env.step(env.action_space.sample())
    clone = pickle.loads(pickle.dumps(env))
    env.action_space.seed(1)
    for _ in range(20):
        action = env.action_space.sample()
        a, b = env.step(action), clone.step(action)
        assert np.array_equal(a[0], b[0]) and a[1:4] == b[1:4]


@pytest.mark.parametrize("env_id", env_ids())
def test_render_modes(env_id: str) -> None:
    modes = gym.make(env_id).unwrapped.metadata.get("render_modes", [])
    assert modes, "every lucidgym env renders"
    for mode in modes:
        if mode == "human" and not HAS_PYGAME:
            continue  # the window needs the human extra; the other modes need nothing
        env = gym.make(env_id, render_mode=mode)
        env.reset(seed=0)
        env.step(env.action_space.sample())
        out = env.render()
        if mode == "ansi":
            assert isinstance(out, str) and out
        elif mode == "rgb_array":
            assert isinstance(out, np.ndarray) and out.dtype == np.uint8
            assert out.ndim == 3 and out.shape[2] == 3 and min(out.shape[:2]) >= 16
        elif mode == "human":
            assert out is None
        env.close()


@pytest.mark.parametrize("env_id", env_ids())
def test_out_of_space_action_is_refused(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    space = env.action_space
    bad = space.n + 3 if isinstance(space, gym.spaces.Discrete) else np.full(space.shape, 5.0)
    with pytest.raises(ValueError, match=env_id):
        env.step(bad)


@pytest.mark.parametrize("env_id", env_ids())
def test_make_without_import(env_id: str) -> None:
    env = gym.make(f"lucidgym:{env_id}")
    assert env.spec is not None and env.spec.id == env_id


@pytest.mark.parametrize("env_id", env_ids())
def test_class_docstring_has_gymnasium_sections(env_id: str) -> None:
    doc = type(gym.make(env_id).unwrapped).__doc__ or ""
    for section in (
        "Description",
        "Action Space",
        "Observation Space",
        "Rewards",
        "Starting State",
        "Episode End",
        "Arguments",
        "Version History",
    ):
        assert f"## {section}" in doc, f"missing section {section}"


def _play_to_truncation(env: gym.Env, seed: int, episodes: int = 60) -> int:
    """Play random episodes until one is truncated; the env is left right after it.

    Returns that episode's length, 0 if none was truncated. Termination is each
    family's own (see their tests).
    """
    env.action_space.seed(seed)
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        steps = 0
        while True:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            steps += 1
            if terminated or truncated:
                break
        if truncated and not terminated:
            return steps
    return 0


@pytest.mark.parametrize("env_id", env_ids())
def test_step_after_truncation_raises(env_id: str) -> None:
    env = gym.make(env_id)
    limit = gym.spec(env_id).max_episode_steps
    assert _play_to_truncation(env, seed=0) == limit, "no episode reached the time limit"
    with pytest.raises(RuntimeError, match=rf"{env_id}: step\(\) after .*time limit of {limit}"):
        env.step(env.action_space.sample())
    with pytest.raises(RuntimeError, match="reset"):  # and again: nothing moved on
        env.step(env.action_space.sample())
    env.reset(seed=1)
    env.step(env.action_space.sample())  # a reset starts a new episode


@pytest.mark.parametrize("env_id", env_ids())
def test_limit_shorter_or_registered_anew(env_id: str) -> None:
    """``max_episode_steps`` below the registered one, and a registered variant, work."""
    entry = next(e for e in ENVS if e.id == env_id)
    short = gym.make(env_id, max_episode_steps=3)
    short.reset(seed=0)
    short.action_space.seed(0)
    for _ in range(3):
        *_, terminated, truncated, _ = short.step(short.action_space.sample())
        if terminated:
            break
    assert terminated or truncated
    long_id = f"lucidgym-test/Long{env_id}"
    gym.register(
        long_id,
        entry.entry_point,
        max_episode_steps=entry.max_episode_steps + 2,
        kwargs=dict(entry.kwargs),
    )
    try:
        assert _play_to_truncation(gym.make(long_id), seed=0) == entry.max_episode_steps + 2
    finally:
        del gym.registry[long_id]


@pytest.mark.parametrize("env_id", env_ids())
def test_gymnasium_and_sb3_vector_envs_step_on_past_episode_ends(env_id: str) -> None:
    limit = gym.spec(env_id).max_episode_steps
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync")
    envs.reset(seed=0)
    envs.action_space.seed(0)
    for _ in range(limit + 3):
        envs.step(envs.action_space.sample())
    env_util = pytest.importorskip("stable_baselines3.common.env_util")
    venv = env_util.make_vec_env(env_id, n_envs=2, seed=0)
    venv.reset()
    for _ in range(limit + 3):
        venv.step(np.array([venv.action_space.sample() for _ in range(2)]))


@pytest.mark.parametrize("env_id", env_ids())
def test_set_state_accepts_every_state_of_play(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(ROLLOUT_STEPS):
        env.unwrapped.set_state(env.unwrapped.get_state())
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()


@pytest.mark.parametrize("env_id", env_ids())
def test_set_state_refuses_values_outside_each_field(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    good = env.get_state()
    for name, value in good._asdict().items():
        if value.size == 0:
            continue
        # below every field's range; an unsigned field takes its largest value instead
        bad = np.iinfo(value.dtype).max if value.dtype.kind == "u" else -(10**6)
        with pytest.raises(ValueError, match=rf"{env_id}\.set_state: field '{name}'"):
            env.set_state(good._replace(**{name: np.full_like(value, bad)}))
    env.set_state(good)


@pytest.mark.parametrize("env_id", env_ids())
def test_non_finite_and_huge_actions_are_value_errors(env_id: str) -> None:
    env = gym.make(env_id)
    env.reset(seed=0)
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        bad = [np.inf, -np.inf, np.nan, np.float32(np.inf), 1e30, 2**63, np.uint64(2**64 - 1)]
    else:
        bad = [np.full(space.shape, np.inf), np.full(space.shape, 1 + 2j), [[0.0], [0.0, 1.0]]]
    for action in bad:
        with pytest.raises(ValueError, match=env_id):
            env.step(action)
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    for actions in ([[0], [0, 1]], ["a", "b"], np.array([np.inf, 0.0]), None):
        with pytest.raises(ValueError, match="VectorEnv"):
            envs.step(actions)


def _frames(envs: gym.vector.VectorEnv) -> tuple[np.ndarray, ...]:
    frames = envs.render()
    assert isinstance(frames, tuple) and len(frames) == envs.num_envs
    for frame in frames:
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3
    return frames


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_vector_rgb_array_frames_are_the_single_envs(env_id: str) -> None:
    """Frames, one per sub-env, as the single env draws the same episode."""
    envs = gym.make_vec(
        env_id, num_envs=1, vectorization_mode="vector_entry_point", render_mode="rgb_array"
    )
    single = gym.make(env_id, render_mode="rgb_array")
    envs.reset(seed=4)
    single.reset(seed=4)
    assert np.array_equal(_frames(envs)[0], single.render())
    envs.action_space.seed(0)
    for _ in range(gym.spec(env_id).max_episode_steps):
        actions = envs.action_space.sample()
        _, _, terminated, truncated, _ = envs.step(actions)
        single.step(actions[0])
        assert np.array_equal(_frames(envs)[0], single.render())
        if terminated[0] or truncated[0]:
            break


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_vector_frames_of_new_episodes(env_id: str) -> None:
    """At a reset and at each autoreset, sub-env ``i`` is drawn as a single env would be."""
    envs = gym.make_vec(
        env_id, num_envs=3, vectorization_mode="vector_entry_point", render_mode="rgb_array"
    )
    single = gym.make(env_id, render_mode="rgb_array").unwrapped

    def drawn_fresh(row: int) -> np.ndarray:
        single.reset(seed=0)
        single.set_state(batch_take(envs.unwrapped.get_state(), np.array([row])))
        return single.render()

    envs.reset(seed=2)
    frames = _frames(envs)
    for i in range(3):
        assert np.array_equal(frames[i], drawn_fresh(i))
    envs.action_space.seed(0)
    ended, restarts = np.zeros(3, dtype=bool), 0
    for _ in range(gym.spec(env_id).max_episode_steps + 1):
        _, _, terminated, truncated, _ = envs.step(envs.action_space.sample())
        frames = _frames(envs)
        for i in np.flatnonzero(ended):
            assert np.array_equal(frames[i], drawn_fresh(i))
            restarts += 1
        ended = terminated | truncated
    assert restarts >= 3
    envs.close()


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_vector_record_video(env_id: str, tmp_path) -> None:
    pytest.importorskip("moviepy")
    from gymnasium.wrappers.vector import RecordVideo

    envs = gym.make_vec(
        env_id, num_envs=2, vectorization_mode="vector_entry_point", render_mode="rgb_array"
    )
    folder = tmp_path / "videos"
    envs = RecordVideo(envs, str(folder), episode_trigger=lambda episode: episode == 0)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    for _ in range(gym.spec(env_id).max_episode_steps + 1):
        envs.step(envs.action_space.sample())
    envs.close()
    assert [p.suffix for p in folder.iterdir()] == [".mp4"]


def test_an_id_another_package_took_first_is_left_to_it_with_a_warning(monkeypatch) -> None:
    from lucidgym.envs import registration

    registry = dict(gym.registry)
    monkeypatch.setattr(gym.envs.registration, "registry", registry)
    monkeypatch.setattr(gym, "registry", registry)
    del registry["Tutoring-v0"]
    gym.register("Tutoring-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv")
    with pytest.warns(
        UserWarning, match=r"'Tutoring-v0' is already registered.*lucidgym/Tutoring-v0"
    ):
        registration.register_envs()
    assert registry["Tutoring-v0"].entry_point.endswith("CartPoleEnv")
    assert registry["lucidgym/Tutoring-v0"].entry_point == "lucidgym.envs.tutoring:TutoringEnv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registration.register_envs()  # lucidgym's own ids again: nothing to say
