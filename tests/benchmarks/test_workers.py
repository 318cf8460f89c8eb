"""Executors, longest-first order, shards and their merge; Ray on a local instance."""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import threading
import time

import pytest

from lucidgym.benchmarks.merge import Shard, ShardedResults, merge_shards, shard_record
from lucidgym.benchmarks.results import RunRecord, WorldModelRecord, machine_info
from lucidgym.benchmarks.runner import run_suite
from lucidgym.benchmarks.specs import RunSpec, WorldModelSpec
from lucidgym.benchmarks.suites import Suite
from lucidgym.benchmarks.workers import ExecutorError, estimated_seconds, longest_first

from .conftest import make_toy_agent

TOY_RUNS = [
    RunSpec("PatternEcho-v0", agent, seed=seed, episodes=2, budget=budget)
    for agent, budget in (("echo", 0), ("reactive", 0), ("random", 0), ("counter", 64))
    for seed in range(3)
]
"""Twelve runs of a few milliseconds each; ``counter`` learns, so curves are written too."""


def _comparable(doc):
    """A results document without what differs between runs of the same suite."""
    doc = json.loads(json.dumps(doc))
    for key in ("machine", "shard", "merged_from"):
        doc.pop(key, None)
    for run in doc["runs"]:
        run.pop("wall_s")
        run.pop("train_s")
    for row in doc["world_models"]:
        row.pop("wall_s")
    return doc


def _read(folder):
    return json.loads((folder / "results.json").read_text())


def _toy(folder, make_agent=make_toy_agent, **options):
    suite = Suite("toy", TOY_RUNS)
    return run_suite(suite, folder, progress=False, make_agent=make_agent, **options)


def test_longest_first_hands_out_training_and_learned_models_first():
    work = [
        RunSpec("Tutoring-v0", "reactive", episodes=10),
        RunSpec("Tutoring-v0", "dream", "oracle", episodes=10),
        RunSpec("Tutoring-v0", "dyna", budget=20_000, episodes=10),
        RunSpec("Tutoring-v0", "dream", "ensemble", budget=2000, episodes=10),
        RunSpec("Tutoring-v0", "sb3:PPO", budget=200_000, episodes=10),
        WorldModelSpec("Tutoring-v0", "mlp", train_steps=2000),
        RunSpec("Tutoring-v0", "random", episodes=10),
    ]
    assert longest_first(work) == [2, 4, 3, 5, 1, 0, 6]  # ties keep the suite's order
    assert estimated_seconds(work[3]) == pytest.approx(2.0 + 50.0)
    assert estimated_seconds(work[2]) == pytest.approx(500.0 + 0.1)
    quarter = RunSpec("Tutoring-v0", "dyna", budget=4000, agent_config={"train_every": 4})
    assert estimated_seconds(quarter) == pytest.approx(50.0 + 0.1)


@pytest.fixture(scope="module")
def toy_shards(tmp_path_factory):
    """The toy suite whole (one process) and as three shards, each in its folder."""
    root = tmp_path_factory.mktemp("shards")
    _toy(root / "whole")
    for index in range(3):
        _toy(root / f"shard{index}", shard=Shard(index, 3))
    return root


def test_a_shard_runs_every_nth_job_and_says_which_shard_it_is(toy_shards):
    doc = _read(toy_shards / "shard1")
    whole = _read(toy_shards / "whole")
    assert [(r["agent"], r["seed"]) for r in doc["runs"]] == [
        (r["agent"], r["seed"]) for r in whole["runs"][1::3]
    ]
    assert doc["shard"]["index"] == 1 and doc["shard"]["count"] == 3
    assert doc["shard"]["suite_jobs"] == len(TOY_RUNS)


def test_merged_shards_give_the_runs_summary_and_curves_of_the_whole_suite(toy_shards, tmp_path):
    merged = merge_shards([toy_shards / f"shard{i}" for i in (2, 0, 1)])
    merged.write(tmp_path)
    whole = toy_shards / "whole"
    assert _comparable(_read(tmp_path)) == _comparable(_read(whole))
    curves = json.loads((tmp_path / "learning_curves.json").read_text())
    assert curves == json.loads((whole / "learning_curves.json").read_text()) and curves
    assert [part["shard"] for part in _read(tmp_path)["merged_from"]] == ["0/3", "1/3", "2/3"]
    assert (tmp_path / "summary.md").read_text() == (whole / "summary.md").read_text()


def _copy_shards(source, target, tamper=None):
    """Copies of the three shard folders; ``tamper(index, doc)`` edits a results file."""
    folders = []
    for index in range(3):
        folder = target / f"shard{index}"
        shutil.copytree(source / f"shard{index}", folder)
        if tamper is not None:
            doc = _read(folder)
            tamper(index, doc)
            (folder / "results.json").write_text(json.dumps(doc))
        folders.append(folder)
    return folders


def _set(index, key, value):
    def tamper(i, doc):
        if i == index:
            target = doc["shard"] if key in doc["shard"] else doc
            target[key] = value

    return tamper


@pytest.mark.parametrize(
    ("tamper", "pick", "message"),
    [
        (None, [0, 1, 1, 2], "shard 1/3 given twice"),
        (None, [0, 2], "shard(s) 1/3 missing"),
        (_set(2, "suite", "other"), [0, 1, 2], "suite is 'toy' in"),
        (_set(1, "lucidgym_version", "9.9"), [0, 1, 2], "lucidgym_version"),
        (_set(1, "suite_digest", "0" * 16), [0, 1, 2], "shard suite_digest"),
        (_set(1, "runs", []), [0, 1, 2], "unfinished (0 of 4 runs"),
        (_set(1, "index", 0), [0, 1, 2], "shard 0/3 given twice"),
    ],
)
def test_merge_refuses_overlapping_or_inconsistent_shards(
    toy_shards, tmp_path, tamper, pick, message
):
    folders = _copy_shards(toy_shards, tmp_path, tamper)
    with pytest.raises(ValueError) as err:
        merge_shards([folders[i] for i in pick])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_merge_refuses_a_run_in_two_shards_and_results_that_are_no_shard(toy_shards, tmp_path):
    def duplicate(index, doc):
        if index == 1:
            doc["runs"][0] = _read(toy_shards / "shard0")["runs"][0]

    folders = _copy_shards(toy_shards, tmp_path, duplicate)
    with pytest.raises(ValueError, match=r"run \('PatternEcho-v0', 'echo', 'none', 0\) is in two"):
        merge_shards(folders)
    with pytest.raises(ValueError, match="not a shard's results"):
        merge_shards([toy_shards / "whole"])


def test_merge_puts_world_model_evaluations_back_in_the_suite_order(tmp_path):
    # Three world-model evaluations (two horizons each) and two runs over two shards.
    models = [WorldModelSpec("Tutoring-v0", backend, horizon=2) for backend in ("a", "b", "c")]
    runs = [RunSpec("Tutoring-v0", "reactive", seed=seed) for seed in range(2)]
    jobs = [*models, *runs]

    def records(job):
        if isinstance(job, WorldModelSpec):
            return [WorldModelRecord(job.env, job.backend, h, 0.1, 0.2, None) for h in (1, 2)]
        return RunRecord(job.env, job.agent, job.model, job.seed, [float(job.seed)], 0, 0.0)

    for index in range(2):
        shard = Shard(index, 2)
        part = ShardedResults("s", machine_info([]), shard=shard_record(shard, models, runs))
        for job in shard.select(jobs):
            done = records(job)
            if isinstance(done, list):
                part.world_models += done
            else:
                part.runs.append(done)
        part.write(tmp_path / str(index))
    merged = merge_shards([tmp_path / "1", tmp_path / "0"])
    assert [(row.model, row.horizon) for row in merged.world_models] == [
        (m, h) for m in "abc" for h in (1, 2)
    ]
    assert [run.seed for run in merged.runs] == [0, 1]


def test_shard_text_is_checked():
    assert Shard.parse("2/4") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    for text in ("4/4", "1", "-1/3", "a/b", "1/0"):
        with pytest.raises(ValueError, match="I/N"):
            Shard.parse(text)


def test_the_ray_executor_without_ray_names_the_extra_before_writing(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees
    with pytest.raises(ValueError, match=r'pip install "lucidgym\[ray\]"'):
        _toy(tmp_path / "out", executor="ray")
    assert not (tmp_path / "out").exists()


# Ray: one local instance for the module (its start-up dominates these tests).


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    # Workers find the test modules (the toy agents) through the current folder, which
    # Ray puts on their path; start from the repository root whatever pytest's folder.
    here = os.getcwd()
    os.chdir(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    try:
        ray.init(num_cpus=2, include_dashboard=False)
    finally:
        os.chdir(here)
    yield ray
    ray.shutdown()


def test_ray_gives_the_numbers_of_the_local_executor(ray_instance, toy_shards, tmp_path):
    _toy(tmp_path, executor="ray")
    assert _comparable(_read(tmp_path)) == _comparable(_read(toy_shards / "whole"))


def dying_agent_maker(name, env, *, attempts, deaths, driver, **config):
    """``make_toy_agent``, but a worker building ``random`` dies ``deaths`` times first."""
    if name == "random" and os.getpid() != driver:
        with open(attempts, "a") as log:
            log.write(f"{os.getpid()}\n")
        with open(attempts) as log:
            if len(log.readlines()) <= deaths:
                os._exit(1)
    return make_toy_agent(name, env, **config)


def failing_agent_maker(name, env, *, driver, **config):
    """``make_toy_agent``, but ``random`` has a bad option where it runs (not where checked)."""
    if name == "random" and os.getpid() != driver:
        raise ValueError("random: no option 'temperature'")
    return make_toy_agent(name, env, **config)


def test_ray_raises_a_runs_own_error_as_it_was_raised(ray_instance, tmp_path):
    maker = functools.partial(failing_agent_maker, driver=os.getpid())
    with pytest.raises(ValueError, match="^random: no option 'temperature'$"):
        _toy(tmp_path, make_agent=maker, executor="ray")


def _dying(tmp_path, deaths):
    attempts = tmp_path / "attempts"
    return attempts, functools.partial(
        dying_agent_maker, attempts=str(attempts), deaths=deaths, driver=os.getpid()
    )


def test_ray_retries_a_run_whose_worker_died(ray_instance, toy_shards, tmp_path):
    attempts, maker = _dying(tmp_path, deaths=1)
    runs = [run for run in TOY_RUNS if run.agent in ("echo", "random")]
    run_suite(Suite("toy", runs), tmp_path / "out", progress=False, make_agent=maker,
              executor="ray")  # fmt: skip
    assert len(attempts.read_text().split()) == 4  # one death, then three runs of random
    whole = _comparable(_read(toy_shards / "whole"))
    expected = [run for run in whole["runs"] if run["agent"] in ("echo", "random")]
    assert _comparable(_read(tmp_path / "out"))["runs"] == expected


def test_ray_stops_on_a_second_death_naming_the_run_and_keeps_what_finished(ray_instance, tmp_path):
    attempts, maker = _dying(tmp_path, deaths=2)
    runs = [RunSpec("PatternEcho-v0", "echo", seed=s, episodes=2) for s in range(2)]
    runs.append(RunSpec("PatternEcho-v0", "random", seed=0, episodes=2))
    with pytest.raises(ExecutorError, match="PatternEcho-v0 random seed 0: its worker died twice"):
        run_suite(Suite("toy", runs), tmp_path / "out", progress=False, make_agent=maker,
                  executor="ray")  # fmt: skip
    assert len(attempts.read_text().split()) == 2  # the run and its one retry
    assert [run["seed"] for run in _read(tmp_path / "out")["runs"]] == [0, 1]


@pytest.mark.skipif(
    "PYTEST_XDIST_WORKER" in os.environ,
    reason="the SIGINT this test sends hung a pytest-xdist worker on a clean clone; "
    "run it without -n: pytest tests/benchmarks/test_workers.py -k ctrl_c",
)
def test_ray_ctrl_c_keeps_what_finished_and_stops_the_rest(ray_instance, tmp_path):
    runs = [
        # A run of 17 minutes that sleeps: on a loaded machine it leaves the CPU to the other.
        RunSpec("PatternEcho-v0", "sleeper", seed=0, episodes=1, budget=10**8),
        RunSpec("PatternEcho-v0", "echo", seed=1, episodes=1),
    ]
    out = tmp_path / "out"

    sent: list[float] = []
    # Both CPUs must be free (tasks of earlier tests released), or the long run would
    # take the only one and the short run would never start.
    deadline = time.monotonic() + 120
    while ray_instance.available_resources().get("CPU", 0) < 2:
        assert time.monotonic() < deadline, "earlier tests still hold the Ray instance's CPUs"
        time.sleep(0.2)

    def interrupt_after_the_first_result():
        # Ray's first workers can take a minute or more to start on a loaded machine:
        # wait for the first result (at most 5 minutes), then interrupt.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if out.is_dir() and (out / "results.json").is_file() and _read(out)["runs"]:
                break
            time.sleep(0.2)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_after_the_first_result, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_suite(Suite("toy", runs), out, progress=False, make_agent=make_toy_agent,
                  executor="ray")  # fmt: skip
    assert sent and time.monotonic() - sent[0] < 60  # Ctrl-C stops the suite promptly
    assert [run["agent"] for run in _read(out)["runs"]] == ["echo"]
    for _ in range(50):  # the long run's task is cancelled: its CPU comes back
        if ray_instance.available_resources().get("CPU", 0) == 2:
            break
        time.sleep(0.2)
    assert ray_instance.available_resources().get("CPU", 0) == 2
