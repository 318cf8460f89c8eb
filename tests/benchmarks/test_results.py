import json
import os

import pytest

from lucidgym.benchmarks import results as results_module
from lucidgym.benchmarks.results import (
    BenchResults,
    RunRecord,
    WorldModelRecord,
    machine_info,
    summarize,
)
from lucidgym.benchmarks.runner import run_suite
from lucidgym.benchmarks.specs import RunSpec
from lucidgym.benchmarks.suites import Suite

from .conftest import make_toy_agent

RUN_KEYS = {
    "env", "agent", "model", "seed", "episode_returns", "env_steps", "wall_s", "train_s", "config",
}  # fmt: skip
SUMMARY_KEYS = {
    "env", "agent", "model", "mean_return", "ci95", "improvement_vs_reactive_pct",
    "improvement_ci95",
}  # fmt: skip
WORLD_MODEL_KEYS = {"env", "model", "horizon", "nmae", "persistence_nmae", "oracle_nmae", "wall_s"}


def _run(agent: str, seed: int, returns: list[float], success: float | None = None) -> RunRecord:
    return RunRecord("Tutoring-v0", agent, "none", seed, returns, 0, 0.1, success)


def _results() -> BenchResults:
    res = BenchResults("quick", machine_info(["lucidgym", "bench"]))
    res.runs += [_run("reactive", s, [1.0, 1.0]) for s in range(3)]
    res.runs += [_run("mcts", s, [1.5, 1.5], success=0.5) for s in range(3)]
    res.runs.append(RunRecord("CartPole-v1", "random", "none", 0, [20.0, 22.0], 0, 0.2))
    res.world_models.append(WorldModelRecord("Tutoring-v0", "mlp", 10, 0.1, 0.2, 0.05))
    return res


def test_results_json_has_the_design_schema(tmp_path):
    _results().write(tmp_path)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc) == {"suite", "lucidgym_version", "machine", "runs", "summary", "world_models"}
    assert doc["suite"] == "quick"
    machine = doc["machine"]
    for key in ("cpu", "cores", "torch", "gymnasium", "lucidgym", "python", "command"):
        assert key in machine
    for key in ("numba", "stable-baselines3", "minari", "git_commit"):
        assert key in machine  # None where not installed, or not a checkout
    assert machine["command"] == ["lucidgym", "bench"]
    for run in doc["runs"]:
        assert RUN_KEYS <= set(run) <= RUN_KEYS | {"success_rate"}
    assert "success_rate" in doc["runs"][3] and "success_rate" not in doc["runs"][0]
    by_agent = {(row["env"], row["agent"]): row for row in doc["summary"]}
    for row in doc["summary"]:
        assert SUMMARY_KEYS <= set(row)
    mcts = by_agent[("Tutoring-v0", "mcts")]
    assert mcts["mean_return"] == pytest.approx(1.5)
    assert mcts["ci95"] == pytest.approx([1.5, 1.5])
    assert mcts["improvement_vs_reactive_pct"] == pytest.approx(50.0)
    assert mcts["improvement_ci95"] == pytest.approx([50.0, 50.0])
    assert mcts["success_rate"] == pytest.approx(0.5)
    assert by_agent[("Tutoring-v0", "reactive")]["improvement_vs_reactive_pct"] is None
    cartpole = by_agent[("CartPole-v1", "random")]
    assert cartpole["improvement_vs_reactive_pct"] is None and cartpole["improvement_ci95"] is None
    assert [set(row) for row in doc["world_models"]] == [WORLD_MODEL_KEYS]
    summary = (tmp_path / "summary.md").read_text()
    assert "| Tutoring-v0 | mcts | none | 3 | 0 | 1.5 | [1.5, 1.5] |" in summary
    assert "+50.0%" in summary


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    res = _results()
    res.write(tmp_path)
    before = (tmp_path / "results.json").read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    res.runs.append(_run("greedy", 0, [3.0]))
    monkeypatch.setattr(results_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        res.write(tmp_path)
    assert (tmp_path / "results.json").read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["learning_curves.json", "results.json", "summary.md"]


def test_results_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        _results().write(tmp_path / "new")
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "new").iterdir()}
    assert modes == dict.fromkeys(["learning_curves.json", "results.json", "summary.md"], 0o644)


class _Interrupt:
    """An agent maker whose fourth agent (the third run's: the suite first builds each
    distinct agent once, to check it) is interrupted (Ctrl-C) mid-episode."""

    def __init__(self) -> None:
        self.built = 0

    def __call__(self, name, env, **config):
        self.built += 1
        agent = make_toy_agent(name, env, **config)
        if self.built == 4:

            def interrupted(obs):
                raise KeyboardInterrupt

            agent.act = interrupted
        return agent


def test_an_interrupted_suite_leaves_valid_json_with_the_finished_runs(tmp_path):
    runs = [RunSpec("PatternEcho-v0", "echo", seed=s, episodes=2) for s in range(5)]
    with pytest.raises(KeyboardInterrupt):
        run_suite(Suite("tiny", runs), tmp_path, progress=False, make_agent=_Interrupt())
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [run["seed"] for run in doc["runs"]] == [0, 1]
    assert doc["runs"][0]["episode_returns"] == [32.0, 32.0]
    assert doc["summary"][0]["mean_return"] == 32.0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_summary_markdown_tables_env_and_planner_speed_rows_together() -> None:
    payload = {
        "suite": "throughput",
        "lucidgym_version": "0",
        "machine": {},
        "summary": [],
        "world_models": [],
        "throughput": [
            {"kind": "env", "env": "PatternEcho-v0", "num_envs": 1, "ratio": 0.5},
            {"kind": "planner", "env": "Tutoring-v0", "decisions_per_s": 60.0},
        ],
    }
    text = results_module.summary_markdown(payload)
    assert "| kind | env | num_envs | ratio | decisions_per_s |" in text
    assert "| planner | Tutoring-v0 | - | - | 60 |" in text


def test_improvement_is_paired_over_seeds_that_played_the_same_episodes():
    # Per seed the agent beats reactive by exactly 20%, while seeds differ widely.
    runs = [_run("reactive", s, [10.0 * (s + 1)] * 2) for s in range(4)]
    runs += [_run("dream", s, [12.0 * (s + 1)] * 2) for s in reversed(range(4))]
    # Another agent with a different episode count is compared unpaired.
    runs += [_run("beam", s, [12.0 * (s + 1)] * 3) for s in range(4)]
    rows = {row["agent"]: row for row in summarize(runs)}
    assert rows["dream"]["improvement_vs_reactive_pct"] == pytest.approx(20.0)
    assert rows["dream"]["improvement_ci95"] == pytest.approx([20.0, 20.0])
    low, high = rows["beam"]["improvement_ci95"]
    assert low < 20.0 < high and high - low > 20.0
    # A seed run twice cannot be paired one-to-one: compared unpaired, without error.
    twice = runs[:4] + [_run("reactive", 0, [10.0] * 2)] + runs[4:8] + runs[4:5]
    rows = {row["agent"]: row for row in summarize(twice)}
    assert rows["dream"]["improvement_ci95"] is not None


def test_variants_and_budgets_of_one_agent_stay_apart_in_the_summary(tmp_path):
    runs = [RunSpec("PatternEcho-v0", "reactive", seed=s, episodes=1) for s in range(2)]
    runs += [RunSpec("PatternEcho-v0", "counter", seed=s, episodes=1, budget=32) for s in range(2)]
    runs += [
        RunSpec("PatternEcho-v0", "counter", seed=s, episodes=1, budget=96, variant="longer")
        for s in range(2)
    ]
    doc = run_suite(Suite("tiny", runs), tmp_path, progress=False, make_agent=make_toy_agent)
    rows = {row["agent"]: row for row in doc.to_json()["summary"]}
    assert list(rows) == ["reactive", "counter", "counter[longer]"]
    assert [rows[a]["env_steps"] for a in rows] == [0, 32, 96]
    assert [r.agent for r in doc.runs][-1] == "counter[longer]"
    assert "counter[longer]" in (tmp_path / "summary.md").read_text()


def test_runs_record_the_agents_full_settings(tmp_path):
    from lucidgym.agents import make_agent
    from lucidgym.benchmarks.runner import run_one
    from lucidgym.benchmarks.specs import RunSpec

    spec = RunSpec("Tutoring-v0", "mcts", "oracle", episodes=1, agent_config={"num_simulations": 4})
    record = run_one(spec, make_agent)
    assert record.config["planner"]["num_simulations"] == 4
    assert record.config["planner"]["rollout_depth"] == 12  # the default over expert rules
    assert record.config["agent"]["model"] == "oracle"
    learned = RunSpec("CartPole-v1", "greedy", "mlp", episodes=1, budget=20,
                      agent_config={"learning": {"train_steps": 2, "seq_len": 4}})  # fmt: skip
    config = run_one(learned, make_agent).config
    assert config["model"]["backend"] == "mlp" and "hidden_size" in config["model"]
    assert config["agent"]["learning"]["train_steps"] == 2


def test_learned_rows_report_their_share_of_the_ceiling():
    def run(agent, model, value):
        return RunRecord("Tutoring-v1", agent, model, 0, [value], 0, 0.1)

    rows = summarize(
        [
            run("reactive", "none", 20.0),
            run("dream", "oracle", 30.0),
            run("dream", "belief", 28.0),
            run("dream", "ensemble", 24.0),
            run("mcts", "oracle", 25.0),
            run("mcts", "ensemble", 21.0),
            run("beam", "oracle", 18.0),
            run("beam", "ensemble", 19.0),
            run("dream[20k steps]", "ensemble", 26.0),
        ]
    )
    share = {(r["agent"], r["model"]): (r.get("ceiling"), r.get("share_of_ceiling")) for r in rows}
    assert share[("dream", "ensemble")] == ("belief", pytest.approx(0.5))  # 4 of belief's 8
    # A variant (another budget) is measured against the same planner's ceiling.
    assert share[("dream[20k steps]", "ensemble")] == ("belief", pytest.approx(0.75))
    assert share[("mcts", "ensemble")] == ("oracle", pytest.approx(0.2))
    assert share[("beam", "ensemble")] == ("oracle", None)  # a ceiling below the rules
    assert share[("dream", "oracle")] == (None, None)


def test_a_suite_makes_an_older_lucidgym_version_without_gymnasiums_warning(tmp_path):
    import warnings

    import gymnasium as gym

    with pytest.warns(DeprecationWarning, match="Tutoring-v0 is out of date"):
        gym.make("Tutoring-v0")  # Gymnasium's own warning, still there outside suites
    runs = [RunSpec("Tutoring-v0", "stuck", seed=0, episodes=1)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_suite(Suite("tiny", runs), tmp_path, progress=False, make_agent=make_toy_agent)
    assert not [w for w in caught if "out of date" in str(w.message)]


def test_a_run_records_how_much_of_its_time_went_to_training(tmp_path):
    runs = [RunSpec("PatternEcho-v0", "reactive", seed=0, episodes=1)]
    runs += [RunSpec("PatternEcho-v0", "sleeper", seed=0, episodes=1, budget=30_000)]
    doc = run_suite(Suite("tiny", runs), tmp_path, progress=False, make_agent=make_toy_agent)
    reactive, sleeper = doc.runs
    assert reactive.train_s == 0.0
    assert 0.3 <= sleeper.train_s <= sleeper.wall_s  # 30 sleeps of 10 ms
    assert json.loads((tmp_path / "results.json").read_text())["runs"][1]["train_s"] > 0
