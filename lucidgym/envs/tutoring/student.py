"""The hidden student of ``Tutoring-v0``, written once as array functions over ``N`` students.

The model (each part is documented in ``docs/tutoring.md`` and tested):

- **Knowledge** follows Bayesian knowledge tracing (Corbett & Anderson, 1995) in its
  expected form: the true mastery ``m_k`` of topic ``k`` is the probability that the
  student knows a random item of it; practice raises it by ``T_eff * (1 - m_k)`` (BKT's
  learn transition) and topics not practised decay by ``forget * m_k * (1 - m_k / 2)``
  (BKT with forgetting, Qiu et al., 2011; stronger mastery decays more slowly). Answers
  are correct with probability ``guess + (1 - slip - guess) * m_k`` (BKT's guess and
  slip), where slip grows with frustration, fatigue and (on quizzes) test anxiety.
- **Prerequisites**: the four topics form a chain; topic ``k`` is learned at a rate
  scaled by ``0.2 + 0.8 * min(1, m_{k-1} / 0.8)`` (learning hierarchies, Gagné).
- **Zone of proximal development** (Vygotsky; Wood, Bruner & Ross, 1976): each
  strategy makes a demand ``D`` on the student; its effect on a student at zone
  position ``z`` (mastery relative to the topic's difficulty) is
  ``efficacy * exp(-((D - z) / width)^2)``. Direct instruction (low demand) suits
  novices (the worked-example effect, Sweller), Socratic and exploratory work (high
  demand, high efficacy) suit students near mastery (the expertise-reversal effect,
  Kalyuga), scaffolding has a wide bell (the robust middle), and remediation adds a
  large bonus right after an error while errors left uncorrected hamper the others.
- **Affect** follows D'Mello & Graesser's (2012) dynamics and Baker et al. (2010):
  demands above the zone raise confusion; confusion met with wrong answers turns into
  frustration (more so for anxious students); demands below the zone and repeating
  one strategy raise boredom; engaged concentration relaxes towards a level lowered by
  frustration, boredom and fatigue; learning scales with concentration. Fatigue grows
  every step. Frustration, boredom, fatigue and disengagement above the student's
  persistence give a per-step hazard of quitting.
- **Session effects**: repeating the last strategy has diminishing returns;
  ASSESSMENT (a 4-item quiz) teaches little but sharpens the tutor's estimate, moves
  to the next topic when at least 3 items are right and back to the prerequisite after
  a failed quiz on a weak prerequisite; MOTIVATIONAL teaches nothing but restores
  engagement and lowers frustration and fatigue; METACOGNITIVE teaches nothing now but
  raises the learning efficiency for the rest of the session (self-regulated learning,
  Aleven & Koedinger, 2002), with diminishing returns.
- **The tutor's view** (the observation): per topic a Gaussian approximation of the
  knowledge-tracing posterior over mastery (an extended Kalman filter with the
  nominal guess 0.2 and slip 0.1), updated from each observed answer and predicted
  forward with nominal learning and forgetting; affect and engagement come from noisy
  linear detectors (as sensor-free affect detectors are noisy, Baker et al., 2012).
  These two live in :mod:`~lucidgym.envs.tutoring.tracing` and
  :mod:`~lucidgym.envs.tutoring.detectors`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from lucidgym.envs.checks import FieldRange
from lucidgym.envs.tutoring.detectors import NOISY_SIGNALS, NUM_SIGNALS
from lucidgym.envs.tutoring.parameters import (
    ACCURACY,
    ANXIETY,
    ATTEMPTS,
    BOREDOM,
    CONFUSION,
    CURIOSITY,
    EFFICIENCY,
    ENGAGEMENT,
    ERROR,
    FATIGUE,
    FATIGUE_RATE,
    FORGET,
    FRUSTRATION,
    GUESS,
    HINT,
    LAST,
    LEARN,
    MIX,
    MIX_CDF,
    NUM_STRATEGIES,
    NUM_TOPICS,
    OBS_DIM,
    PERSIST,
    POP,
    POPULATIONS,
    RUN,
    SLIP,
    STEP,
    STREAK,
    TOPIC,
)
from lucidgym.envs.tutoring.step import (
    DRAWS,
    TERMINATED,
    VALUES,
    advance,
    fill_students,
    observe_into,
    step_info,
)
from lucidgym.envs.tutoring.tracing import MAX_VARIANCE


class StudentState(NamedTuple):
    """A batch of ``N`` students and their sessions (leading dimension ``N``)."""

    mastery: np.ndarray
    """``[N, 4]`` float64: true mastery per topic (hidden)."""
    estimate: np.ndarray
    """``[N, 4]`` float64: the tutor's posterior mean of mastery (observed)."""
    variance: np.ndarray
    """``[N, 4]`` float64: the tutor's posterior variance of mastery."""
    mind: np.ndarray
    """``[N, 6]`` float64: engagement, confusion, frustration, boredom, fatigue, efficiency."""
    traits: np.ndarray
    """``[N, 9]`` float64: learn, guess, slip, forget, anxiety, persistence, curiosity,
    fatigue rate, population index."""
    session: np.ndarray
    """``[N, 9]`` float64: step, topic, hint level, attempts, last strategy, run length,
    streak, last answer wrong, accuracy (recent window)."""
    signals: np.ndarray
    """``[N, 12]`` float64: this step's noisy detector readings (observation dims 4-15)."""


_INF = float("inf")
STATE_RANGES = (
    FieldRange("mastery", 0.0, 1.0),
    FieldRange("estimate", 0.0, 1.0),
    FieldRange("variance", 0.0, MAX_VARIANCE),
    FieldRange(
        "mind",
        0.0,
        1.0,
        (ENGAGEMENT, CONFUSION, FRUSTRATION, BOREDOM, FATIGUE),
        ("engagement", "confusion", "frustration", "boredom", "fatigue"),
    ),
    # METACOGNITIVE moves the efficiency half way to 1.5 each time, from 1.
    FieldRange("mind", 1.0, 1.5, (EFFICIENCY,), ("efficiency",)),
    FieldRange(
        "traits",
        0.0,
        1.0,
        (LEARN, GUESS, SLIP, FORGET, ANXIETY, PERSIST, CURIOSITY, FATIGUE_RATE),
        ("learn", "guess", "slip", "forget", "anxiety", "persistence", "curiosity", "fatigue rate"),
    ),
    FieldRange("traits", 0, len(MIX) - 1, (POP,), ("population index",), whole=True),
    FieldRange(
        "session",
        0,
        _INF,
        (STEP, ATTEMPTS, RUN, STREAK),
        ("step", "attempts", "run length", "streak"),
        whole=True,
    ),
    FieldRange("session", 0, NUM_TOPICS - 1, (TOPIC,), ("topic",), whole=True),
    FieldRange("session", -1, NUM_STRATEGIES - 1, (LAST,), ("last strategy",), whole=True),
    FieldRange(
        "session",
        0.0,
        1.0,
        (HINT, ERROR, ACCURACY),
        ("hint level", "last answer wrong", "accuracy"),
    ),
    FieldRange("signals", 0.0, 1.0),
)
"""What each field of a :class:`StudentState` may hold (``set_state`` refuses the rest)."""


def check_population(name: str) -> str:
    """Return ``name`` if it is a known population, else raise a ``ValueError``."""
    if name not in POPULATIONS:
        raise ValueError(f"unknown population {name!r}; valid populations: {list(POPULATIONS)}")
    return name


class TutoringKernel:
    """:class:`~lucidgym.envs.kernel.ArrayKernel` of the student simulator.

    Args:
        population: which population new students are drawn from (see ``POPULATIONS``).
        horizon: session length used to scale "time elapsed" in the observation.
    """

    def __init__(self, population: str = "mixed", horizon: int = 80) -> None:
        self.population = check_population(population)
        if horizon < 1:
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self._obs_scale = np.array([1.0 / horizon, 1.0, 0.2, 1.0 / (NUM_TOPICS - 1)])

    def initial(self, rng: np.random.Generator, n: int) -> StudentState:
        """``n`` fresh students from the kernel's population, at the start of a session."""
        state = StudentState(
            np.empty((n, NUM_TOPICS)),
            np.empty((n, NUM_TOPICS)),
            np.empty((n, NUM_TOPICS)),
            np.empty((n, 6)),
            np.empty((n, 9)),
            np.empty((n, 9)),
            np.empty((n, NUM_SIGNALS)),
        )
        self.reset_rows(state, np.arange(n), rng)
        return state

    def reset_rows(self, state: StudentState, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Replace students ``rows [R]`` of ``state`` by fresh ones, in place (an autoreset)."""
        n = rows.shape[0]
        if self.population == "mixed":
            # ``rng.choice(4, size=n, p=MIX)`` draws exactly this (one uniform per student
            # and a search of the normalized CDF) but first validates ``p`` at length.
            pop = np.asarray(MIX_CDF.searchsorted(rng.random(n), side="right"))
        else:
            pop = np.full(n, POPULATIONS.index(self.population))
        z = rng.standard_normal((n, 8))
        mastery_noise = rng.uniform(-0.05, 0.1, (n, NUM_TOPICS))
        engagement = rng.uniform(0.6, 0.9, (n,))
        boredom = rng.uniform(0.0, 0.15, (n,))
        u = rng.random((n, NOISY_SIGNALS), dtype=np.float32)
        fill_students(*state, rows, pop, z, mastery_noise, engagement, boredom, u)

    def transition(
        self, state: StudentState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentState, np.ndarray, np.ndarray, dict[str, Any]]:
        """One tutoring step of every student; see the module docstring for the model."""
        new, reward, flags, counts, values = self._step(state, actions, rng)
        return new, reward, flags[:, TERMINATED], step_info(flags, counts, values, slice(None))

    def transition_one(
        self, state: StudentState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentState, float, bool, dict[str, Any]]:
        """:meth:`transition` of a batch of one, with a scalar reward, flag and ``info``."""
        new, reward, flags, counts, values = self._step(state, action, rng)
        return (
            new,
            float(reward[0]),
            bool(flags[0, TERMINATED]),
            step_info(flags, counts, values, 0),
        )

    def _step(
        self, state: StudentState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentState, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = actions.shape[0]
        # Every random number of the step, drawn at once: four answers, the learning
        # noise, the quitting draw and the ten detector noises (single precision is
        # plenty for noise and halves the generator's work).
        u = rng.random((n, DRAWS), dtype=np.float32)
        new = StudentState(
            np.empty_like(state.mastery),
            np.empty_like(state.estimate),
            np.empty_like(state.variance),
            np.empty_like(state.mind),
            state.traits,
            np.empty_like(state.session),
            np.empty_like(state.signals),
        )
        reward = np.empty(n, dtype=np.float32)
        flags = np.empty((n, 3), dtype=bool)
        counts = np.empty((n, 4), dtype=np.int64)
        values = np.empty((n, VALUES), dtype=np.float32)
        advance(
            *state[:6], actions.astype(np.int64, copy=False), u, *new[:4], *new[5:],
            reward, flags, counts, values,
        )  # fmt: skip
        return new, reward, flags, counts, values

    def observe(self, state: StudentState) -> np.ndarray:
        """``[N, 20]`` float32 observations in [0, 1] (layout: the env's docstring)."""
        obs = np.empty((state.estimate.shape[0], OBS_DIM), dtype=np.float32)
        observe_into(state.estimate, state.signals, state.session, self._obs_scale, obs)
        return obs
