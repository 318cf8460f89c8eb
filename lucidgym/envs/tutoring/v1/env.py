"""``TutoringV1Env`` and its native vector env (``Tutoring-v1``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from lucidgym.envs.checks import check_action, check_ranges
from lucidgym.envs.kernel import KernelEnv
from lucidgym.envs.tutoring.env import TutoringEnv, TutoringVectorEnv, population_option
from lucidgym.envs.tutoring.parameters import POP, SESSION_STEPS
from lucidgym.envs.tutoring.v1.parameters import NUM_ACTIONS, OBS_DIM
from lucidgym.envs.tutoring.v1.policies import expert_actions_v1
from lucidgym.envs.tutoring.v1.step import posttest
from lucidgym.envs.tutoring.v1.student import STATE_RANGES, StudentStateV1, TutoringV1Kernel
from lucidgym.envs.vector import ArrayVectorEnv

_PLAIN_INTS = (int, np.int64)


def _spaces() -> tuple[gym.spaces.Box, gym.spaces.Discrete]:
    return gym.spaces.Box(0.0, 1.0, shape=(OBS_DIM,), dtype=np.float32), gym.spaces.Discrete(
        NUM_ACTIONS
    )


def _start_info(state: StudentStateV1) -> dict[str, Any]:
    retention = np.array(
        [posttest(p, h) for p, h in zip(state.mastery[0], state.halflife[0], strict=True)]
    )
    return {
        "true_mastery": state.mastery[0].astype(np.float32),
        "retention": retention.astype(np.float32),
        "posttest": np.float32(retention.sum()),
        "halflife": state.halflife[0].astype(np.float32),
        "population": int(state.traits[0, POP]),
    }


class TutoringV1Env(KernelEnv[StudentStateV1]):
    """A tutoring session judged by a delayed post-test, where spaced reviews pay.

    ## Description
    The v0 student (:class:`~lucidgym.envs.tutoring.TutoringEnv`: knowledge tracing,
    zone of proximal development, affect, quitting) with memory that fades and
    consolidates. What the student recalls of a topic decays with a half-life; a
    retrieval that succeeds after a gap lengthens the half-life far more than massed
    practice does (the spacing and testing effects); each student's forgetting rate per
    topic is hidden and shows only in how recall holds up between reviews. The outcome
    is a post-test of every topic ``DELAY`` (120) steps after the session: teaching that
    looks good now and is not reviewed is lost by then. The tutor can review any topic
    at any time. The model and its literature are in ``docs/tutoring.md`` and
    :mod:`lucidgym.envs.tutoring.v1.step`.

    ## Action Space
    ``Discrete(12)``, an :class:`~lucidgym.envs.tutoring.v1.Action`: 0-7 v0's
    strategies on the current topic (0 SOCRATIC, 1 SCAFFOLDED, 2 DIRECT, 3 EXPLORATORY,
    4 REMEDIAL, 5 ASSESSMENT, 6 MOTIVATIONAL, 7 METACOGNITIVE), 8-11 REVIEW of topic
    0-3: one retrieval item on that topic with corrective feedback, staying on the
    current topic.

    ## Observation Space
    ``Box(0, 1, (24,), float32)``: dims 0-19 as in v0, except that dims 0-3 estimate
    the current recall (the tutor's knowledge tracing forgets at a nominal half-life of
    25 steps); dims 20-23 the steps since topic 0-3 was last practised (of the session
    length, clipped to 1).

    | index | signal | min | max |
    |-------|--------|-----|-----|
    | 0-3 | tutor's estimate of recall, topics 0-3 (not the truth) | 0 | 1 |
    | 4-15 | v0's detectors (attention ... boredom) | 0 | 1 |
    | 16 | time elapsed (of the session length) | 0 | 1 |
    | 17 | hint level on the current problem | 0 | 1 |
    | 18 | attempts on the current problem (of 5) | 0 | 1 |
    | 19 | current topic (topic / 3) | 0 | 1 |
    | 20-23 | time since topic 0-3 was practised (of the session length) | 0 | 1 |

    ## Rewards
    10 times the step's change of the predicted post-test score: the sum over topics of
    ``recall * 2 ** (-120 / half_life)``, what the student would recall at the post-test
    if the session ended now. The reward is potential-based, so the return is the
    post-test score at the end minus the one predicted at the start, times 10.

    ## Starting State
    As v0, plus each topic's half-life multiplier (population mean 0.8 novice, 1.0
    average and anxious, 1.3 advanced; lognormal spread 0.5 per topic) and a half-life
    of ``10 * multiplier * (1 + 3 * prior recall)`` steps.

    ## Episode End
    Termination: the student quits (``info["quit"]``). Truncation: the registered
    ``max_episode_steps`` (80). The post-test follows either. A ``step`` after the end
    raises ``RuntimeError`` until ``reset()``.

    ## Info
    v0's keys (``true_mastery`` is the current recall), except ``mastered``, plus
    ``retention`` ``[4]`` (recall expected at the post-test), ``posttest`` (its sum),
    ``halflife`` ``[4]`` and ``reviewed`` (the topic reviewed, -1 for none).

    ## Expert Policy
    ``expert_policy()``: v0's rules re-tuned plus spaced reviews
    (:mod:`lucidgym.envs.tutoring.v1.policies`), batched, clipping to [0, 1].

    ## Arguments
    As v0: ``population``, ``render_mode`` (``"ansi"``, ``"rgb_array"``, ``"human"``),
    ``horizon``.

    ## Version History
    - v1: retention at a delayed post-test as the outcome, half-life memory with
      spacing-dependent consolidation, hidden forgetting rates, per-topic reviews
      (12 actions, 24 observation dims; dims 0-19 keep v0's meaning); the session
      no longer ends on mastery.
    - v0: initial release.

    Example:
        >>> import gymnasium as gym
        >>> import lucidgym  # noqa: F401
        >>> env = gym.make("Tutoring-v1")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (24,)
        >>> obs, reward, terminated, truncated, info = env.step(8)  # REVIEW topic 0
        >>> info["retention"].shape
        (4,)
    """

    metadata: dict[str, Any] = {
        **TutoringEnv.metadata,
        "dataset_infos": ("true_mastery", "retention", "quit"),
    }
    kernel: TutoringV1Kernel

    def __init__(
        self,
        population: str = "mixed",
        render_mode: str | None = None,
        horizon: int = SESSION_STEPS,
    ) -> None:
        super().__init__(TutoringV1Kernel(population, horizon), *_spaces(), render_mode)
        self._history: deque[tuple[int, float]] = deque(maxlen=12)

    population = TutoringEnv.population
    _start_episode = TutoringEnv._start_episode
    _ansi = TutoringEnv._ansi
    _frame = TutoringEnv._frame

    def expert_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        """The v1 rules as a batched ``obs [B, 24] -> actions [B]`` int64 function."""
        return expert_actions_v1

    def _first_observation(self, state: StudentStateV1) -> tuple[np.ndarray, dict[str, Any]]:
        return self.kernel.observe(state)[0], _start_info(state)

    def _advance(
        self, state: StudentStateV1, action: Any
    ) -> tuple[StudentStateV1, np.ndarray, float, bool, dict[str, Any]]:
        if type(action) in _PLAIN_INTS and 0 <= action < NUM_ACTIONS:
            act = np.array([action], dtype=np.int64)
        else:
            act = check_action(self.action_space, action, self._name).reshape(1)
        new, reward, terminated, info = self.kernel.transition_one(state, act, self.np_random)
        if self.render_mode is not None:
            self._history.append((int(act[0]), reward))
        return new, self.kernel.observe(new)[0], reward, terminated, info

    def _check_snapshot(self, state: StudentStateV1) -> None:
        check_ranges(state, STATE_RANGES, self._name)


class TutoringV1VectorEnv(ArrayVectorEnv[StudentStateV1]):
    """``num_envs`` v1 sessions stepped in one NumPy call (arguments as the v0 vector env)."""

    metadata: dict[str, Any] = TutoringVectorEnv.metadata
    kernel: TutoringV1Kernel

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
            TutoringV1Kernel(population, horizon),
            num_envs,
            *_spaces(),
            max_episode_steps,
            "TutoringV1VectorEnv",
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

    expert_policy = TutoringV1Env.expert_policy
    _new_record = TutoringVectorEnv._new_record
    _next_record = TutoringVectorEnv._next_record
    _frame = TutoringVectorEnv._frame
