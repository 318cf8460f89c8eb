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

from lucidgym.envs.tutoring.detectors import detect
from lucidgym.envs.tutoring.tracing import track


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
        if self.population == "mixed":
            # ``rng.choice(4, size=n, p=_MIX)`` draws exactly this (one uniform per student
            # and a search of the normalized CDF) but first validates ``p`` at length.
            pop = _MIX_CDF.searchsorted(rng.random(n), side="right")
        else:
            pop = np.full(n, POPULATIONS.index(self.population))
        z = rng.standard_normal((n, 8))
        traits = np.empty((n, 9))
        drawn = _TRAIT_MEAN[pop] + _TRAIT_SPREAD * _clip(z, -2.0, 2.0)
        traits[:, :8] = _clip(drawn, 0.002, 0.95)
        traits[:, POP] = pop
        mastery = _clip(_PRIOR_MASTERY[pop] + rng.uniform(-0.05, 0.1, (n, NUM_TOPICS)), 0, 1)
        mind = np.zeros((n, 6))
        mind[:, E] = rng.uniform(0.6, 0.9, n)
        mind[:, F] = 0.15 * traits[:, ANXIETY]
        mind[:, B] = rng.uniform(0.0, 0.15, n)
        mind[:, EFF] = 1.0
        session = np.zeros((n, 9))
        session[:, LAST] = -1
        session[:, ACCURACY] = 0.5
        signals = detect(
            mind, session[:, ACCURACY], session[:, STREAK], mastery[:, 0],
            traits[:, CURIOSITY], traits[:, ANXIETY], rng.random((n, 12)),
        )  # fmt: skip
        return StudentState(
            mastery,
            np.repeat(PRIOR_ESTIMATE[None], n, axis=0),
            np.full((n, NUM_TOPICS), PRIOR_VARIANCE),
            mind,
            traits,
            session,
            signals,
        )

    def transition(
        self, state: StudentState, actions: np.ndarray, rng: np.random.Generator
    ) -> tuple[StudentState, np.ndarray, np.ndarray, dict[str, Any]]:
        """One tutoring step of every student; see the module docstring for the model."""
        # With N = 1 (the single env) the cost is the number of NumPy calls, not their
        # size: per-strategy and per-topic parameters come from one table lookup each,
        # and (row, topic) entries are read with ``take`` on a flat index (``take`` is
        # several times faster than fancy indexing).
        m, mind, tr, ses = state.mastery, state.mind, state.traits, state.session
        n = actions.shape[0]
        a = actions.astype(np.intp)
        u = rng.random((n, 6 + 12))
        k = ses[:, TOPIC].astype(np.intp)
        at_k = _flat_index(k)
        here = _ONE_HOT.take(k, axis=0)
        mk = m.take(at_k)
        difficulty, span, first = _BY_TOPIC.take(k, axis=1)
        strategy = _BY_STRATEGY.take(a, axis=1)
        demand, width, efficacy, remedy, misconception, hint_step = strategy[:6]
        teach, nominal_gain, explore, motivate, meta, not_remedial = strategy[6:]
        eng, conf, frus, bore, fat, eff = mind.T

        # Learning: BKT's learn transition scaled by the strategy's fit to the zone.
        zone = _clip((mk - difficulty) / span, 0.0, 1.0)
        fit = efficacy * np.exp(-np.square((demand - zone) / width))
        err = ses[:, ERROR]
        fit = fit * (1.0 - misconception * err) + remedy * err
        # Arithmetic instead of ``np.where`` (several times slower on one student); the
        # results are the same because every term is finite and non-negative.
        run = ses[:, RUN] * (a == ses[:, LAST]) + 1.0
        # Topic 0 has no prerequisite: a mastery of at least 1 makes its factor exactly 1.
        prereq_mastery = np.maximum(m.take(at_k - 1), first)
        prereq = 0.2 + 0.8 * np.minimum(prereq_mastery / 0.8, 1.0)
        focus = _clip(0.35 + 0.65 * eng - 0.45 * frus - 0.35 * bore - 0.4 * fat, 0.05, 1.0)
        effect = fit * eff * prereq * focus / (1.0 + 0.3 * (run - 1.0))
        gain = tr[:, LEARN] * effect * (1.0 - mk) * (0.5 + u[:, 4])
        practised = here * teach[:, None]
        forget = tr[:, FORGET, None] * m * (1.0 - 0.5 * m) * (1.0 - practised)
        new_m = _clip(m - forget + here * gain[:, None], 0.0, 1.0)

        # Answers on the current topic, after this step's instruction.
        items = ITEMS.take(a)
        # DIRECT's hint step is 1, a full hint (the hint level is never negative).
        hint = np.minimum(ses[:, HINT] + hint_step, 1.0)
        quiz = a == _ASSESSMENT
        slip = np.minimum(tr[:, SLIP] + 0.15 * frus + 0.1 * fat + 0.15 * tr[:, ANXIETY] * quiz, 0.6)
        guess = tr[:, GUESS] + 0.3 * hint * (1.0 - tr[:, GUESS])
        p = guess + (1.0 - slip - guess) * new_m.take(at_k)
        # Right answers among the first ``items`` of four draws: the four booleans of a
        # row are the four bytes of one uint32, so masking and popcount count them in
        # two calls (a boolean sum along a length-4 axis is slow).
        hits = u[:, :QUIZ_ITEMS] < p[:, None]
        correct = np.bitwise_count(hits.view(np.uint32)[:, 0] & _ITEM_MASK.take(items))
        correct = correct.astype(np.int64)
        answered = items > 0
        n_items = np.maximum(items, 1)
        score = correct / n_items
        wrong = answered * (1.0 - score)

        # The tutor's knowledge-tracing estimate: predict forward, then update on answers.
        est, var = track(
            state.estimate, state.variance, here, practised, nominal_gain, at_k, hint,
            score, answered, n_items,
        )  # fmt: skip

        # Affect: the zone decides between confusion (too hard) and boredom (too easy).
        gap = demand - zone
        too_hard = teach * _clip(gap - 0.15, 0.0, 1.0)
        too_easy = teach * _clip(-gap - 0.3, 0.0, 1.0)
        mismatch = teach * _clip(0.5 - fit, 0.0, 1.0)
        repeat = np.minimum(run - 1.0, 3.0)
        anx = tr[:, ANXIETY]
        new_conf = conf + 0.6 * too_hard * (1 - conf) - conf * (0.15 + 0.3 * answered * score)
        new_frus = frus + (1 - frus) * (0.5 + anx) * (
            0.3 * conf * wrong + 0.05 * mismatch * repeat + 0.1 * too_hard
        )
        new_frus = new_frus - frus * (0.05 + 0.45 * motivate + 0.1 * answered * score)
        new_bore = bore + (1 - bore) * (0.35 * too_easy + 0.04 * repeat + 0.02 * fat)
        new_bore = new_bore - bore * (0.05 + 0.35 * (explore * tr[:, CURIOSITY]) + 0.15 * motivate)
        target = _clip(1.0 - 0.6 * new_frus - 0.7 * new_bore - 0.4 * fat, 0.0, 1.0)
        new_eng = eng + 0.35 * (target - eng) + 0.35 * motivate * (1.0 - eng)
        new_fat = _clip(fat + tr[:, FATIGUE_RATE] * (1.0 + demand) - 0.06 * motivate, 0, 1)

        # Quitting: frustration, boredom, fatigue and disengagement above persistence.
        risk = 0.8 * new_frus + 0.6 * new_bore + 0.2 * new_fat + 0.2 * (1.0 - new_eng)
        quit_ = u[:, 5] < 0.5 * _clip(risk - tr[:, PERSIST] - 0.1, 0.0, 1.0)
        mastered = _row_min(new_m) >= MASTERED
        new_mind = np.empty_like(mind)
        # Clipped straight into the columns (a clip over the strided [N, 4] block is slow).
        for column, value in ((E, new_eng), (C, new_conf), (F, new_frus), (B, new_bore)):
            np.minimum(np.maximum(value, 0.0), 1.0, out=new_mind[:, column])
        new_mind[:, G] = new_fat
        new_mind[:, EFF] = eff + meta * 0.5 * (1.5 - eff)

        # Session bookkeeping; a passed quiz advances, a failed one may step back.
        new_k = _next_topic(k, at_k, quiz, correct, est)
        moved = new_k != k
        solved = score >= 0.5
        new_ses = np.empty_like(ses)  # every column is written below
        new_ses[:, T] = ses[:, T] + 1.0
        new_ses[:, TOPIC] = new_k
        new_ses[:, HINT] = np.where(moved | (answered & solved), 0.0, hint)
        new_ses[:, ATTEMPTS] = np.where(moved | solved, 0.0, ses[:, ATTEMPTS] + answered)
        new_ses[:, LAST] = a
        new_ses[:, RUN] = run
        all_right = answered & (correct == items)
        new_ses[:, STREAK] = np.where(answered, (ses[:, STREAK] + 1.0) * all_right, ses[:, STREAK])
        new_ses[:, ERROR] = np.where(answered, ~solved, err * not_remedial)
        new_ses[:, ACCURACY] = np.where(answered, 0.7 * ses[:, ACCURACY] + 0.3 * score, ses[:, 8])

        new_at_k = at_k if new_k is k else _flat_index(new_k)
        signals = detect(
            new_mind, new_ses[:, ACCURACY], new_ses[:, STREAK], new_m.take(new_at_k),
            tr[:, CURIOSITY], tr[:, ANXIETY], u[:, 6:],
        )  # fmt: skip
        new_state = StudentState(new_m, est, var, new_mind, tr, new_ses, signals)
        reward = REWARD_SCALE * (_row_sum(new_m) - _row_sum(m))
        info = {
            "true_mastery": new_m.astype(np.float32),
            "quit": quit_,
            "mastered": mastered,
            "learning_effect": (tr[:, LEARN] * effect).astype(np.float32),
            "items": items,
            "correct": correct,
            "topic": new_k,
            "estimate_error": (_row_sum(np.abs(est - new_m)) / NUM_TOPICS).astype(np.float32),
            "affect": new_mind[:, :4].astype(np.float32),
            "efficiency": new_mind[:, EFF].astype(np.float32),
            "population": tr[:, POP].astype(np.int64),
        }
        return new_state, reward.astype(np.float32), quit_ | mastered, info

    def observe(self, state: StudentState) -> np.ndarray:
        """``[N, 20]`` float32 observations in [0, 1] (layout: the env's docstring)."""
        session = np.minimum(state.session[:, _SESSION_COLUMNS] * self._obs_scale, 1.0)
        return np.concatenate([state.estimate, state.signals, session], axis=1, dtype=np.float32)


_ONE_HOT = np.eye(NUM_TOPICS)
# Per-strategy parameters as rows (``_BY_STRATEGY.take(a, axis=1)`` gathers them all);
# boolean properties are stored as 0.0 / 1.0, which multiply exactly like booleans.
_STRATEGIES = np.arange(NUM_STRATEGIES)
_BY_STRATEGY = np.stack(
    [DEMAND, WIDTH, EFFICACY, REMEDY, MISCONCEPTION, HINT_STEP, TEACHES, NOMINAL_GAIN]
    + [_STRATEGIES == _EXPLORATORY, _STRATEGIES == _MOTIVATIONAL]
    + [_STRATEGIES == _METACOGNITIVE, _STRATEGIES != _REMEDIAL]
).astype(np.float64)
_BY_TOPIC = np.stack([DIFFICULTY, 1.0 - DIFFICULTY, np.arange(NUM_TOPICS) == 0]).astype(np.float64)
# Which of the four answer slots count when ``items`` are asked, as the four bytes of
# one uint32 (see the count of right answers in ``transition``).
_ITEM_SLOTS = np.arange(QUIZ_ITEMS)[None, :] < np.arange(QUIZ_ITEMS + 1)[:, None]
_ITEM_MASK = np.ascontiguousarray(_ITEM_SLOTS).view(np.uint32)[:, 0]
_SESSION_COLUMNS = np.array([T, HINT, ATTEMPTS, TOPIC])


def _clip(x: Any, lo: float, hi: float) -> np.ndarray:
    """``np.clip`` without its Python-level dispatch (a large share of a small step)."""
    return np.minimum(np.maximum(x, lo), hi)


def _row_sum(x: np.ndarray) -> np.ndarray:
    """Row sums of ``[N, 4]``, in the left-to-right order of ``np.sum`` over a length-4 axis.

    NumPy's pairwise summation starts at 8 terms, so below that it adds in order; the
    column adds are several times faster than a reduction over a short last axis.
    """
    return x[:, 0] + x[:, 1] + x[:, 2] + x[:, 3]


def _row_min(x: np.ndarray) -> np.ndarray:
    """Row minima of ``[N, 4]`` (as ``_row_sum``, faster than a short-axis reduction)."""
    return np.minimum(np.minimum(x[:, 0], x[:, 1]), np.minimum(x[:, 2], x[:, 3]))


def _flat_index(k: np.ndarray) -> np.ndarray:
    """Index of entry ``(i, k[i])`` of a C-contiguous ``[N, 4]`` array, for ``take``."""
    return np.arange(0, k.shape[0] * NUM_TOPICS, NUM_TOPICS) + k


def _next_topic(
    k: np.ndarray, at_k: np.ndarray, quiz: np.ndarray, correct: np.ndarray, est: np.ndarray
) -> np.ndarray:
    """Topic after a quiz: pass -> next (after the last, the weakest); fail -> maybe back.

    Returns ``k`` itself when no student took a quiz (most steps of one student).
    """
    if not np.count_nonzero(quiz):  # cheaper than ``quiz.any()`` on small arrays
        return k
    passed = quiz & (correct >= QUIZ_PASS)
    back = quiz & (correct <= 1) & (k > 0) & (est.take(at_k - 1) < 0.5)
    new_k = k - back
    if np.count_nonzero(passed):
        ahead = k[passed] + 1
        # After the last topic, the weakest; argmin only over the rows that need it.
        beyond = ahead == NUM_TOPICS
        if np.count_nonzero(beyond):
            ahead[beyond] = np.argmin(est[passed][beyond], axis=1)
        new_k[passed] = ahead
    return new_k
