"""Where a suite's jobs run: one after the other here, or over worker processes.

A job is a spec with a ``label`` (:mod:`lucidgym.benchmarks.specs`); a worker is a
picklable function of one job. Every job seeds itself, so where it runs never changes
its numbers, and results come back in the order of the jobs.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from typing import Any


def _ignore_interrupts() -> None:
    # Ctrl-C reaches every process of the terminal's group; the parent alone handles it
    # (it saves what has finished and stops the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def in_order(
    worker: Callable[[Any], Any], work: list[Any], on_start: Callable[[str], None]
) -> Iterator[Any]:
    """Results of ``worker`` over ``work``, one after the other in this process.

    ``on_start(label)`` is called as each job starts (a progress display).
    """
    for job in work:
        on_start(job.label)
        yield worker(job)


def in_processes(
    worker: Callable[[Any], Any],
    work: list[Any],
    processes: int,
    on_start: Callable[[str], None],
) -> Iterator[Any]:
    """Results of ``worker`` over ``work`` in ``processes`` worker processes, in order."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no forked torch or numba state
    pool = context.Pool(processes, initializer=_ignore_interrupts)
    try:
        results = pool.imap(worker, work)
        for job in work:
            on_start(job.label)
            yield next(results)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
