"""``TutoringEnv`` and its native vector env."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from lucidgym.envs.checks import check_action, check_ranges
from lucidgym.envs.kernel import KernelEnv
from lucidgym.envs.tutoring.parameters import NUM_STRATEGIES, OBS_DIM, POP, SESSION_STEPS
from lucidgym.envs.tutoring.policies import expert_actions
from lucidgym.envs.tutoring.render import ansi_line, dashboard
from lucidgym.envs.tutoring.student import (
    STATE_RANGES,
    StudentState,
    TutoringKernel,
    check_population,
)
from lucidgym.envs.vector import ArrayVectorEnv

_HISTORY = 12
"""Steps of (strategy, reward) the pictures keep."""

_PLAIN_INTS = (int, np.int64)
"""Action types that are valid strategies whenever they lie in ``[0, 8)``."""


def _observation_space() -> gym.spaces.Box:
    return gym.spaces.Box(0.0, 1.0, shape=(OBS_DIM,), dtype=np.float32)


def population_option(options: dict[str, Any] | None) -> str | None:
    """The checked ``population`` of ``reset``'s options, ``None`` where it names none."""
    if not options or "population" not in options:
        return None
    return check_population(options["population"])


class TutoringEnv(KernelEnv[StudentState]):
    """A synthetic student and a tutor that picks a teaching strategy each step.

    ## Description
    The agent is the tutor of one student working through four topics that form a
    prerequisite chain. Each step it picks one of eight strategies; the hidden student
    learns (Bayesian knowledge tracing with guess, slip and forgetting), answers,
    feels (engaged concentration, confusion, frustration, boredom, fatigue) and may
    quit. The strategy's effect depends on the student's zone of proximal development
    (direct instruction suits novices, Socratic and exploratory work suit students near
    mastery, scaffolding is the robust middle, remediation pays after errors). The
    tutor only sees its own knowledge-tracing estimate of mastery and noisy affect and
    engagement detectors. METACOGNITIVE and MOTIVATIONAL pay off only later, and only
    ASSESSMENT moves the session to the next topic: planning is worth it. The model,
    its parameters and the literature it follows are in ``docs/tutoring.md`` and
    :mod:`lucidgym.envs.tutoring.student`.

    ## Action Space
    ``Discrete(8)``, a :class:`~lucidgym.envs.tutoring.Strategy`: 0 SOCRATIC,
    1 SCAFFOLDED, 2 DIRECT, 3 EXPLORATORY, 4 REMEDIAL, 5 ASSESSMENT (4-item quiz),
    6 MOTIVATIONAL, 7 METACOGNITIVE.

    ## Observation Space
    ``Box(0, 1, (20,), float32)``:

    | index | signal | min | max |
    |-------|--------|-----|-----|
    | 0-3 | tutor's knowledge-tracing estimate of mastery, topics 0-3 (not the truth) | 0 | 1 |
    | 4 | attention | 0 | 1 |
    | 5 | participation | 0 | 1 |
    | 6 | on-task ratio | 0 | 1 |
    | 7 | response latency (1 = slow) | 0 | 1 |
    | 8 | accuracy over recent answers | 0 | 1 |
    | 9 | depth of answers | 0 | 1 |
    | 10 | speed of answers | 0 | 1 |
    | 11 | streak of right answers (of 5) | 0 | 1 |
    | 12 | frustration (detector) | 0 | 1 |
    | 13 | confidence (detector) | 0 | 1 |
    | 14 | curiosity (detector) | 0 | 1 |
    | 15 | boredom (detector) | 0 | 1 |
    | 16 | time elapsed (of the session length) | 0 | 1 |
    | 17 | hint level on the current problem | 0 | 1 |
    | 18 | attempts on the current problem (of 5) | 0 | 1 |
    | 19 | current topic (topic / 3) | 0 | 1 |

    ## Rewards
    Learning gain: 10 times the step's increase of the student's summed true mastery
    (negative when forgetting outweighs learning).

    ## Starting State
    A student drawn from the population (``novice``, ``average``, ``advanced``,
    ``anxious``, or ``mixed`` of them): traits (learn rate, guess, slip, forgetting,
    anxiety, persistence, curiosity, fatigue rate), prior mastery per topic and
    starting affect; the tutor starts from a population-blind prior estimate on topic 0.

    ## Episode End
    Termination: the student quits (``info["quit"]``) or masters every topic
    (``info["mastered"]``, true mastery >= 0.9 on all four).
    Truncation: the registered ``max_episode_steps`` (80), through ``gym.make``'s
    ``TimeLimit``. A ``step`` after termination, or past the registered limit, raises
    ``RuntimeError`` until ``reset()``: a student who quit does not come back. An env
    built directly (``TutoringEnv()``) has no time limit.

    ## Info
    ``true_mastery`` ``[4]``, ``quit``, ``mastered``, ``learning_effect`` (the
    strategy's learning rate this step), ``items`` and ``correct`` (answers asked and
    right), ``topic``, ``estimate_error`` (mean absolute error of the estimate),
    ``affect`` ``[4]`` (true engagement, confusion, frustration, boredom),
    ``efficiency`` (the metacognitive multiplier), ``population``.

    ## Expert Policy
    ``expert_policy()`` returns the rules a human tutor would write
    (:func:`~lucidgym.envs.tutoring.policies.expert_strategy`, the ``reactive``
    baseline) as a batched function ``obs [B, 20] -> actions [B]`` int64; it clips the
    observations to [0, 1] first, so that it also reads a learned model's predictions.

    ## Arguments
    ``population``: ``"mixed"`` (default), ``"novice"``, ``"average"``, ``"advanced"``
    or ``"anxious"``; also ``reset(options={"population": ...})``, which holds for
    that episode and the ones after it. ``render_mode``: ``"ansi"``, ``"rgb_array"``
    or ``"human"``. ``horizon``: session length for the time-elapsed signal
    (``SESSION_STEPS``, 80).

    ## Version History
    - v0: initial release.

    Example:
        >>> import gymnasium as gym
        >>> import lucidgym  # noqa: F401
        >>> env = gym.make("Tutoring-v0", population="novice")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (20,)
        >>> obs, reward, terminated, truncated, info = env.step(2)  # DIRECT
        >>> info["true_mastery"].shape
        (4,)
    """

    metadata: dict[str, Any] = {
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": 4,
        # What a dataset of tutoring sessions keeps of each step's info: the hidden truth
        # that evaluates a model, at half the write cost of every key.
        "dataset_infos": ("true_mastery", "quit", "mastered"),
    }
    kernel: TutoringKernel

    def __init__(
        self,
        population: str = "mixed",
        render_mode: str | None = None,
        horizon: int = SESSION_STEPS,
    ) -> None:
        super().__init__(
            TutoringKernel(population, horizon),
            _observation_space(),
            gym.spaces.Discrete(NUM_STRATEGIES),
            render_mode,
        )
        self._history: deque[tuple[int, float]] = deque(maxlen=_HISTORY)

    @property
    def population(self) -> str:
        """The population new students are drawn from."""
        return self.kernel.population

    def expert_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        """The expert tutor's rules as a batched ``obs [B, 20] -> actions [B]`` int64 function."""
        return expert_actions

    def _start_episode(self, options: dict[str, Any] | None) -> None:
        population = population_option(options)
        if population is not None:
            self.kernel.population = population
        self._history.clear()

    def _first_observation(self, state: StudentState) -> tuple[np.ndarray, dict[str, Any]]:
        info = {
            "true_mastery": state.mastery[0].astype(np.float32),
            "population": int(state.traits[0, POP]),
        }
        return self.kernel.observe(state)[0], info

    def _advance(
        self, state: StudentState, action: Any
    ) -> tuple[StudentState, np.ndarray, float, bool, dict[str, Any]]:
        if type(action) in _PLAIN_INTS and 0 <= action < NUM_STRATEGIES:
            # The common case skips the generic check (a sizeable share of a step).
            act = np.array([action], dtype=np.int64)
        else:
            act = check_action(self.action_space, action, self._name).reshape(1)
        new, reward, terminated, info = self.kernel.transition_one(state, act, self.np_random)
        if self.render_mode is not None:
            self._history.append((int(act[0]), reward))
        return new, self.kernel.observe(new)[0], reward, terminated, info

    def _check_snapshot(self, state: StudentState) -> None:
        check_ranges(state, STATE_RANGES, self._name)

    def _ansi(self) -> str:
        assert self._state is not None
        return ansi_line(self._state, self.kernel, self._history, self._return)

    def _frame(self) -> np.ndarray:
        assert self._state is not None
        return dashboard(self._state, self.kernel, self._history, self._return)


class TutoringVectorEnv(ArrayVectorEnv[StudentState]):
    """``num_envs`` tutoring sessions stepped in one NumPy call.

    Takes the same arguments as :class:`TutoringEnv`, plus ``num_envs``,
    ``max_episode_steps`` (passed by ``gym.make_vec`` from the registration) and
    ``autoreset_mode`` (next-step by default; see
    :class:`~lucidgym.envs.vector.ArrayVectorEnv`); its one
    ``render_mode`` is ``"rgb_array"``: ``render()`` gives each session's dashboard, as
    :class:`TutoringEnv` draws it. ``info`` holds the single env's keys as arrays with a
    leading ``N``. ``expert_policy()`` is the single env's, over the ``[num_envs, 20]``
    observations.
    """

    metadata: dict[str, Any] = {
        **ArrayVectorEnv.metadata,
        "render_modes": ["rgb_array"],
        "render_fps": TutoringEnv.metadata["render_fps"],
    }
    kernel: TutoringKernel

    def __init__(
        self,
        num_envs: int = 1,
        population: str = "mixed",
        max_episode_steps: int | None = SESSION_STEPS,
        render_mode: str | None = None,
        horizon: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    ) -> None:
        if horizon is None:
            horizon = max_episode_steps if max_episode_steps is not None else SESSION_STEPS
        super().__init__(
            TutoringKernel(population, horizon),
            num_envs,
            _observation_space(),
            gym.spaces.Discrete(NUM_STRATEGIES),
            max_episode_steps,
            "TutoringVectorEnv",
            render_mode,
            autoreset_mode,
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every session; ``options={"population": ...}`` switches the population."""
        population = population_option(options)
        if population is not None:
            self.kernel.population = population
        return super().reset(seed=seed, options=options)

    expert_policy = TutoringEnv.expert_policy

    def _new_record(self) -> deque[tuple[int, float]]:
        return deque(maxlen=_HISTORY)

    def _next_record(
        self,
        record: deque[tuple[int, float]],
        i: int,
        action: Any,
        reward: float,
        info: dict[str, Any],
    ) -> deque[tuple[int, float]]:
        record.append((int(action), reward))
        return record

    def _frame(self, i: int) -> np.ndarray:
        return dashboard(self._row(i), self.kernel, self._records[i], float(self._returns[i]))
