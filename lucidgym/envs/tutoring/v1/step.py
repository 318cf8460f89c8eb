"""The compiled step of the ``Tutoring-v1`` student, written once over a batch of ``N``.

The v0 student (:mod:`lucidgym.envs.tutoring.step`) with memory. Per topic ``k``: the
recall probability ``p_k`` (v0's mastery), a half-life ``h_k`` and the steps ``s_k``
since its last practice. A topic not practised decays, ``p_k *= 2 ** (-1 / h_k)``
(Ebbinghaus; half-life regression, Settles & Meeder 2016). A right answer multiplies
``h_k`` by ``1 + SPACING_GAIN * lapse ** SPACING_POWER + MASSED_GAIN`` (scaled by the
share of right answers that came from memory), ``lapse = 1 - 2 ** (-(s_k + 1) / h_k)``
the share forgotten since the last practice: convex in the lapse, so spaced retrieval
consolidates most and massed practice little (Cepeda et al. 2006; Pavlik & Anderson
2005, 2008; Roediger & Karpicke 2006). ``REVIEW + k``
asks one item on topic ``k`` without leaving the current topic. The reward is
``REWARD_SCALE`` times the step's change of the predicted post-test score
``sum_k p_k * 2 ** (-DELAY / h_k)`` (potential-based). Each topic's half-life
multiplier is a hidden trait. ``docs/tutoring.md`` documents the model.
"""

from __future__ import annotations

import numpy as np

from lucidgym.envs.jit import compiled, inlined
from lucidgym.envs.tutoring.detectors import detect_one
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
    FRUSTRATION,
    GUESS,
    HINT,
    HINT_STEP,
    ITEMS,
    LAST,
    LEARN,
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
    QUIZ_PASS,
    REMEDIAL_ACTION,
    REMEDY,
    RUN,
    SLIP,
    STEP,
    STREAK,
    TOPIC,
    TRAIT_MEAN,
    TRAIT_SPREAD,
    WIDTH,
)
from lucidgym.envs.tutoring.tracing import MAX_VARIANCE, update_from_answers
from lucidgym.envs.tutoring.v1.parameters import (
    BASE_HALFLIFE,
    DELAY,
    FEEDBACK_RELEARN,
    HALFLIFE_COLUMNS,
    HALFLIFE_MEAN,
    HALFLIFE_SPREAD,
    MASSED_GAIN,
    MAX_HALFLIFE,
    NOMINAL_HALFLIFE,
    NOMINAL_REVIEW_GAIN,
    PRIOR_CONSOLIDATION,
    REVIEW,
    REWARD_SCALE,
    SPACING_GAIN,
    SPACING_POWER,
    TESTING_EFFECT,
)

_LEARN_DRAW, _QUIT_DRAW, _SIGNAL_DRAWS = 4, 5, 6
# Output columns: flags (bool), counts (int64), values (float32).
TERMINATED, QUIT = range(2)
ITEMS_OUT, CORRECT_OUT, TOPIC_OUT, POPULATION_OUT, REVIEWED_OUT = range(5)
EFFECT_OUT, ESTIMATE_ERROR_OUT, EFFICIENCY_OUT, POSTTEST_OUT = range(4)
MASTERY_OUT = POSTTEST_OUT + 1
RETENTION_OUT = MASTERY_OUT + NUM_TOPICS
HALFLIFE_OUT = RETENTION_OUT + NUM_TOPICS
AFFECT_OUT = HALFLIFE_OUT + NUM_TOPICS
VALUES = AFFECT_OUT + AFFECTS
_NOMINAL_KEEP = 2.0 ** (-1.0 / NOMINAL_HALFLIFE)
SESSION_COLUMNS = np.array([STEP, HINT, ATTEMPTS, TOPIC])
"""The session columns observed (dims 16-19), as in v0."""


@inlined
def _unit(x: float) -> float:
    return min(max(x, 0.0), 1.0)


_LN2 = float(np.log(2.0))
_DELAY_LN2 = DELAY * _LN2
_DELAY_STEPS = int(DELAY)  # keep ** _DELAY_STEPS: a few multiplications, no exponential


@inlined
def posttest(p: float, halflife: float) -> float:
    """The recall of a topic expected at the delayed post-test."""
    return p * np.exp(-_DELAY_LN2 / halflife)


@compiled
def fill_students_v1(
    m: np.ndarray,
    est: np.ndarray,
    var: np.ndarray,
    mind: np.ndarray,
    tr: np.ndarray,
    ses: np.ndarray,
    signals: np.ndarray,
    halflife: np.ndarray,
    since: np.ndarray,
    rows: np.ndarray,
    pop: np.ndarray,
    z: np.ndarray,
    mastery_noise: np.ndarray,
    engagement: np.ndarray,
    boredom: np.ndarray,
    u: np.ndarray,
) -> None:
    """Write fresh students into rows ``rows [R]`` (v0's draws, plus ``z[:, 8:12]``).

    ``z [R, 12]``: standard normals, eight for v0's traits, four for the topics'
    half-life multipliers.
    """
    for r in range(rows.shape[0]):
        i, p = rows[r], pop[r]
        for t in range(8):
            drawn = TRAIT_MEAN[p, t] + TRAIT_SPREAD[t] * min(max(z[r, t], -2.0), 2.0)
            tr[i, t] = min(max(drawn, 0.002), 0.95)
        tr[i, POP] = p
        for j in range(NUM_TOPICS):
            spread = HALFLIFE_SPREAD * min(max(z[r, 8 + j], -2.0), 2.0)
            multiplier = HALFLIFE_MEAN[p] * np.exp(spread)
            tr[i, HALFLIFE_COLUMNS + j] = multiplier
            m[i, j] = _unit(PRIOR_MASTERY[p, j] + mastery_noise[r, j])
            halflife[i, j] = BASE_HALFLIFE * multiplier * (1.0 + PRIOR_CONSOLIDATION * m[i, j])
            since[i, j] = 0.0
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


@inlined
def _track(
    est: np.ndarray,
    var: np.ndarray,
    new_est: np.ndarray,
    new_var: np.ndarray,
    i: int,
    topic: int,
    studied: bool,
    answered_topic: int,
    nominal_gain: float,
    hint: float,
    score: float,
    items: int,
) -> None:
    """The tutor's Kalman step: v0's, with forgetting at the nominal half-life.

    Topics not practised decay at :data:`NOMINAL_HALFLIFE`; the studied topic learns
    nominally; the answered topic (the current one, or the reviewed one) is updated
    from the answers.
    """
    for j in range(NUM_TOPICS):
        practised = (j == topic and studied) or (j == answered_topic and items > 0)
        learn = nominal_gain if j == answered_topic else 0.0
        keep = 1.0 if practised else _NOMINAL_KEEP
        new_est[i, j] = est[i, j] * keep + learn * (1.0 - est[i, j])
        new_var[i, j] = var[i, j] + 0.0004 + 0.004 * learn + (0.0 if practised else 0.001)
    if items > 0:
        update_from_answers(new_est, new_var, i, answered_topic, hint, score, items)
    for j in range(NUM_TOPICS):
        new_var[i, j] = min(new_var[i, j], MAX_VARIANCE)


@compiled
def advance_v1(
    m: np.ndarray,
    est: np.ndarray,
    var: np.ndarray,
    mind: np.ndarray,
    tr: np.ndarray,
    ses: np.ndarray,
    halflife: np.ndarray,
    since: np.ndarray,
    actions: np.ndarray,
    u: np.ndarray,
    new_m: np.ndarray,
    new_est: np.ndarray,
    new_var: np.ndarray,
    new_mind: np.ndarray,
    new_ses: np.ndarray,
    signals: np.ndarray,
    new_halflife: np.ndarray,
    new_since: np.ndarray,
    reward: np.ndarray,
    flags: np.ndarray,
    counts: np.ndarray,
    values: np.ndarray,
) -> None:
    """One step of ``N`` students: the model of the module docstring.

    Reads the fields of a :class:`~lucidgym.envs.tutoring.v1.student.StudentStateV1`,
    ``actions [N]`` and ``u [N, 16]`` uniforms; writes the next state's fields and the
    step's outputs: ``reward [N]`` float32, ``flags [N, 2]`` (terminated, quit),
    ``counts [N, 5]`` int64 and ``values [N, VALUES]`` float32 (columns named above).
    """
    keeps = np.empty(NUM_TOPICS)  # per topic, the share of the memory kept over a step
    for i in range(actions.shape[0]):
        a = actions[i]
        review = a >= REVIEW
        k = int(ses[i, TOPIC])
        answered_topic = a - REVIEW if review else k
        strategy = 0 if review else a  # the tables' row; unused for reviews
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
        teaches = (not review) and EFFICACY[strategy] > 0.0
        demand = 0.5 if review else DEMAND[strategy]
        motivate = 1.0 if a == MOTIVATIONAL_ACTION else 0.0

        # Learning on the current topic, as in v0 (reviews teach through answers only).
        zone = min(max((mk - DIFFICULTY[k]) / (1.0 - DIFFICULTY[k]), 0.0), 1.0)
        fit = 0.0
        if teaches:
            fit = EFFICACY[strategy] * np.exp(-(((demand - zone) / WIDTH[strategy]) ** 2))
        err = ses[i, ERROR]
        if not review:
            fit = fit * (1.0 - MISCONCEPTION[strategy] * err) + REMEDY[strategy] * err
        run = ses[i, RUN] + 1.0 if a == ses[i, LAST] else 1.0
        prereq_recall = m[i, k - 1] if k > 0 else 1.0
        prereq = 0.2 + 0.8 * min(prereq_recall / 0.8, 1.0)
        focus = min(max(0.35 + 0.65 * eng - 0.45 * frus - 0.35 * bore - 0.4 * fat, 0.05), 1.0)
        effect = fit * eff * prereq * focus / (1.0 + 0.3 * (run - 1.0))
        gain = learn_rate * effect * (1.0 - mk) * (0.5 + u[i, _LEARN_DRAW])
        for j in range(NUM_TOPICS):
            practised = (j == k and teaches) or (review and j == answered_topic)
            keeps[j] = np.exp(-_LN2 / halflife[i, j])  # 2 ** (-1 / h)
            keep = 1.0 if practised else keeps[j]
            new_m[i, j] = _unit(m[i, j] * keep + (gain if j == k and teaches else 0.0))
            new_halflife[i, j] = halflife[i, j]
            new_since[i, j] = 0.0 if practised else since[i, j] + 1.0

        # Answers: on the current topic after instruction, or one review item.
        items = 1 if review else ITEMS[strategy]
        hint = 0.0 if review else min(ses[i, HINT] + HINT_STEP[strategy], 1.0)
        quiz = a == ASSESSMENT_ACTION
        slip = tr[i, SLIP] + 0.15 * frus + 0.1 * fat + (0.15 * anx if quiz else 0.0)
        slip = min(slip, 0.6)
        guess = tr[i, GUESS] + 0.3 * hint * (1.0 - tr[i, GUESS])
        t = answered_topic
        recall = new_m[i, t]
        p = guess + (1.0 - slip - guess) * recall
        correct = 0
        for item in range(items):
            if u[i, item] < p:
                correct += 1
        answered = items > 0
        score = correct / items if answered else 0.0
        wrong = (1.0 - score) if answered else 0.0
        right = score

        # Retrieval: a right answer consolidates by the lapse since the last practice.
        if answered:
            lapse = 1.0 - keeps[t] ** int(since[i, t] + 1.0)
            # Only the share of right answers that came from memory, not a guess, counts.
            remembered = score * min(recall / max(p, 1e-6), 1.0)
            spaced = lapse * lapse if SPACING_POWER == 2.0 else lapse**SPACING_POWER
            growth = 1.0 + remembered * (SPACING_GAIN * spaced + MASSED_GAIN)
            new_halflife[i, t] = min(halflife[i, t] * growth, MAX_HALFLIFE)
            boost = TESTING_EFFECT * score + FEEDBACK_RELEARN * focus * wrong
            new_m[i, t] = _unit(recall + boost * (1.0 - recall))

        # The tutor's estimate.
        nominal = NOMINAL_REVIEW_GAIN if review else NOMINAL_GAIN[strategy]
        _track(est, var, new_est, new_var, i, k, teaches, t, nominal, hint, score, items)

        # Affect, as in v0; a review is a single question of medium demand.
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

        risk = 0.8 * new_frus + 0.6 * new_bore + 0.2 * new_fat + 0.2 * (1.0 - new_eng)
        quit_ = u[i, _QUIT_DRAW] < 0.5 * _unit(risk - tr[i, PERSIST] - 0.1)
        new_mind[i, ENGAGEMENT] = _unit(new_eng)
        new_mind[i, CONFUSION] = _unit(new_conf)
        new_mind[i, FRUSTRATION] = _unit(new_frus)
        new_mind[i, BOREDOM] = _unit(new_bore)
        new_mind[i, FATIGUE] = new_fat
        new_mind[i, EFFICIENCY] = eff + 0.5 * (1.5 - eff) if a == METACOGNITIVE_ACTION else eff

        # Session bookkeeping, as in v0 (a review leaves the topic and the problem).
        new_k = k
        if quiz and correct >= QUIZ_PASS:
            new_k = k + 1
            if new_k == NUM_TOPICS:
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
        if review:
            new_ses[i, HINT] = ses[i, HINT]
            new_ses[i, ATTEMPTS] = ses[i, ATTEMPTS]
            new_ses[i, ERROR] = err
        else:
            new_ses[i, HINT] = 0.0 if moved or (answered and solved) else hint
            new_ses[i, ATTEMPTS] = (
                0.0 if moved or solved else ses[i, ATTEMPTS] + (1.0 if answered else 0.0)
            )
            if answered:
                new_ses[i, ERROR] = 0.0 if solved else 1.0
            else:
                new_ses[i, ERROR] = 0.0 if a == REMEDIAL_ACTION else err
        new_ses[i, LAST] = a
        new_ses[i, RUN] = run
        streak = ses[i, STREAK]
        accuracy = ses[i, ACCURACY]
        if answered:
            streak = streak + 1.0 if correct == items else 0.0
            accuracy = 0.7 * accuracy + 0.3 * score
        new_ses[i, STREAK] = streak
        new_ses[i, ACCURACY] = accuracy
        detect_one(
            signals, i, new_mind, accuracy, streak, new_m[i, new_k], tr[i, CURIOSITY], anx, u, i,
            _SIGNAL_DRAWS,
        )  # fmt: skip

        before, after, estimate_error = 0.0, 0.0, 0.0
        for j in range(NUM_TOPICS):
            # Only the answered topic's half-life changed: the others keep their factor.
            kept = keeps[j] ** _DELAY_STEPS
            before += m[i, j] * kept
            if new_halflife[i, j] != halflife[i, j]:
                kept = np.exp(-_DELAY_LN2 / new_halflife[i, j])
            retained = new_m[i, j] * kept
            after += retained
            estimate_error += abs(new_est[i, j] - new_m[i, j])
            values[i, MASTERY_OUT + j] = new_m[i, j]
            values[i, RETENTION_OUT + j] = retained
            values[i, HALFLIFE_OUT + j] = new_halflife[i, j]
        reward[i] = REWARD_SCALE * (after - before)
        flags[i, TERMINATED] = quit_
        flags[i, QUIT] = quit_
        counts[i, ITEMS_OUT] = items
        counts[i, CORRECT_OUT] = correct
        counts[i, TOPIC_OUT] = new_k
        counts[i, POPULATION_OUT] = int(tr[i, POP])
        counts[i, REVIEWED_OUT] = answered_topic if review else -1
        values[i, EFFECT_OUT] = learn_rate * effect
        values[i, ESTIMATE_ERROR_OUT] = estimate_error / NUM_TOPICS
        values[i, EFFICIENCY_OUT] = new_mind[i, EFFICIENCY]
        values[i, POSTTEST_OUT] = after
        for j in range(AFFECTS):
            values[i, AFFECT_OUT + j] = new_mind[i, ENGAGEMENT + j]
