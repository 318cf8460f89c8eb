"""The local executor's worker processes: a job whose worker dies is run once more."""

from __future__ import annotations

import functools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lucidgym.benchmarks.workers import ExecutorError, in_order, in_processes


@dataclass(frozen=True)
class TinyJob:
    """A job of a few microseconds: its result is ``value`` squared."""

    label: str
    value: int


JOBS = [TinyJob(f"tiny {v}", v) for v in (2, 3, 5)]
"""Three jobs; ``tiny 3`` is the one that misbehaves."""


def _attempt(folder: str, job: TinyJob) -> int:
    """Log one attempt at ``job`` in ``folder``; how many there have been, this one too."""
    log = Path(folder) / f"{job.value}.attempts"
    with log.open("a") as out:
        out.write(f"{os.getpid()}\n")
    return len(log.read_text().split())


def _wait_for_the_others(folder: str, job: TinyJob, timeout: float = 30.0) -> None:
    """Return once every other job of :data:`JOBS` has finished (so the test is not a race)."""
    others = [Path(folder) / f"{j.value}.done" for j in JOBS if j != job]
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in others) and time.monotonic() < deadline:
        time.sleep(0.02)


def flaky_square(job: TinyJob, *, folder: str, deaths: int, how: str = "exit") -> int:
    """``job.value ** 2``, but the worker running ``tiny 3`` dies on its first ``deaths`` tries."""
    if job.value == 3 and _attempt(folder, job) <= deaths:
        _wait_for_the_others(folder, job)
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)
    (Path(folder) / f"{job.value}.done").touch()
    return job.value**2


def buggy_square(job: TinyJob, *, folder: str) -> int:
    """``job.value ** 2``, but ``tiny 3`` raises an ordinary error (a bug in the job)."""
    if job.value == 3:
        _attempt(folder, job)
        raise ValueError("tiny 3: no option 'temperature'")
    return job.value**2


def _attempts(folder: Path, value: int) -> list[int]:
    """The processes that tried the job of ``value``, in order."""
    return [int(pid) for pid in (folder / f"{value}.attempts").read_text().split()]


def _pool(worker, order=(0, 1, 2)):
    return in_processes(worker, JOBS, lambda label: None, order=list(order), slots=2)


def test_a_job_whose_worker_died_runs_again_and_gives_the_numbers_of_one_process(tmp_path):
    worker = functools.partial(flaky_square, folder=str(tmp_path), deaths=1)
    started: list[str] = []
    results = dict(in_processes(worker, JOBS, started.append, order=[2, 1, 0], slots=2))
    first, retry = _attempts(tmp_path, 3)
    assert first != retry and os.getpid() not in (first, retry)  # another worker
    assert started == ["tiny 5", "tiny 3", "tiny 2"]  # handed out once each, in order
    # In this process, nothing dies: the reference numbers.
    plain = dict(in_order(functools.partial(flaky_square, folder=str(tmp_path), deaths=0),
                          JOBS, lambda label: None))  # fmt: skip
    assert results == plain == {0: 4, 1: 9, 2: 25}


def test_a_job_whose_worker_dies_twice_stops_the_pool_naming_it(tmp_path):
    worker = functools.partial(flaky_square, folder=str(tmp_path), deaths=5, how="kill")
    finished = []
    with pytest.raises(ExecutorError, match="^tiny 3: its worker died twice") as err:
        for index, result in _pool(worker):
            finished.append((index, result))
    assert "killed by SIGKILL" in str(err.value)
    assert sorted(finished) == [(0, 4), (2, 25)]  # the others' results came back first
    assert len(_attempts(tmp_path, 3)) == 2  # the job and its one retry


def test_a_worker_killed_by_exit_is_reported_with_its_exit_code(tmp_path):
    worker = functools.partial(flaky_square, folder=str(tmp_path), deaths=5)
    with pytest.raises(ExecutorError, match=r"^tiny 3: its worker died twice \(exit code 1\)$"):
        list(_pool(worker, order=[1, 0, 2]))


def test_a_jobs_own_error_is_raised_as_it_was_and_not_retried(tmp_path):
    worker = functools.partial(buggy_square, folder=str(tmp_path))
    with pytest.raises(ValueError, match="^tiny 3: no option 'temperature'$") as err:
        list(_pool(worker, order=[1, 0, 2]))
    assert len(_attempts(tmp_path, 3)) == 1
    assert "buggy_square" in str(err.value.__cause__)  # the worker's traceback


def sleepy_square(job: TinyJob, *, folder: str) -> int:
    """``job.value ** 2``; ``tiny 3`` takes hours (its worker's pid is left in ``folder``)."""
    if job.value == 3:
        _attempt(folder, job)
        time.sleep(3600)
    return job.value**2


def test_stopping_early_keeps_what_finished_and_ends_the_workers(tmp_path):
    # What the runner does on Ctrl-C: it closes the executor's generator.
    results = _pool(functools.partial(sleepy_square, folder=str(tmp_path)), order=[1, 0, 2])
    finished = [next(results), next(results)]
    assert sorted(finished) == [(0, 4), (2, 25)]
    log = tmp_path / "3.attempts"
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text().endswith("\n")) and time.monotonic() < deadline:
        time.sleep(0.02)  # its worker may have started after the other one
    [pid] = _attempts(tmp_path, 3)
    results.close()
    with pytest.raises(ProcessLookupError):  # the long job's worker is gone (and reaped)
        os.kill(pid, 0)
