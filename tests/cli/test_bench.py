import json

import pytest

from lucidgym.cli import main

ECHO_SET = [
    "--env",
    "PatternEcho-v0",
    "--agent",
    "echo",
    "--agent",
    "reactive",
    "--agent",
    "random",
]


def _bench(out, *extra):
    return main(["bench", *ECHO_SET, "--seeds", "2", "--episodes", "2", "--budget", "0",
                 "--no-progress", "--threads", "1", "--jobs", "1", "--out", str(out),
                 *extra])  # fmt: skip


def _without_timings(doc):
    doc = json.loads(json.dumps(doc))
    for run in doc["runs"]:
        run.pop("wall_s")
    doc.pop("machine")
    return doc


def test_bench_custom_set_end_to_end_and_deterministic(tmp_path, toy_agents, capsys):
    assert _bench(tmp_path / "a") == 0
    printed = capsys.readouterr().out
    files = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"results.json", "summary.md", "learning_curves.json"} <= files
    assert {"returns_PatternEcho-v0.png", "improvement.png"} <= files
    doc = json.loads((tmp_path / "a" / "results.json").read_text())
    assert doc["suite"] == "custom"
    assert len(doc["runs"]) == 6
    rows = {row["agent"]: row for row in doc["summary"]}
    assert rows["echo"]["mean_return"] == 32.0 and rows["echo"]["success_rate"] == 1.0
    base = rows["reactive"]["mean_return"]
    assert 0 < base < 10 and 0 < rows["random"]["mean_return"] < 10  # right 1 time in 8
    assert rows["echo"]["improvement_vs_reactive_pct"] == pytest.approx(100 * (32 - base) / base)
    assert f"{100 * (32 - base) / base:+.1f}%" in printed
    assert _bench(tmp_path / "b") == 0
    again = json.loads((tmp_path / "b" / "results.json").read_text())
    assert _without_timings(again) == _without_timings(doc)


def test_bench_in_worker_processes_gives_the_same_numbers(tmp_path, toy_agents):
    assert _bench(tmp_path / "serial") == 0
    assert _bench(tmp_path / "parallel", "--jobs", "2") == 0
    serial = json.loads((tmp_path / "serial" / "results.json").read_text())
    parallel = json.loads((tmp_path / "parallel" / "results.json").read_text())
    assert _without_timings(parallel) == _without_timings(serial)


def test_bench_refuses_an_out_with_results_unless_forced(tmp_path, toy_agents, capsys):
    assert _bench(tmp_path) == 0
    capsys.readouterr()
    assert _bench(tmp_path) == 2
    err = capsys.readouterr().err
    assert "--force" in err and err.count("\n") == 1
    assert _bench(tmp_path, "--force") == 0


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["bench", "--suite", "huge"], "quick, full, throughput"),
        (["bench", "--env", "NoSuchEnv-v9"], "PatternEcho-v0"),
        (["bench", "--env", "PatternEcho-v0", "--agent", "wizard"], "echo"),
        (["bench", "--env", "PatternEcho-v0", "--agent", "echo", "--model", "crystal"], "oracle"),
        (["bench", "--seeds", "0"], "positive"),
        (["bench", "--suite", "tiny", "--executor", "spark"], "valid: local, ray"),
        (["bench", "--suite", "tiny", "--ray-address", "auto"], "--executor ray only"),
        (["bench", "--suite", "tiny", "--shard", "2/2"], "0 <= I < N"),
        (["bench", "--suite", "tiny", "--shard", "first"], "I/N"),
    ],
)
def test_bench_bad_names_give_one_line_and_exit_2(argv, names, tmp_path, toy_agents, capsys):
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and names in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_bench_trains_learners_on_the_stated_budget(tmp_path, toy_agents):
    argv = ["bench", "--env", "PatternEcho-v0", "--agent", "counter", "--seeds", "2",
            "--episodes", "1", "--budget", "64", "--no-progress",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [run["env_steps"] for run in doc["runs"]] == [64, 64]
    curves = json.loads((tmp_path / "learning_curves.json").read_text())
    assert [c["env_steps"] for c in curves] == [[32.0, 64.0], [32.0, 64.0]]
    assert (tmp_path / "learning_PatternEcho-v0.png").is_file()


def test_bench_set_goes_to_the_agent_it_names(tmp_path, monkeypatch):
    from lucidgym.benchmarks import runner

    from .conftest import TOY_AGENTS

    seen = []

    def make(name, env, **config):
        seen.append((name, config))
        return TOY_AGENTS[name](env)

    monkeypatch.setattr(runner, "resolve_agent_maker", lambda: (make, list(TOY_AGENTS)))
    assert _bench(tmp_path, "--set", "echo:horizon=12", "--set", "echo:model=mlp") == 0
    configs = {name: config for name, config in seen}
    assert configs["echo"] == {"horizon": 12, "model": "mlp"}
    assert configs["reactive"] == {} and configs["random"] == {}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["horizon=12"], "takes no config"),  # every agent gets it, and the toys refuse it
        (["wizard:horizon=12"], "no agent 'wizard'"),
        (["horizon"], "key=value"),
        (["echo:=3"], "key=value"),
    ],
)
def test_bench_bad_set_gives_one_line_before_any_run(pairs, message, tmp_path, toy_agents, capsys):
    extra = [arg for pair in pairs for arg in ("--set", pair)]
    assert _bench(tmp_path / "x", *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_bench_and_bench_merge_have_their_own_help(capsys):
    from lucidgym.cli import bench, build_parser

    for argv, expected in (
        (["bench", "--help"], "--shard I/N"),
        (["bench", "merge", "--help"], "DIR"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0 and expected in capsys.readouterr().out
    args = build_parser().parse_args(["bench"])  # still the quick suite, not a merge
    assert args.func is bench.run and args.suite is None and args.executor == "local"


def test_bench_executor_ray_without_ray_names_the_extra(tmp_path, toy_agents, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees
    assert _bench(tmp_path / "x", "--executor", "ray") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "lucidgym[ray]"' in err
    assert not (tmp_path / "x").exists()


def test_bench_lost_worker_is_one_line_saying_where_the_finished_runs_are(
    tmp_path, toy_agents, capsys, monkeypatch
):
    from lucidgym.benchmarks import runner
    from lucidgym.benchmarks.workers import ExecutorError

    def lost(*args, **kwargs):
        raise ExecutorError("PatternEcho-v0 echo seed 0: its worker died twice (OutOfMemoryError)")

    monkeypatch.setattr(runner, "run_suite", lost)
    assert _bench(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "died twice" in err and f"{tmp_path}/results.json" in err


def test_bench_shards_merged_give_the_whole_set(tmp_path, toy_agents, capsys):
    assert _bench(tmp_path / "whole") == 0
    for index in range(2):
        assert _bench(tmp_path / f"shard{index}", "--shard", f"{index}/2") == 0
    shard = json.loads((tmp_path / "shard1" / "results.json").read_text())
    assert shard["shard"]["index"] == 1 and len(shard["runs"]) == 3
    capsys.readouterr()
    merged = tmp_path / "merged"
    argv = ["bench", "merge", str(tmp_path / "shard1"), str(tmp_path / "shard0"), "--out"]
    assert main([*argv, str(merged)]) == 0
    assert "+" in capsys.readouterr().out  # the summary table, improvements and all
    doc = json.loads((merged / "results.json").read_text())
    assert doc.pop("merged_from")
    whole = json.loads((tmp_path / "whole" / "results.json").read_text())
    assert _without_timings(doc) == _without_timings(whole)
    assert {"summary.md", "returns_PatternEcho-v0.png", "improvement.png"} <= {
        p.name for p in merged.iterdir()
    }


@pytest.mark.parametrize(
    ("folders", "out", "message"),
    [
        (["shard0", "shard0"], "merged", "shard 0/2 given twice"),
        (["shard0"], "merged", "shard(s) 1/2 missing"),
        (["shard0", "whole"], "merged", "not a shard's results"),
        (["shard0", "nowhere"], "merged", "nowhere: no results.json"),
        (["shard0", "shard1"], "shard1", "one of the folders merged"),
    ],
)
def test_bench_merge_refuses_overlaps_in_one_line(
    folders, out, message, tmp_path, toy_agents, capsys
):
    for name, extra in (
        ("whole", []),
        ("shard0", ["--shard", "0/2"]),
        ("shard1", ["--shard", "1/2"]),
    ):
        if name in folders or name == out:
            assert _bench(tmp_path / name, *extra) == 0
    capsys.readouterr()
    argv = ["bench", "merge", *(str(tmp_path / f) for f in folders), "--out", str(tmp_path / out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "merged").exists()
