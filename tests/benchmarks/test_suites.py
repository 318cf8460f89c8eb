"""What the named suites contain (their runs are measured by the benchmarks themselves)."""

from __future__ import annotations

import pytest

from lucidgym.agents.planners import PLANNERS
from lucidgym.benchmarks.suites import (
    BACKENDS,
    FULL_LONG_SEEDS,
    FULL_SEEDS,
    NO_WORLD_MODEL_HEAD,
    SYMBOLIC_ENVS,
    make_suite,
    with_overrides,
)


def _rows(suite):
    rows: dict[tuple[str, str, str], set[int]] = {}
    for spec in suite.runs:
        rows.setdefault((spec.env_label, spec.agent_label, spec.model), set()).add(spec.seed)
    return rows


def test_quick_suite_has_what_the_first_run_shows():
    rows = _rows(make_suite("quick"))
    for planner in PLANNERS:
        assert ("Tutoring-v1", planner, "oracle") in rows
    for planner in ("dream", "mcts"):
        assert ("Tutoring-v1", planner, "ensemble") in rows
    assert ("Tutoring-v1", "dyna", "none") in rows
    assert ("Tutoring-v1", "dream", "belief") in rows  # the ceiling of the learned rows
    assert {("MovingDotDiscrete-v0", a, "rssm") for a in ("dream", "mcts")} <= set(rows)
    assert {(env, "baby", "none") for env in ("PatternEcho-v0", "SequenceNext-v0")} <= set(rows)
    assert all(len(seeds) >= 2 for seeds in rows.values())


def test_full_suite_covers_seeds_baselines_backends_and_populations():
    suite = make_suite("full")
    rows = _rows(suite)
    tutoring = {key: seeds for key, seeds in rows.items() if key[0] == "Tutoring-v1"}
    assert tutoring[("Tutoring-v1", "reactive", "none")] == set(range(FULL_SEEDS))
    assert {b for (_, agent, b) in tutoring if agent == "dream"} >= {"oracle", "belief", *BACKENDS}
    for peer in ("sb3:PPO[200k steps]", "sb3:DQN[200k steps]"):
        assert len(tutoring[("Tutoring-v1", peer, "none")]) == FULL_LONG_SEEDS
    v0 = {key for key in rows if key[0] == "Tutoring-v0"}
    assert {("Tutoring-v0", "reactive", "none"), ("Tutoring-v0", "dream", "oracle")} <= v0
    budgets = {(s.agent_label, s.budget) for s in suite.runs if s.env == "Tutoring-v0"}
    assert {("dyna", 20_000), ("sb3:PPO", 20_000), ("sb3:PPO[200k steps]", 200_000)} <= budgets
    for population in ("average", "novice", "anxious"):
        env = f"Tutoring-v1[population={population}]"
        assert {(env, "reactive", "none"), (env, "dream", "ensemble")} <= set(rows)
    trained_on = {s.env_kwargs.get("population") for s in suite.runs if s.eval_options}
    assert trained_on <= {None, "average"}
    for env in SYMBOLIC_ENVS:
        assert {(env, "reactive", "none"), (env, "baby", "none")} <= set(rows)
    assert ("DelayedRecall-v0", f"baby[{NO_WORLD_MODEL_HEAD}]", "none") in rows
    cartpole = {(s.agent, s.model, s.budget) for s in suite.runs if s.env == "CartPole-v1"}
    assert {("reactive", "none", 10_000), ("dream", "ensemble", 10_000)} <= cartpole
    pendulum = {(s.agent, s.model, s.budget) for s in suite.runs if s.env == "Pendulum-v1"}
    assert {("reactive", "none", 10_000), ("dream", "ensemble", 5_000)} <= pendulum
    assert {wm.backend for wm in suite.world_models} == set(BACKENDS)


@pytest.mark.parametrize("name", ["quick", "full"])
def test_overrides_replace_seeds_episodes_and_budgets(name):
    suite = with_overrides(make_suite(name), seeds=1, episodes=2, budget=64)
    assert {s.seed for s in suite.runs} == {0}
    assert {s.episodes for s in suite.runs} == {2} and {s.budget for s in suite.runs} == {64}
    assert len(_rows(suite)) == len(_rows(make_suite(name)))


@pytest.mark.filterwarnings("ignore:dream. the '.*' backend dreams alike every time")
def test_every_agent_of_the_full_suite_builds():
    pytest.importorskip("stable_baselines3")
    from lucidgym.agents import make_agent
    from lucidgym.benchmarks.runner import check_buildable

    check_buildable(make_suite("full").runs, make_agent)
