"""Where the oracle planner's gain on Tutoring-v1 comes from, and how much needs the student.

Plays the same ``mixed`` students (reset seeds ``--first-seed`` on) with the rules
(``reactive``) and with ``dream`` over the true simulator in three forms:

- ``true student``: the oracle, planning from the student's true hidden state;
- ``mean traits``: the same, but the student's eight v0 traits (learning rate, guess,
  slip, anxiety, persistence, curiosity, fatigue rate, ...) replaced by the means of the
  student's population, at every decision;
- ``mean traits and forgetting``: also each topic's half-life rescaled from the
  student's own forgetting multiplier to the population's mean one (the consolidation
  the session has built is kept; what is the student's own is not).

The gap between the first and the others is what a tutor gains by knowing the
individual student, beyond the population and the session's history. Prints each
agent's mean return and its gain over the rules (paired 95% bootstrap intervals over
students), overall and per population, and how often each agent reviews, quizzes and
encourages, in each half of the session.
Run: ``python scripts/tutoring_v1_gain.py [--students 60] [--first-seed 0]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.agents import Transition, make_agent
from lucidgym.benchmarks.specs import derived_seed
from lucidgym.benchmarks.stats import improvement_pct
from lucidgym.envs.tutoring.parameters import (
    ASSESSMENT_ACTION,
    MOTIVATIONAL_ACTION,
    POP,
    POPULATIONS,
    TRAIT_MEAN,
)
from lucidgym.envs.tutoring.v1.parameters import HALFLIFE_COLUMNS, HALFLIFE_MEAN, REVIEW

MEAN_TRAITS = 8
"""The v0 trait columns drawn per student (the ninth is the population)."""

Edit = Callable[[Any], Any]


def mean_traits(state: Any) -> Any:
    """``state`` with the v0 traits of each student set to their population's means."""
    traits = state.traits.copy()
    pops = traits[:, POP].astype(int)
    traits[:, :MEAN_TRAITS] = np.clip(TRAIT_MEAN[pops, :MEAN_TRAITS], 0.002, 0.95)
    return state._replace(traits=traits)


def mean_forgetting(state: Any) -> Any:
    """:func:`mean_traits`, and half-lives as if forgetting at the population's mean rate."""
    state = mean_traits(state)
    pops = state.traits[:, POP].astype(int)
    own = state.traits[:, HALFLIFE_COLUMNS : HALFLIFE_COLUMNS + state.halflife.shape[1]]
    halflife = state.halflife * (HALFLIFE_MEAN[pops][:, None] / own)
    return state._replace(halflife=halflife)


def play(agent: Any, env: gym.Env[Any, Any], seed: int) -> tuple[float, list[int], int]:
    """One episode: the return, the actions, and the student's population index."""
    obs, info = env.reset(seed=seed)
    agent.reset(seed=derived_seed(seed))
    total, actions, done, population = 0.0, [], False, -1
    while not done:
        action = int(agent.act(obs))
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(Transition(obs, action, float(reward), next_obs, terminated, truncated, info))
        population = int(info["population"])
        total += float(reward)
        actions.append(action)
        obs, done = next_obs, bool(terminated or truncated)
    return total, actions, population


def planner(env: gym.Env[Any, Any], edit: Edit | None) -> Any:
    """``dream`` over the true simulator, planning from ``edit(true state)``."""
    agent = make_agent("dream", env)
    if edit is not None:
        true_state = agent._root_state
        agent._root_state = lambda obs: edit(true_state(obs))
    return agent


def shares(actions: list[list[int]]) -> str:
    """Review, quiz and encouragement shares of decisions, first half / second half."""
    cells = []
    for name, hit in (
        ("review", lambda a: a >= REVIEW),
        ("quiz", lambda a: a == ASSESSMENT_ACTION),
        ("encourage", lambda a: a == MOTIVATIONAL_ACTION),
    ):
        halves = []
        for part in (slice(0, 40), slice(40, None)):
            chosen = [hit(a) for episode in actions for a in episode[part]]
            halves.append(f"{100 * np.mean(chosen):.0f}%" if chosen else "-")
        cells.append(f"{name} {' / '.join(halves)}")
    return ", ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    env = gym.make("Tutoring-v1")
    agents: dict[str, Callable[[], Any]] = {
        "rules": lambda: make_agent("reactive", env),
        "true student": lambda: planner(env, None),
        "mean traits": lambda: planner(env, mean_traits),
        "mean traits and forgetting": lambda: planner(env, mean_forgetting),
    }
    seeds = range(args.first_seed, args.first_seed + args.students)
    returns: dict[str, list[float]] = {name: [] for name in agents}
    actions: dict[str, list[list[int]]] = {name: [] for name in agents}
    populations: list[int] = []
    start = time.perf_counter()
    for name, build in agents.items():
        agent = build()
        for seed in seeds:
            total, chosen, population = play(agent, env, seed)
            returns[name].append(total)
            actions[name].append(chosen)
            if name == "rules":
                populations.append(population)
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    pops = np.array(populations)
    groups = [("all", np.ones(len(pops), bool))]
    groups += [(POPULATIONS[p], pops == p) for p in sorted(set(populations))]
    print(f"\nTutoring-v1, {args.students} mixed students (seeds {seeds.start}-{seeds.stop - 1})")
    print("| students | n | agent | mean return | vs the rules | decisions |")
    print("|---|---|---|---|---|---|")
    for group, mask in groups:
        base = np.array(returns["rules"])[mask]
        for name in agents:
            values = np.array(returns[name])[mask]
            gain, interval = improvement_pct(values, base, paired=True)
            vs = "" if name == "rules" or gain is None or interval is None else (
                f"{gain:+.1f}% [{interval[0]:+.1f}, {interval[1]:+.1f}]"
            )  # fmt: skip
            chosen = [a for a, keep in zip(actions[name], mask, strict=True) if keep]
            print(f"| {group} | {int(mask.sum())} | {name} | {values.mean():.2f} | {vs} | "
                  f"{shares(chosen)} |")  # fmt: skip


if __name__ == "__main__":
    main()
