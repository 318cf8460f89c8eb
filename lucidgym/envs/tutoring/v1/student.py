"""The ``Tutoring-v1`` student as an array kernel (model: :mod:`.step`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from lucidgym.envs.checks import FieldRange
from lucidgym.envs.jit import compiled
from lucidgym.envs.tutoring.detectors import NOISY_SIGNALS, NUM_SIGNALS
from lucidgym.envs.tutoring.parameters import LAST, MIX_CDF, NUM_TOPICS, POPULATIONS
from lucidgym.envs.tutoring.step import DRAWS
from lucidgym.envs.tutoring.student import STATE_RANGES as V0_RANGES
from lucidgym.envs.tutoring.student import check_population
from lucidgym.envs.tutoring.v1.parameters import (
    HALFLIFE_COLUMNS,
    HALFLIFE_MEAN,
    HALFLIFE_SPREAD,
    MAX_HALFLIFE,
    NUM_ACTIONS,
    OBS_DIM,
    TRAITS,
)
from lucidgym.envs.tutoring.v1.step import (
    AFFECT_OUT,
    CORRECT_OUT,
    EFFECT_OUT,
    EFFICIENCY_OUT,
    ESTIMATE_ERROR_OUT,
    HALFLIFE_OUT,
    ITEMS_OUT,
    MASTERY_OUT,
    POPULATION_OUT,
    POSTTEST_OUT,
    QUIT,
    RETENTION_OUT,
    REVIEWED_OUT,
    SESSION_COLUMNS,
    TERMINATED,
    TOPIC_OUT,
    VALUES,
    advance_v1,
    fill_students_v1,
)


@compiled
def observe_v1(
    est: np.ndarray,
    signals: np.ndarray,
    ses: np.ndarray,
    since: np.ndarray,
    scale: np.ndarray,
    obs: np.ndarray,
) -> None:
    """Write ``[N, 24]`` observations: v0's 20 dims, then each topic's time since practice."""
    for i in range(obs.shape[0]):
        for j in range(NUM_TOPICS):
            obs[i, j] = est[i, j]
        for j in range(NUM_SIGNALS):
            obs[i, NUM_TOPICS + j] = signals[i, j]
        base = NUM_TOPICS + NUM_SIGNALS
        for j in range(SESSION_COLUMNS.shape[0]):
            obs[i, base + j] = min(ses[i, SESSION_COLUMNS[j]] * scale[j], 1.0)
        for j in range(NUM_TOPICS):
            obs[i, base + 4 + j] = min(since[i, j] * scale[0], 1.0)


class StudentStateV1(NamedTuple):
    """A batch of ``N`` v1 students: v0's fields, then memory (leading dimension ``N``)."""

    mastery: np.ndarray
    """``[N, 4]`` float64: true recall probability per topic now (hidden)."""
    estimate: np.ndarray
    """``[N, 4]`` float64: the tutor's posterior mean of recall (observed)."""
    variance: np.ndarray
    """``[N, 4]`` float64: the tutor's posterior variance."""
    mind: np.ndarray
    """``[N, 6]`` float64: engagement, confusion, frustration, boredom, fatigue, efficiency."""
    traits: np.ndarray
    """``[N, 13]`` float64: v0's nine traits, then each topic's half-life multiplier."""
    session: np.ndarray
    """``[N, 9]`` float64: v0's session columns."""
    signals: np.ndarray
    """``[N, 12]`` float64: this step's detector readings."""
    halflife: np.ndarray
    """``[N, 4]`` float64: each topic's memory half-life in steps (hidden)."""
    since: np.ndarray
    """``[N, 4]`` float64: steps since each topic was last practised."""


MAX_SINCE = 1e9
"""Most steps since practice a snapshot may hold: forgetting is complete long before,
and the step raises the keep rate to this power as a 64-bit integer."""

_MULTIPLIER_MAX = float(HALFLIFE_MEAN.max() * np.exp(2.0 * HALFLIFE_SPREAD))
STATE_RANGES = (
    *(r for r in V0_RANGES if r.columns != (LAST,)),
    FieldRange("session", -1, NUM_ACTIONS - 1, (LAST,), ("last action",), whole=True),
    FieldRange(
        "traits",
        0.0,
        _MULTIPLIER_MAX,
        tuple(range(HALFLIFE_COLUMNS, TRAITS)),
        tuple(f"half-life multiplier {k}" for k in range(NUM_TOPICS)),
    ),
    FieldRange("halflife", 0.1, MAX_HALFLIFE),
    FieldRange("since", 0, MAX_SINCE, whole=True),
)
"""What each field of a :class:`StudentStateV1` may hold (``set_state`` refuses the rest)."""


def step_info_v1(
    flags: np.ndarray, counts: np.ndarray, values: np.ndarray, row: int | slice
) -> dict[str, Any]:
    """``info`` of one student (``row`` an int) or of all (``slice(None)``), as views."""
    return {
        "true_mastery": values[row, MASTERY_OUT:RETENTION_OUT],
        "retention": values[row, RETENTION_OUT:HALFLIFE_OUT],
        "posttest": values[row, POSTTEST_OUT],
        "halflife": values[row, HALFLIFE_OUT:AFFECT_OUT],
        "quit": flags[row, QUIT],
        "learning_effect": values[row, EFFECT_OUT],
        "items": counts[row, ITEMS_OUT],
        "correct": counts[row, CORRECT_OUT],
        "topic": counts[row, TOPIC_OUT],
        "reviewed": counts[row, REVIEWED_OUT],
        "estimate_error": values[row, ESTIMATE_ERROR_OUT],
        "affect": values[row, AFFECT_OUT:],
        "efficiency": values[row, EFFICIENCY_OUT],
        "population": counts[row, POPULATION_OUT],
    }


class TutoringV1Kernel:
    """:class:`~lucidgym.envs.kernel.ArrayKernel` of the v1 student.

    Args:
        population: which population new students are drawn from (see ``POPULATIONS``).
        horizon: session length used to scale "time elapsed" and "time since practice".
    """

    def __init__(self, population: str = "mixed", horizon: int = 80) -> None:
        self.population = check_population(population)
        if horizon < 1:
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self._obs_scale = np.array([1.0 / horizon, 1.0, 0.2, 1.0 / (NUM_TOPICS - 1)])

    def initial(self, rng: np.random.Generator, n: int) -> StudentStateV1:
        """``n`` fresh students from the kernel's population, at the start of a session."""
        state = StudentStateV1(
            mastery=np.empty((n, NUM_TOPICS)),
            estimate=np.empty((n, NUM_TOPICS)),
            variance=np.empty((n, NUM_TOPICS)),
            mind=np.empty((n, 6)),
            traits=np.empty((n, TRAITS)),
            session=np.empty((n, 9)),
            signals=np.empty((n, NUM_SIGNALS)),
            halflife=np.empty((n, NUM_TOPICS)),
            since=np.empty((n, NUM_TOPICS)),
        )
        self.reset_rows(state, np.arange(n), rng)
        return state

    def reset_rows(self, state: StudentStateV1, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Replace students ``rows [R]`` of ``state`` by fresh ones, in place (an autoreset)."""
        n = rows.shape[0]
        if self.population == "mixed":
            pop = np.asarray(MIX_CDF.searchsorted(rng.random(n), side="right"))
        else:
            pop = np.full(n, POPULATIONS.index(self.population))
        z = rng.standard_normal((n, 8 + NUM_TOPICS))
        mastery_noise = rng.uniform(-0.05, 0.1, (n, NUM_TOPICS))
        engagement = rng.uniform(0.6, 0.9, (n,))
        boredom = rng.uniform(0.0, 0.15, (n,))
        u = rng.random((n, NOISY_SIGNALS), dtype=np.float32)
        fill_students_v1(*state, rows, pop, z, mastery_noise, engagement, boredom, u)

    def transition(
        self, state: StudentStateV1, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentStateV1, np.ndarray, np.ndarray, dict[str, Any]]:
        """One tutoring step of every student; see :mod:`.step` for the model."""
        new, reward, flags, counts, values = self._step(state, actions, rng)
        return new, reward, flags[:, TERMINATED], step_info_v1(flags, counts, values, slice(None))

    def transition_one(
        self, state: StudentStateV1, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentStateV1, float, bool, dict[str, Any]]:
        """:meth:`transition` of a batch of one, with a scalar reward, flag and ``info``."""
        new, reward, flags, counts, values = self._step(state, action, rng)
        info = step_info_v1(flags, counts, values, 0)
        return new, float(reward[0]), bool(flags[0, TERMINATED]), info

    def _step(
        self, state: StudentStateV1, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentStateV1, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = actions.shape[0]
        u = rng.random((n, DRAWS), dtype=np.float32)
        new = StudentStateV1(
            np.empty_like(state.mastery),
            np.empty_like(state.estimate),
            np.empty_like(state.variance),
            np.empty_like(state.mind),
            state.traits,
            np.empty_like(state.session),
            np.empty_like(state.signals),
            np.empty_like(state.halflife),
            np.empty_like(state.since),
        )
        reward = np.empty(n, dtype=np.float32)
        flags = np.empty((n, 2), dtype=bool)
        counts = np.empty((n, 5), dtype=np.int64)
        values = np.empty((n, VALUES), dtype=np.float32)
        advance_v1(
            *state[:6], state.halflife, state.since, actions.astype(np.int64, copy=False), u,
            *new[:4], new.session, new.signals, new.halflife, new.since,
            reward, flags, counts, values,
        )  # fmt: skip
        return new, reward, flags, counts, values

    def observe(self, state: StudentStateV1) -> np.ndarray:
        """``[N, 24]`` float32 observations in [0, 1] (layout: the env's docstring)."""
        obs = np.empty((state.estimate.shape[0], OBS_DIM), dtype=np.float32)
        observe_v1(state.estimate, state.signals, state.session, state.since, self._obs_scale, obs)
        return obs
