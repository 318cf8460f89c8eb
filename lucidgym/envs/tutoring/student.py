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

from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np

from lucidgym.envs.tutoring.detectors import NOISY_SIGNALS, NUM_SIGNALS, detect_one
from lucidgym.envs.tutoring.tracing import track
from lucidgym.jit import compiled, inlined


class Strategy(IntEnum):
    """The tutor's eight strategies (the actions of ``Tutoring-v0``)."""

    SOCRATIC = 0
    SCAFFOLDED = 1
    DIRECT = 2
    EXPLORATORY = 3
    REMEDIAL = 4
    ASSESSMENT = 5
    MOTIVATIONAL = 6
    METACOGNITIVE = 7


NUM_TOPICS = 4
NUM_STRATEGIES = len(Strategy)
# Plain ints: comparing arrays with IntEnum members is slow.
_EXPLORATORY, _REMEDIAL = int(Strategy.EXPLORATORY), int(Strategy.REMEDIAL)
_ASSESSMENT, _MOTIVATIONAL = int(Strategy.ASSESSMENT), int(Strategy.MOTIVATIONAL)
_METACOGNITIVE = int(Strategy.METACOGNITIVE)
OBS_DIM = 20
QUIZ_ITEMS = 4
"""Items in an ASSESSMENT quiz; at least ``QUIZ_PASS`` right moves to the next topic."""
QUIZ_PASS = 3
MASTERED = 0.9
"""True mastery every topic must reach for the session to end in success."""
REWARD_SCALE = 10.0
"""Reward = ``REWARD_SCALE`` times the step's increase of summed true mastery."""

# Columns of StudentState.mind, .traits and .session.
E, C, F, B, G, EFF = range(6)
LEARN, GUESS, SLIP, FORGET, ANXIETY, PERSIST, CURIOSITY, FATIGUE_RATE, POP = range(9)
T, TOPIC, HINT, ATTEMPTS, LAST, RUN, STREAK, ERROR, ACCURACY = range(9)

# Per strategy (index = Strategy): the ZPD bell, items asked, and side effects.
DEMAND = np.array([0.80, 0.45, 0.05, 0.90, 0.35, 0.60, 0.0, 0.0])
WIDTH = np.array([0.30, 0.55, 0.35, 0.28, 0.40, 0.50, 1.0, 1.0])
EFFICACY = np.array([1.25, 0.80, 1.00, 1.35, 0.45, 0.12, 0.0, 0.0])
REMEDY = np.array([0.0, 0.0, 0.0, 0.0, 0.90, 0.0, 0.0, 0.0])
"""Extra effect of a strategy on the step after a wrong answer."""
MISCONCEPTION = np.array([0.45, 0.25, 0.25, 0.45, 0.0, 0.0, 0.0, 0.0])
"""Fraction of a strategy's effect lost while an error is left uncorrected."""
ITEMS = np.array([1, 1, 1, 1, 1, QUIZ_ITEMS, 0, 0])
HINT_STEP = np.array([0.0, 1 / 3, 1.0, 0.0, 1 / 3, 0.0, 0.0, 0.0])
TEACHES = EFFICACY > 0
NOMINAL_GAIN = np.array([0.06, 0.07, 0.08, 0.06, 0.05, 0.01, 0.0, 0.0])
"""The tutor's assumed learn transition per strategy (its estimate's prediction step)."""
DIFFICULTY = np.array([0.0, 0.1, 0.2, 0.3])
PRIOR_ESTIMATE = np.array([0.3, 0.2, 0.15, 0.1])
PRIOR_VARIANCE = 0.06

POPULATIONS = ("novice", "average", "advanced", "anxious", "mixed")
"""Named student populations; ``mixed`` draws each student from the first four."""
_MIX = np.array([0.3, 0.35, 0.2, 0.15])
_MIX_CDF = _MIX.cumsum()
_MIX_CDF /= _MIX_CDF[-1]
# Trait means and spreads per population (rows: novice, average, advanced, anxious).
_TRAIT_MEAN = np.array(
    [
        [0.11, 0.20, 0.10, 0.015, 0.35, 0.55, 0.45, 0.006],
        [0.15, 0.20, 0.08, 0.010, 0.30, 0.60, 0.50, 0.005],
        [0.21, 0.22, 0.05, 0.006, 0.20, 0.70, 0.65, 0.004],
        [0.13, 0.18, 0.14, 0.012, 0.75, 0.45, 0.35, 0.006],
    ]
)
_TRAIT_SPREAD = np.array([0.03, 0.04, 0.03, 0.003, 0.10, 0.08, 0.12, 0.0015])
_PRIOR_MASTERY = np.array(
    [
        [0.08, 0.04, 0.02, 0.01],
        [0.35, 0.20, 0.10, 0.05],
        [0.70, 0.50, 0.30, 0.15],
        [0.30, 0.15, 0.08, 0.03],
    ]
)


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


def check_population(name: str) -> str:
    """Return ``name`` if it is a known population, else raise a ``ValueError``."""
    if name not in POPULATIONS:
        raise ValueError(f"unknown population {name!r}; valid populations: {list(POPULATIONS)}")
    return name


class TutoringKernel:
    """:class:`~lucidgym.envs.core.ArrayKernel` of the student simulator.

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
            # ``rng.choice(4, size=n, p=_MIX)`` draws exactly this (one uniform per student
            # and a search of the normalized CDF) but first validates ``p`` at length.
            pop = np.asarray(_MIX_CDF.searchsorted(rng.random(n), side="right"))
        else:
            pop = np.full(n, POPULATIONS.index(self.population))
        z = rng.standard_normal((n, 8))
        mastery_noise = rng.uniform(-0.05, 0.1, (n, NUM_TOPICS))
        engagement = rng.uniform(0.6, 0.9, (n,))
        boredom = rng.uniform(0.0, 0.15, (n,))
        u = rng.random((n, NOISY_SIGNALS), dtype=np.float32)
        _fill(*state, rows, pop, z, mastery_noise, engagement, boredom, u)

    def transition(
        self, state: StudentState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentState, np.ndarray, np.ndarray, dict[str, Any]]:
        """One tutoring step of every student; see the module docstring for the model."""
        new, reward, flags, counts, values = self._step(state, actions, rng)
        return new, reward, flags[:, _TERMINATED], _info(flags, counts, values, slice(None))

    def transition_one(
        self, state: StudentState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentState, float, bool, dict[str, Any]]:
        """:meth:`transition` of a batch of one, with a scalar reward, flag and ``info``."""
        new, reward, flags, counts, values = self._step(state, action, rng)
        return new, float(reward[0]), bool(flags[0, _TERMINATED]), _info(flags, counts, values, 0)

    def _step(
        self, state: StudentState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentState, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = actions.shape[0]
        # Every random number of the step, drawn at once: four answers, the learning
        # noise, the quitting draw and the ten detector noises (single precision is
        # plenty for noise and halves the generator's work).
        u = rng.random((n, _DRAWS), dtype=np.float32)
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
        values = np.empty((n, _VALUES), dtype=np.float32)
        _advance(
            *state[:6], actions.astype(np.int64, copy=False), u, *new[:4], *new[5:],
            reward, flags, counts, values,
        )  # fmt: skip
        return new, reward, flags, counts, values

    def observe(self, state: StudentState) -> np.ndarray:
        """``[N, 20]`` float32 observations in [0, 1] (layout: the env's docstring)."""
        obs = np.empty((state.estimate.shape[0], OBS_DIM), dtype=np.float32)
        _observe(state.estimate, state.signals, state.session, self._obs_scale, obs)
        return obs


_DRAWS = QUIZ_ITEMS + 2 + NOISY_SIGNALS
"""Uniforms per student and step: answers, learning noise, quitting, detector noise."""
_LEARN_DRAW, _QUIT_DRAW, _SIGNAL_DRAWS = QUIZ_ITEMS, QUIZ_ITEMS + 1, QUIZ_ITEMS + 2
# Columns of the step outputs ``_advance`` writes besides the next state: flags
# (bool), counts (int64) and values (float32), of which ``info`` holds views.
_TERMINATED, _QUIT, _MASTERED = range(3)
_ITEMS, _CORRECT, _TOPIC, _POPULATION = range(4)
_EFFECT, _ESTIMATE_ERROR, _EFFICIENCY, _TRUE_MASTERY = range(4)
_AFFECT = _TRUE_MASTERY + NUM_TOPICS
_VALUES = _AFFECT + 4
_SESSION_COLUMNS = np.array([T, HINT, ATTEMPTS, TOPIC])


def _info(
    flags: np.ndarray, counts: np.ndarray, values: np.ndarray, row: int | slice
) -> dict[str, Any]:
    """``info`` of one student (``row`` an int) or of all (``slice(None)``), as views."""
    return {
        "true_mastery": values[row, _TRUE_MASTERY:_AFFECT],
        "quit": flags[row, _QUIT],
        "mastered": flags[row, _MASTERED],
        "learning_effect": values[row, _EFFECT],
        "items": counts[row, _ITEMS],
        "correct": counts[row, _CORRECT],
        "topic": counts[row, _TOPIC],
        "estimate_error": values[row, _ESTIMATE_ERROR],
        "affect": values[row, _AFFECT:],
        "efficiency": values[row, _EFFICIENCY],
        "population": counts[row, _POPULATION],
    }


@inlined
def _unit(x: float) -> float:
    return min(max(x, 0.0), 1.0)


@compiled
def _fill(
    m: np.ndarray,
    est: np.ndarray,
    var: np.ndarray,
    mind: np.ndarray,
    tr: np.ndarray,
    ses: np.ndarray,
    signals: np.ndarray,
    rows: np.ndarray,
    pop: np.ndarray,
    z: np.ndarray,
    mastery_noise: np.ndarray,
    engagement: np.ndarray,
    boredom: np.ndarray,
    u: np.ndarray,
) -> None:
    """Write fresh students into rows ``rows [R]`` of the fields of a :class:`StudentState`.

    The student of ``rows[r]`` comes from population ``pop[r]`` with trait noise
    ``z [R, 8]`` (standard normal), prior-mastery noise ``mastery_noise [R, 4]``,
    starting ``engagement`` and ``boredom`` ``[R]``, and detector noise ``u [R, 10]``.
    """
    for r in range(rows.shape[0]):
        i, p = rows[r], pop[r]
        for t in range(8):
            drawn = _TRAIT_MEAN[p, t] + _TRAIT_SPREAD[t] * min(max(z[r, t], -2.0), 2.0)
            tr[i, t] = min(max(drawn, 0.002), 0.95)
        tr[i, POP] = p
        for j in range(NUM_TOPICS):
            m[i, j] = _unit(_PRIOR_MASTERY[p, j] + mastery_noise[r, j])
            est[i, j] = PRIOR_ESTIMATE[j]
            var[i, j] = PRIOR_VARIANCE
        mind[i, :] = 0.0
        mind[i, E] = engagement[r]
        mind[i, F] = 0.15 * tr[i, ANXIETY]
        mind[i, B] = boredom[r]
        mind[i, EFF] = 1.0
        ses[i, :] = 0.0
        ses[i, LAST] = -1.0
        ses[i, ACCURACY] = 0.5
        detect_one(
            signals, i, mind, ses[i, ACCURACY], ses[i, STREAK], m[i, 0], tr[i, CURIOSITY],
            tr[i, ANXIETY], u, r, 0,
        )  # fmt: skip


@compiled
def _advance(
    m: np.ndarray,
    est: np.ndarray,
    var: np.ndarray,
    mind: np.ndarray,
    tr: np.ndarray,
    ses: np.ndarray,
    actions: np.ndarray,
    u: np.ndarray,
    new_m: np.ndarray,
    new_est: np.ndarray,
    new_var: np.ndarray,
    new_mind: np.ndarray,
    new_ses: np.ndarray,
    signals: np.ndarray,
    reward: np.ndarray,
    flags: np.ndarray,
    counts: np.ndarray,
    values: np.ndarray,
) -> None:
    """One step of ``N`` students: the model of the module docstring, written once.

    Reads the fields of a :class:`StudentState` (``m`` .. ``ses``), ``actions [N]`` and
    ``u [N, 16]`` uniforms; writes the next state's fields and the step's outputs:
    ``reward [N]`` float32, ``flags [N, 3]`` (terminated, quit, mastered), ``counts
    [N, 4]`` int64 and ``values [N, 11]`` float32 (the columns named above ``_advance``).
    """
    for i in range(actions.shape[0]):
        a = actions[i]
        k = int(ses[i, TOPIC])
        mk = m[i, k]
        eng, conf, frus, bore, fat, eff = (
            mind[i, E],
            mind[i, C],
            mind[i, F],
            mind[i, B],
            mind[i, G],
            mind[i, EFF],
        )
        learn_rate, anx = tr[i, LEARN], tr[i, ANXIETY]
        demand, width, efficacy = DEMAND[a], WIDTH[a], EFFICACY[a]
        teaches = EFFICACY[a] > 0.0
        motivate = 1.0 if a == _MOTIVATIONAL else 0.0

        # Learning: BKT's learn transition scaled by the strategy's fit to the zone.
        zone = min(max((mk - DIFFICULTY[k]) / (1.0 - DIFFICULTY[k]), 0.0), 1.0)
        fit = efficacy * np.exp(-(((demand - zone) / width) ** 2))
        err = ses[i, ERROR]
        fit = fit * (1.0 - MISCONCEPTION[a] * err) + REMEDY[a] * err
        run = ses[i, RUN] + 1.0 if a == ses[i, LAST] else 1.0
        prereq_mastery = m[i, k - 1] if k > 0 else 1.0
        prereq = 0.2 + 0.8 * min(prereq_mastery / 0.8, 1.0)
        focus = min(max(0.35 + 0.65 * eng - 0.45 * frus - 0.35 * bore - 0.4 * fat, 0.05), 1.0)
        effect = fit * eff * prereq * focus / (1.0 + 0.3 * (run - 1.0))
        gain = learn_rate * effect * (1.0 - mk) * (0.5 + u[i, _LEARN_DRAW])
        forget_rate = tr[i, FORGET]
        for j in range(NUM_TOPICS):
            mj = m[i, j]
            practised = j == k and teaches
            forget = 0.0 if practised else forget_rate * mj * (1.0 - 0.5 * mj)
            new_m[i, j] = _unit(mj - forget + (gain if j == k else 0.0))

        # Answers on the current topic, after this step's instruction.
        items = ITEMS[a]
        hint = min(ses[i, HINT] + HINT_STEP[a], 1.0)
        quiz = a == _ASSESSMENT
        slip = tr[i, SLIP] + 0.15 * frus + 0.1 * fat + (0.15 * anx if quiz else 0.0)
        slip = min(slip, 0.6)
        guess = tr[i, GUESS] + 0.3 * hint * (1.0 - tr[i, GUESS])
        p = guess + (1.0 - slip - guess) * new_m[i, k]
        correct = 0
        for item in range(items):
            if u[i, item] < p:
                correct += 1
        answered = items > 0
        score = correct / items if answered else 0.0
        wrong = (1.0 - score) if answered else 0.0
        right = score  # the share of right answers; 0 when nothing was asked

        # The tutor's knowledge-tracing estimate: predict forward, then update on answers.
        track(est, var, new_est, new_var, i, k, teaches, NOMINAL_GAIN[a], hint, score, items)

        # Affect: the zone decides between confusion (too hard) and boredom (too easy).
        gap = demand - zone
        too_hard = _unit(gap - 0.15) if teaches else 0.0
        too_easy = _unit(-gap - 0.3) if teaches else 0.0
        mismatch = _unit(0.5 - fit) if teaches else 0.0
        repeat = min(run - 1.0, 3.0)
        new_conf = conf + 0.6 * too_hard * (1 - conf) - conf * (0.15 + 0.3 * right)
        new_frus = frus + (1 - frus) * (0.5 + anx) * (
            0.3 * conf * wrong + 0.05 * mismatch * repeat + 0.1 * too_hard
        )
        new_frus = new_frus - frus * (0.05 + 0.45 * motivate + 0.1 * right)
        explore_interest = tr[i, CURIOSITY] if a == _EXPLORATORY else 0.0
        new_bore = bore + (1 - bore) * (0.35 * too_easy + 0.04 * repeat + 0.02 * fat)
        new_bore = new_bore - bore * (0.05 + 0.35 * explore_interest + 0.15 * motivate)
        target = _unit(1.0 - 0.6 * new_frus - 0.7 * new_bore - 0.4 * fat)
        new_eng = eng + 0.35 * (target - eng) + 0.35 * motivate * (1.0 - eng)
        new_fat = _unit(fat + tr[i, FATIGUE_RATE] * (1.0 + demand) - 0.06 * motivate)

        # Quitting: frustration, boredom, fatigue and disengagement above persistence.
        risk = 0.8 * new_frus + 0.6 * new_bore + 0.2 * new_fat + 0.2 * (1.0 - new_eng)
        quit_ = u[i, _QUIT_DRAW] < 0.5 * _unit(risk - tr[i, PERSIST] - 0.1)
        new_mind[i, E] = _unit(new_eng)
        new_mind[i, C] = _unit(new_conf)
        new_mind[i, F] = _unit(new_frus)
        new_mind[i, B] = _unit(new_bore)
        new_mind[i, G] = new_fat
        new_mind[i, EFF] = eff + 0.5 * (1.5 - eff) if a == _METACOGNITIVE else eff

        # Session bookkeeping; a passed quiz advances, a failed one may step back.
        new_k = k
        if quiz and correct >= QUIZ_PASS:
            new_k = k + 1
            if new_k == NUM_TOPICS:  # after the last topic, the weakest
                new_k = 0
                for j in range(1, NUM_TOPICS):
                    if new_est[i, j] < new_est[i, new_k]:
                        new_k = j
        elif quiz and correct <= 1 and k > 0 and new_est[i, k - 1] < 0.5:
            new_k = k - 1
        moved = new_k != k
        solved = score >= 0.5
        new_ses[i, T] = ses[i, T] + 1.0
        new_ses[i, TOPIC] = new_k
        new_ses[i, HINT] = 0.0 if moved or (answered and solved) else hint
        new_ses[i, ATTEMPTS] = (
            0.0 if moved or solved else ses[i, ATTEMPTS] + (1.0 if answered else 0.0)
        )
        new_ses[i, LAST] = a
        new_ses[i, RUN] = run
        streak = ses[i, STREAK]
        accuracy = ses[i, ACCURACY]
        if answered:
            streak = streak + 1.0 if correct == items else 0.0
            accuracy = 0.7 * accuracy + 0.3 * score
            new_ses[i, ERROR] = 0.0 if solved else 1.0
        else:
            new_ses[i, ERROR] = 0.0 if a == _REMEDIAL else err
        new_ses[i, STREAK] = streak
        new_ses[i, ACCURACY] = accuracy
        detect_one(
            signals, i, new_mind, accuracy, streak, new_m[i, new_k], tr[i, CURIOSITY], anx, u, i,
            _SIGNAL_DRAWS,
        )  # fmt: skip

        total_before, total_after, lowest, estimate_error = 0.0, 0.0, 1.0, 0.0
        for j in range(NUM_TOPICS):
            total_before += m[i, j]
            total_after += new_m[i, j]
            lowest = min(lowest, new_m[i, j])
            estimate_error += abs(new_est[i, j] - new_m[i, j])
        reward[i] = REWARD_SCALE * (total_after - total_before)
        mastered = lowest >= MASTERED
        flags[i, _TERMINATED] = quit_ or mastered
        flags[i, _QUIT] = quit_
        flags[i, _MASTERED] = mastered
        counts[i, _ITEMS] = items
        counts[i, _CORRECT] = correct
        counts[i, _TOPIC] = new_k
        counts[i, _POPULATION] = int(tr[i, POP])
        values[i, _EFFECT] = learn_rate * effect
        values[i, _ESTIMATE_ERROR] = estimate_error / NUM_TOPICS
        values[i, _EFFICIENCY] = new_mind[i, EFF]
        for j in range(NUM_TOPICS):
            values[i, _TRUE_MASTERY + j] = new_m[i, j]
            values[i, _AFFECT + j] = new_mind[i, j]


@compiled
def _observe(
    est: np.ndarray, signals: np.ndarray, ses: np.ndarray, scale: np.ndarray, obs: np.ndarray
) -> None:
    """Write ``[N, 20]`` observations: estimate, detector signals, scaled session columns."""
    for i in range(obs.shape[0]):
        for j in range(NUM_TOPICS):
            obs[i, j] = est[i, j]
        for j in range(NUM_SIGNALS):
            obs[i, NUM_TOPICS + j] = signals[i, j]
        for j in range(_SESSION_COLUMNS.shape[0]):
            obs[i, NUM_TOPICS + NUM_SIGNALS + j] = min(ses[i, _SESSION_COLUMNS[j]] * scale[j], 1.0)
