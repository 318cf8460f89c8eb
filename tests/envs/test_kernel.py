"""The KernelEnv base: a family that fills only the hooks gets the whole env skeleton."""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from lucidgym.envs.checks import FieldRange, check_action, check_ranges
from lucidgym.envs.kernel import KernelEnv


class CountState(NamedTuple):
    count: np.ndarray
    """``[N]`` int64: how far each counter has got."""


class CountKernel:
    """Counters that add the action; a counter that reaches 5 terminates."""

    def initial(self, rng: np.random.Generator, n: int) -> CountState:
        return CountState(rng.integers(0, 2, n))

    def transition(
        self, state: CountState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[CountState, np.ndarray, np.ndarray, dict[str, Any]]:
        count = state.count + actions
        return CountState(count), actions.astype(np.float32), count >= 5, {}

    def observe(self, state: CountState) -> np.ndarray:
        return np.minimum(state.count, 5).astype(np.float32)[:, None] / 5


class CountEnv(KernelEnv[CountState]):
    """A counter: the smallest family, filling only the hooks."""

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(
            CountKernel(),
            gym.spaces.Box(0.0, 1.0, (1,), np.float32),
            gym.spaces.Discrete(2),
            render_mode,
        )

    def _first_observation(self, state: CountState) -> tuple[np.ndarray, dict[str, Any]]:
        return self.kernel.observe(state)[0], {}

    def _advance(
        self, state: CountState, action: Any
    ) -> tuple[CountState, np.ndarray, float, bool, dict[str, Any]]:
        act = check_action(self.action_space, action, self._name).reshape(1)
        new, reward, terminated, _ = self.kernel.transition(state, act, self.np_random)
        return new, self.kernel.observe(new)[0], float(reward[0]), bool(terminated[0]), {}

    def _check_snapshot(self, state: CountState) -> None:
        if np.any(state.count < 0):
            raise ValueError(f"{self._name}.set_state: negative count")

    def _ansi(self) -> str:
        assert self._state is not None
        return f"count={int(self._state.count[0])} return={self._return:.0f}"

    def _frame(self) -> np.ndarray:
        return np.zeros((8, 8, 3), dtype=np.uint8)


def test_a_family_of_hooks_is_a_gymnasium_env() -> None:
    env = CountEnv()
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    start = int(env.get_state().count[0])
    _, reward, terminated, truncated, _ = env.step(1)
    assert reward == 1.0 and not terminated and not truncated
    assert int(env.get_state().count[0]) == start + 1
    assert env.get_dynamics(seed=0).step(env.get_state(), np.array([1]))[1].tolist() == [1.0]


def test_the_base_guards_and_validates() -> None:
    with pytest.raises(ValueError, match="render_mode 'human' is not one of"):
        CountEnv(render_mode="human")
    env = CountEnv(render_mode="ansi")
    for call in (lambda: env.step(0), env.get_state, env.render):
        with pytest.raises(RuntimeError, match=r"CountEnv: call reset\(\) before"):
            call()
    env.reset(seed=0)
    env.step(1)
    assert env.render().endswith("return=1")
    with pytest.raises(ValueError, match="negative count"):
        env.set_state(CountState(np.array([-1])))
    with pytest.raises(ValueError, match="CountEnv"):
        env.step(2)
    assert not hasattr(env, "expert_policy")  # the hook exists only where there are rules


def test_a_step_after_termination_raises_until_reset_or_set_state() -> None:
    env = CountEnv()
    env.reset(seed=0)
    start = env.get_state()
    steps = 0
    terminated = False
    while not terminated:
        _, _, terminated, truncated, _ = env.step(1)
        steps += 1
        assert not truncated  # built directly: no time limit, the env never truncates
    with pytest.raises(
        RuntimeError, match=rf"CountEnv: step\(\) after the episode terminated at step {steps}"
    ):
        env.step(0)
    env.set_state(start)  # a restored snapshot is a running episode again
    env.step(0)
    env.reset(seed=1)
    env.step(0)


def test_an_env_built_directly_has_no_time_limit() -> None:
    env = CountEnv()
    env.reset(seed=0)
    for _ in range(1000):
        assert env.step(0)[3] is False


def test_check_ranges_names_field_column_and_range() -> None:
    state = CountState(np.array([[0.5, 2.0, 3.0]]))
    ranges = (
        FieldRange("count", 0.0, 1.0, (0,), ("share",)),
        FieldRange("count", 0, 5, (1, 2), ("tries", "wins"), whole=True),
    )
    check_ranges(state, ranges, "E")
    share = r"field 'count' column 0 \(share\) holds 1.5, outside its valid range: \[0, 1\]"
    with pytest.raises(ValueError, match=r"E\.set_state: " + share):
        check_ranges(CountState(np.array([[1.5, 2.0, 3.0]])), ranges, "E")
    with pytest.raises(
        ValueError, match=r"column 2 \(wins\) holds 2.5, .*whole numbers in \[0, 5\]"
    ):
        check_ranges(CountState(np.array([[0.5, 2.0, 2.5]])), ranges, "E")
    with pytest.raises(
        ValueError, match=r"field 'count' holds -1, outside its valid range: \[0, inf\]"
    ):
        check_ranges(CountState(np.array([-1])), (FieldRange("count", 0, np.inf),), "E")
