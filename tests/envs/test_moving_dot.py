"""The moving-dot family: dynamics, drawing, occlusion, snapshots, sequences, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.envs.moving_dot import (
    DOT,
    GOAL,
    OCCLUDER,
    Action,
    MovingDotEnv,
    MovingDotState,
    MovingDotVectorEnv,
    generate_sequences,
)
from lucidgym.envs.moving_dot.drawing import HIDDEN_DOT_COLOUR


def _vector_rollout(num_envs: int = 256, steps: int = 60, **kwargs):
    envs = MovingDotVectorEnv(num_envs, continuous=False, max_episode_steps=100, **kwargs)
    obs, info = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    yield obs, info, envs.get_state()
    for _ in range(steps):
        obs, _, _, _, info = envs.step(rng.integers(0, 5, size=num_envs))
        yield obs, info, envs.get_state()


def _place(env: MovingDotEnv, x: float, y: float, vx: float, vy: float) -> MovingDotState:
    """Put the dot of a reset env at ``(x, y)`` with velocity ``(vx, vy)``."""
    state = env.get_state()
    state.dot[0] = (x, y, vx, vy)
    env.set_state(state)
    return state


def test_occluders_hide_the_dot() -> None:
    seen_hidden = 0
    for obs, info, state in _vector_rollout():
        frames = obs[:, 0]
        under = state.scene == OCCLUDER
        # No pixel under an occluder ever shows the dot ...
        assert not np.any(frames[under] == DOT)
        # ... and an occluded dot shows nowhere at all.
        hidden = info["occluded"]
        assert not np.any(frames[hidden] == DOT)
        seen_hidden += int(hidden.sum())
    assert seen_hidden > 100, "the rollout should pass under occluders"


def test_info_state_matches_drawn_dot() -> None:
    checked = 0
    for obs, info, _ in _vector_rollout(num_envs=64):
        for frame, s, hidden in zip(obs[:, 0], info["state"], info["occluded"], strict=True):
            if hidden:
                continue
            cx, cy = np.rint(s[:2]).astype(int)
            assert frame[cy, cx] == DOT
            rows, cols = np.nonzero(frame == DOT)
            # Every dot pixel lies within one pixel of the centre (a 3x3 dot at size 32).
            assert np.all(np.abs(rows - cy) <= 1) and np.all(np.abs(cols - cx) <= 1)
            checked += 1
    assert checked > 1000


def test_without_occlusion_the_dot_is_whole() -> None:
    for obs, info, state in _vector_rollout(num_envs=64, steps=20, occlusion=False):
        assert not info["occluded"].any()
        assert not np.any(state.scene == OCCLUDER)
        assert np.all((obs[:, 0] == DOT).sum(axis=(1, 2)) == 9)


def test_goal_marker_is_never_covered() -> None:
    env = MovingDotEnv(continuous=False)
    for seed in range(200):
        env.reset(seed=seed)
        state = env.get_state()
        gx, gy = state.goal[0].astype(int)
        ring = state.scene[0, gy - 2 : gy + 3, gx - 2 : gx + 3]
        assert np.all(ring[[0, -1], :] == GOAL) and np.all(ring[:, [0, -1]] == GOAL)


def test_reflection_keeps_the_dot_inside() -> None:
    env = MovingDotEnv(continuous=False)
    env.reset(seed=0)
    kernel = env.kernel
    _place(env, kernel.low + 0.5, 16.0, -3.0, 0.0)
    _, _, _, _, info = env.step(Action.NONE)
    x, _, vx, _ = info["state"]
    # moved 0.7 * 3 = 2.1 to the left from 0.5 inside: mirrored 1.6 back inside
    assert x == pytest.approx(kernel.low + 1.6)
    assert vx == pytest.approx(2.1)
    # an absurd velocity (set by hand) still leaves the dot on the grid
    _place(env, 16.0, 16.0, 0.0, 500.0)
    _, _, _, _, info = env.step(Action.NONE)
    assert kernel.low <= info["state"][1] <= kernel.high
    for _, info, _ in _vector_rollout(num_envs=128, steps=100):
        xy = info["state"][:, :2]
        assert np.all(xy >= kernel.low) and np.all(xy <= kernel.high)


def test_damping_and_acceleration() -> None:
    env = MovingDotEnv(continuous=False)
    env.reset(seed=0)
    state = _place(env, 16.0, 16.0, 0.4, 0.0)
    state.goal[0] = (28.0, 28.0)
    env.set_state(state)
    _, _, _, _, info = env.step(Action.NONE)
    assert info["state"][2] == pytest.approx(0.4 * 0.7)
    assert info["state"][0] == pytest.approx(16.0 + 0.4 * 0.7)
    _, _, _, _, info = env.step(Action.UP)
    assert info["state"][3] == pytest.approx(-0.5)  # up is -y; acceleration 0.5 at size 32
    assert info["state"][2] == pytest.approx(0.4 * 0.7**2)

    cont = MovingDotEnv(continuous=True, damping=0.5, acceleration=1.0)
    cont.reset(seed=0)
    state = _place(cont, 16.0, 16.0, 2.0, -2.0)
    state.goal[0] = (28.0, 28.0)
    cont.set_state(state)
    _, _, _, _, info = cont.step(np.array([0.5, 1.0], dtype=np.float32))
    np.testing.assert_allclose(info["state"][2:], [1.5, 0.0])


def test_reaching_the_goal_terminates_with_the_bonus() -> None:
    env = gym.make("MovingDotDiscrete-v0")
    env.reset(seed=0)
    inner = env.unwrapped
    assert isinstance(inner, MovingDotEnv)
    gx, gy = inner.get_state().goal[0]
    _place(inner, gx - 1.0, gy, 0.0, 0.0)
    _, reward, terminated, truncated, info = env.step(Action.NONE)
    assert terminated and not truncated and info["success"]
    assert reward == pytest.approx(10.0 - 1.0 / inner.kernel.max_distance, rel=1e-5)
    # far from the goal: only the (negative, normalized) distance
    _place(inner, gx - 10.0 if gx > 12 else gx + 10.0, gy, 0.0, 0.0)
    _, reward, terminated, _, info = env.step(Action.NONE)
    assert not terminated and not info["success"]
    assert reward == pytest.approx(-10.0 / inner.kernel.max_distance, rel=1e-5)


def test_episodes_truncate_at_100_steps() -> None:
    env = gym.make("MovingDot-v0", occlusion=False)
    env.reset(seed=1)
    inner = env.unwrapped
    for t in range(1, 101):
        # keep the dot parked in a corner far from the goal
        gx, gy = inner.get_state().goal[0]
        corner = inner.kernel.low if gx > 16 else inner.kernel.high
        _place(inner, corner, corner, 0.0, 0.0)
        _, _, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
        assert not terminated
        assert truncated == (t == 100)


@pytest.mark.parametrize("env_id", ["MovingDot-v0", "MovingDotDiscrete-v0"])
def test_size_64(env_id: str) -> None:
    env = gym.make(env_id, size=64, render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    assert obs.shape == (1, 64, 64) and env.observation_space.shape == (1, 64, 64)
    for _ in range(20):
        obs, _, _, _, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        if not info["occluded"]:
            assert 1 <= int((obs == DOT).sum()) <= 21  # a radius-2 disk, maybe rim-covered
    assert env.render().shape == (4 * 64 + 20, 4 * 64, 3)
    envs = gym.make_vec(
        env_id, num_envs=3, vectorization_mode="vector_entry_point", size=64, occlusion=False
    )
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, 1, 64, 64)
    assert np.all((obs == DOT).sum(axis=(1, 2, 3)) == 21)


def test_rgb_frame_shows_the_hidden_dot_faintly() -> None:
    env = MovingDotEnv(continuous=False, render_mode="rgb_array")
    for seed in range(50):
        env.reset(seed=seed)
        state = env.get_state()
        cover = np.argwhere(state.scene[0] == OCCLUDER)
        if len(cover) == 0:
            continue
        y, x = cover[len(cover) // 2]
        gx, gy = state.goal[0]
        if np.hypot(x - gx, y - gy) < 4:
            continue
        _place(env, float(x), float(y), 0.0, 0.0)
        obs, _, _, _, info = env.step(Action.NONE)
        assert info["occluded"] and not np.any(obs == DOT)
        frame = env.render()
        assert np.all(frame[8 * y + 4, 8 * x + 4] == HIDDEN_DOT_COLOUR)
        return
    pytest.fail("no episode with an occluder found")


def test_vector_info_describes_the_returned_observation() -> None:
    envs = MovingDotVectorEnv(32, continuous=False, max_episode_steps=5, occlusion=False)
    obs, info = envs.reset(seed=0)
    for _ in range(12):  # crosses two autoresets
        obs, reward, terminated, truncated, info = envs.step(np.zeros(32, dtype=np.int64))
        cx, cy = np.rint(info["state"][:, :2]).astype(int).T
        assert np.all(obs[np.arange(32), 0, cy, cx] == DOT)
        assert not np.any(info["success"] & (reward == 0))


def test_oracle_matches_the_env() -> None:
    env = MovingDotEnv(continuous=True)
    env.reset(seed=4)
    dynamics = env.get_dynamics(seed=0)
    root = env.get_state()
    states = dynamics.take(root, np.zeros(3, dtype=np.intp))
    actions = np.array([[1.0, 0.0], [0.0, -1.0], [0.3, 0.3]], dtype=np.float32)
    next_states, rewards, dones = dynamics.step(states, actions)
    for i in range(3):
        env.set_state(root)
        obs, reward, terminated, _, _ = env.step(actions[i])
        assert reward == pytest.approx(float(rewards[i]))
        assert terminated == bool(dones[i])
        np.testing.assert_array_equal(obs, dynamics.observe(next_states)[i])
    # the snapshot is a copy: stepping the env does not change it
    assert np.array_equal(env.get_state().goal, root.goal)
    assert not np.array_equal(env.get_state().dot, root.dot)


def test_generate_sequences() -> None:
    data = generate_sequences(16, 30, seed=3)
    assert data.observations.shape == (16, 30, 1, 32, 32)
    assert data.observations.dtype == np.uint8
    assert data.actions.shape == (16, 30, 2) and data.actions.dtype == np.float32
    assert data.states.shape == (16, 30, 4) and data.occluded.shape == (16, 30)
    assert np.all(np.abs(data.actions) <= 1)
    # an occluded frame never shows the dot; a visible one shows it at the true state
    frames = data.observations[:, :, 0]
    assert not np.any(frames[data.occluded] == DOT)
    n, t = np.nonzero(~data.occluded)
    cx, cy = np.rint(data.states[n, t, :2]).astype(int).T
    assert np.all(frames[n, t, cy, cx] == DOT)
    # the states follow the dynamics: x_{t+1} = x_t + v_{t+1} away from walls
    again = generate_sequences(16, 30, seed=3)
    assert np.array_equal(again.observations, data.observations)
    other = generate_sequences(16, 30, seed=4)
    assert not np.array_equal(other.observations, data.observations)

    discrete = generate_sequences(8, 10, seed=0, size=64, continuous=False, occlusion=False)
    assert discrete.observations.shape == (8, 10, 1, 64, 64)
    assert discrete.actions.shape == (8, 10) and discrete.actions.dtype == np.int64
    assert not discrete.occluded.any()


def test_seek_sequences_reach_goals_more_than_random() -> None:
    def final_distance(policy: str) -> float:
        data = generate_sequences(64, 60, policy=policy, seed=0)
        return float(np.linalg.norm(data.states[:, -1, :2] - data.goals, axis=1).mean())

    assert final_distance("seek") < 0.5 * final_distance("random")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 7},
        {"size": 32.0},
        {"occluder_size": (4, 40)},
        {"occluder_size": (0, 3)},
        {"occluder_size": (8, 4)},
        {"max_occluders": -1},
        {"damping": 1.5},
        {"acceleration": 0.0},
        {"arrival_bonus": float("nan")},
    ],
)
def test_bad_arguments_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="MovingDot"):
        MovingDotEnv(**kwargs)
    with pytest.raises(ValueError, match="MovingDot"):
        MovingDotVectorEnv(2, **kwargs)
    with pytest.raises(ValueError, match="MovingDot"):
        generate_sequences(2, 3, **kwargs)


def test_bad_input_raises() -> None:
    env = gym.make("MovingDot-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.inf, 0.0], dtype=np.float32))
    envs = gym.make_vec("MovingDot-v0", num_envs=2, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        envs.step(np.array([[0.0, 0.0], [np.nan, 0.0]], dtype=np.float32))
    discrete = gym.make_vec(
        "MovingDotDiscrete-v0", num_envs=2, vectorization_mode="vector_entry_point"
    )
    discrete.reset(seed=0)
    with pytest.raises(ValueError, match="outside"):
        discrete.step(np.array([0, 5]))
    with pytest.raises(ValueError, match="render_mode 'human' is not one of"):
        MovingDotVectorEnv(2, render_mode="human")
    with pytest.raises(ValueError, match="n and seq_len"):
        generate_sequences(0, 3)
    with pytest.raises(ValueError, match="policy"):
        generate_sequences(2, 3, policy="clever")


def test_set_state_refuses_malformed_snapshots() -> None:
    env = MovingDotEnv()
    env.reset(seed=0)
    good = env.get_state()
    with pytest.raises(ValueError, match="MovingDotState"):
        env.set_state(tuple(good))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scene"):
        env.set_state(good._replace(scene=np.zeros((1, 16, 16), dtype=np.uint8)))
    with pytest.raises(ValueError, match="NaN"):
        env.set_state(good._replace(dot=np.full((1, 4), np.nan)))
    with pytest.raises(ValueError, match="outside"):
        env.set_state(good._replace(dot=np.array([[40.0, 3.0, 0.0, 0.0]])))
    env.set_state(good)


def test_step_after_arrival_raises_and_snapshots_refuse_odd_values() -> None:
    env = gym.make("MovingDot-v0")
    env.reset(seed=0)
    state = env.unwrapped.get_state()
    x, y = state.goal[0]
    env.unwrapped.set_state(state._replace(dot=np.array([[x + 1.0, y, 0.0, 0.0]])))
    *_, terminated, _, info = env.step(np.zeros(2, dtype=np.float32))
    assert terminated and info["success"]
    with pytest.raises(RuntimeError, match=r"MovingDot-v0: step\(\) after the episode terminated"):
        env.step(np.zeros(2, dtype=np.float32))
    env.unwrapped.set_state(state)  # the snapshot is a running episode
    env.step(np.zeros(2, dtype=np.float32))
    scene = state.scene.copy()
    scene[0, 0, 0] = DOT
    with pytest.raises(ValueError, match=r"field 'scene' holds 255; .*\(0, 80, 160\)"):
        env.unwrapped.set_state(state._replace(scene=scene))
    with pytest.raises(ValueError, match=r"field 'goal' column 1 \(y\) holds -3, outside"):
        env.unwrapped.set_state(state._replace(goal=np.array([[x, -3.0]])))
    # velocities have no range: the step keeps even an absurd one on the grid
    env.unwrapped.set_state(state._replace(dot=np.array([[15.0, 15.0, 1e9, -1e9]])))
    _, _, _, _, info = env.step(np.zeros(2, dtype=np.float32))
    assert np.all((info["state"][:2] >= 1) & (info["state"][:2] <= 30))
