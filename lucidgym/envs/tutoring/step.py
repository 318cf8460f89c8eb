"""The compiled step of the ``Tutoring-v0`` student, written once over a batch of ``N``.

:class:`~lucidgym.envs.tutoring.student.TutoringKernel` calls these loops for the single
env (``N = 1``), the native vector env and the oracle alike; the model they implement
is described in :mod:`lucidgym.envs.tutoring.student`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lucidgym.envs.jit import compiled, inlined
from lucidgym.envs.tutoring.detectors import NOISY_SIGNALS, NUM_SIGNALS, detect_one
from lucidgym.envs.tutoring.parameters import (
    ACCURACY,
    AFFECTS,
    ANXIETY,
    ASSESSMENT_ACTION,
    ATTEMPTS,
    BOREDOM,
    CONFUSION,
    CURIOSITY,
    DEMAND,
    DIFFICULTY,
    EFFICACY,
    EFFICIENCY,
    ENGAGEMENT,
    ERROR,
    EXPLORATORY_ACTION,
    FATIGUE,
    FATIGUE_RATE,
    FORGET,
    FRUSTRATION,
    GUESS,
    HINT,
    HINT_STEP,
    ITEMS,
    LAST,
    LEARN,
    MASTERED,
    METACOGNITIVE_ACTION,
    MISCONCEPTION,
    MOTIVATIONAL_ACTION,
    NOMINAL_GAIN,
    NUM_TOPICS,
    PERSIST,
    POP,
    PRIOR_ESTIMATE,
    PRIOR_MASTERY,
    PRIOR_VARIANCE,
    QUIZ_ITEMS,
    QUIZ_PASS,
    REMEDIAL_ACTION,
    REMEDY,
    REWARD_SCALE,
    RUN,
    SLIP,
    STEP,
    STREAK,
    TOPIC,
    TRAIT_MEAN,
    TRAIT_SPREAD,
    WIDTH,
)
from lucidgym.envs.tutoring.tracing import track

DRAWS = QUIZ_ITEMS + 2 + NOISY_SIGNALS
"""Uniforms per student and step: answers, learning noise, quitting, detector noise."""
_LEARN_DRAW, _QUIT_DRAW, _SIGNAL_DRAWS = QUIZ_ITEMS, QUIZ_ITEMS + 1, QUIZ_ITEMS + 2
# Columns of the step outputs ``advance`` writes besides the next state: flags
# (bool), counts (int64) and values (float32), of which ``info`` holds views.
TERMINATED, _QUIT, _MASTERED = range(3)
_ITEMS, _CORRECT, _TOPIC, _POPULATION = range(4)
_EFFECT, _ESTIMATE_ERROR, _EFFICIENCY, _TRUE_MASTERY = range(4)
_AFFECT = _TRUE_MASTERY + NUM_TOPICS
VALUES = _AFFECT + AFFECTS
_SESSION_COLUMNS = np.array([STEP, HINT, ATTEMPTS, TOPIC])


def step_info(
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
def fill_students(
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
            drawn = TRAIT_MEAN[p, t] + TRAIT_SPREAD[t] * min(max(z[r, t], -2.0), 2.0)
            tr[i, t] = min(max(drawn, 0.002), 0.95)
        tr[i, POP] = p
        for j in range(NUM_TOPICS):
            m[i, j] = _unit(PRIOR_MASTERY[p, j] + mastery_noise[r, j])
            est[i, j] = PRIOR_ESTIMATE[j]
            var[i, j] = PRIOR_VARIANCE
        mind[i, :] = 0.0
        mind[i, ENGAGEMENT] = engagement[r]
        mind[i, FRUSTRATION] = 0.15 * tr[i, ANXIETY]
        mind[i, BOREDOM] = boredom[r]
        mind[i, EFFICIENCY] = 1.0
        ses[i, :] = 0.0
        ses[i, LAST] = -1.0
        ses[i, ACCURACY] = 0.5
        detect_one(
            signals, i, mind, ses[i, ACCURACY], ses[i, STREAK], m[i, 0], tr[i, CURIOSITY],
            tr[i, ANXIETY], u, r, 0,
        )  # fmt: skip


@compiled
def advance(
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
    [N, 4]`` int64 and ``values [N, 11]`` float32 (the columns named above ``advance``).
    """
    for i in range(actions.shape[0]):
        a = actions[i]
        k = int(ses[i, TOPIC])
        mk = m[i, k]
        eng, conf, frus, bore, fat, eff = (
            mind[i, ENGAGEMENT],
            mind[i, CONFUSION],
            mind[i, FRUSTRATION],
            mind[i, BOREDOM],
            mind[i, FATIGUE],
            mind[i, EFFICIENCY],
        )
        learn_rate, anx = tr[i, LEARN], tr[i, ANXIETY]
        demand, width, efficacy = DEMAND[a], WIDTH[a], EFFICACY[a]
        teaches = EFFICACY[a] > 0.0
        motivate = 1.0 if a == MOTIVATIONAL_ACTION else 0.0

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
        quiz = a == ASSESSMENT_ACTION
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
        explore_interest = tr[i, CURIOSITY] if a == EXPLORATORY_ACTION else 0.0
        new_bore = bore + (1 - bore) * (0.35 * too_easy + 0.04 * repeat + 0.02 * fat)
        new_bore = new_bore - bore * (0.05 + 0.35 * explore_interest + 0.15 * motivate)
        target = _unit(1.0 - 0.6 * new_frus - 0.7 * new_bore - 0.4 * fat)
        new_eng = eng + 0.35 * (target - eng) + 0.35 * motivate * (1.0 - eng)
        new_fat = _unit(fat + tr[i, FATIGUE_RATE] * (1.0 + demand) - 0.06 * motivate)

        # Quitting: frustration, boredom, fatigue and disengagement above persistence.
        risk = 0.8 * new_frus + 0.6 * new_bore + 0.2 * new_fat + 0.2 * (1.0 - new_eng)
        quit_ = u[i, _QUIT_DRAW] < 0.5 * _unit(risk - tr[i, PERSIST] - 0.1)
        new_mind[i, ENGAGEMENT] = _unit(new_eng)
        new_mind[i, CONFUSION] = _unit(new_conf)
        new_mind[i, FRUSTRATION] = _unit(new_frus)
        new_mind[i, BOREDOM] = _unit(new_bore)
        new_mind[i, FATIGUE] = new_fat
        new_mind[i, EFFICIENCY] = eff + 0.5 * (1.5 - eff) if a == METACOGNITIVE_ACTION else eff

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
        new_ses[i, STEP] = ses[i, STEP] + 1.0
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
            new_ses[i, ERROR] = 0.0 if a == REMEDIAL_ACTION else err
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
        flags[i, TERMINATED] = quit_ or mastered
        flags[i, _QUIT] = quit_
        flags[i, _MASTERED] = mastered
        counts[i, _ITEMS] = items
        counts[i, _CORRECT] = correct
        counts[i, _TOPIC] = new_k
        counts[i, _POPULATION] = int(tr[i, POP])
        values[i, _EFFECT] = learn_rate * effect
        values[i, _ESTIMATE_ERROR] = estimate_error / NUM_TOPICS
        values[i, _EFFICIENCY] = new_mind[i, EFFICIENCY]
        for j in range(NUM_TOPICS):
            values[i, _TRUE_MASTERY + j] = new_m[i, j]
        for j in range(AFFECTS):
            values[i, _AFFECT + j] = new_mind[i, ENGAGEMENT + j]


@compiled
def observe_into(
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
