"""Where a suite's jobs run: one after the other here, over worker processes, or on Ray.

A job is a spec with a ``label`` (:mod:`lucidgym.benchmarks.specs`); a worker is a
picklable function of one job. Every job seeds itself, so where it runs never changes
its numbers. An executor hands the jobs out in a given order (the runner's: longest
first, :func:`longest_first`), at most ``slots`` at a time, and yields ``(index, result)``
as each finishes, ``index`` into ``work``; the caller puts results back in the suite's
order. ``on_start(label)`` is called as each job is handed out (a progress display).
Over worker processes as on Ray, a job whose worker dies is run once more, and a job's
own exception is raised as it is, never retried.
"""

from __future__ import annotations

import signal
import traceback
from collections.abc import Callable, Generator, Iterable
from typing import Any

from lucidgym.benchmarks.specs import RunSpec, WorldModelSpec

EXECUTORS = ("local", "ray")
"""``local``: this process, or a pool of worker processes (``jobs > 1``); ``ray``: a Ray
cluster, each job one task."""

RAY_HINT = 'pip install "lucidgym[ray]"'
"""What to run where the Ray executor is asked for without Ray installed."""

Finished = tuple[int, Any]
"""``(index of the job in work, its result)``."""


class ExecutorError(RuntimeError):
    """A job the executor could not run.

    Its worker died (a crash, the out-of-memory killer, a lost node) on its retry too,
    or could not load the job.
    """


TRAIN_STEP_S = 1e-3
"""Estimated seconds of one real env step of training (with its share of updates)."""

DYNA_STEP_S = 25e-3
"""The same for ``dyna`` at its default of one training round every 2 vector steps
(25 times a PPO step: its 20k-step runs took 510 s in the recorded full suite)."""

EPISODE_S = {"learned model": 5.0, "oracle": 1.0, "belief": 2.0, "none": 0.01}
"""Estimated seconds of one evaluation episode: a planner inside a learned model, a
planner over the true simulator (from the true state, or from a particle filter's
belief), an agent without a model."""

GRADIENT_STEP_S = {"rssm": 0.1, "other": 0.01}
"""Estimated seconds of one gradient step of a world-model evaluation: an ``rssm``
(sequential filtering, pixels in the suites: 134 ms a step for the quick suite's
MovingDot model) and any other backend (7 ms for the quick suite's Tutoring ``mlp``)."""


def estimated_seconds(job: RunSpec | WorldModelSpec) -> float:
    """A rough length of ``job`` from its spec alone, to hand the longest out first.

    A run: ``budget`` training steps at :data:`TRAIN_STEP_S` each (:data:`DYNA_STEP_S`
    for ``dyna``, scaled by its ``train_every``), plus ``episodes`` evaluation episodes
    at the :data:`EPISODE_S` of its model's kind (planning inside a learned model costs
    far more per decision than a policy). A world-model evaluation: its gradient steps
    at the :data:`GRADIENT_STEP_S` of its backend. Only the order of the estimates is
    used, and a wrong guess costs time, never numbers.
    """
    if isinstance(job, WorldModelSpec):
        return job.train_steps * GRADIENT_STEP_S["rssm" if job.backend == "rssm" else "other"]
    kind = job.model if job.model in ("none", "oracle", "belief") else "learned model"
    step = TRAIN_STEP_S
    if job.agent == "dyna":
        step = DYNA_STEP_S * 2 / float(job.agent_config.get("train_every", 2))
    return job.budget * step + job.episodes * EPISODE_S[kind]


def longest_first(work: list[Any]) -> list[int]:
    """Indices of ``work``, the longest :func:`estimated_seconds` first (ties: in order)."""
    return sorted(range(len(work)), key=lambda i: -estimated_seconds(work[i]))


def in_order(
    worker: Callable[[Any], Any], work: list[Any], on_start: Callable[[str], None]
) -> Generator[Finished, None, None]:
    """Results of ``worker`` over ``work``, one after the other in this process."""
    for index, job in enumerate(work):
        on_start(job.label)
        yield index, worker(job)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches every process of the terminal's group; the parent alone handles it
    # (it saves what has finished and stops the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def in_processes(
    worker: Callable[[Any], Any],
    work: list[Any],
    on_start: Callable[[str], None],
    *,
    order: Iterable[int],
    slots: int,
) -> Generator[Finished, None, None]:
    """Results of ``worker`` over ``work`` in ``slots`` worker processes, as they finish.

    Each worker process runs one job at a time and stays for the next. A job whose
    worker dies (a crash, a segfault, the out-of-memory killer) is run once more on
    another worker, as on Ray; an exception a job raises is not retried, and is raised
    here (its traceback in the worker as its ``__cause__``). Stopped early (Ctrl-C, a
    failed job), the workers are stopped with it.

    Raises:
        ExecutorError: a job's worker died on its retry too.
    """
    import multiprocessing
    from multiprocessing.connection import wait as ready

    # Not multiprocessing.Pool: it replaces a dead worker but never hands back its job,
    # and concurrent.futures breaks the whole pool, and says not which job killed it.
    # Here each worker has its own pipe, so a dead one's job is known.
    context = multiprocessing.get_context("spawn")  # no forked torch or numba state
    workers: list[_Worker] = []
    attempts: dict[int, int] = {}

    def submit(index: int) -> None:
        for dead in [w for w in workers if w.job is None and not w.process.is_alive()]:
            workers.remove(dead)
            dead.stop(gently=False)
        idle = next((w for w in workers if w.job is None), None)
        if idle is None:
            idle = _Worker(context, worker)
            workers.append(idle)
        attempts[index] = attempts.get(index, 0) + 1
        idle.run(index, work[index])

    def wait() -> Finished:
        while True:
            busy = [w for w in workers if w.job is not None]
            ready([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for slot in busy:
                done = slot.receive()
                if done is not None:
                    return done
                if slot.process.is_alive():
                    continue
                index, reason = slot.job, slot.death()
                assert index is not None
                workers.remove(slot)
                slot.stop(gently=False)
                if attempts[index] >= 2:
                    label = work[index].label
                    raise ExecutorError(f"{label}: its worker died twice ({reason})")
                submit(index)

    gently = False
    try:
        yield from _bounded(submit, wait, work, on_start, order, slots)
        gently = True
    finally:
        for slot in workers:
            slot.stop(gently=gently)


class _RemoteTraceback(Exception):
    """The traceback of an error as it was raised in a worker process."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0]).rstrip()


class _Worker:
    """One worker process of :func:`in_processes`, its pipe, and the job it runs."""

    def __init__(self, context: Any, worker: Callable[[Any], Any]) -> None:
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(worker, theirs), daemon=True)
        self.process.start()
        theirs.close()  # the worker's end lives in the worker alone: its death reads as EOF
        self.job: int | None = None  # the index of the job it runs; None while idle

    def run(self, index: int, job: Any) -> None:
        """Hand the worker job ``index``."""
        self.job = index
        try:
            self.conn.send((index, job))
        except OSError:
            pass  # it has just died: its sentinel tells, and the job is retried

    def receive(self) -> Finished | None:
        """The finished job's ``(index, result)``, or ``None`` while it runs or if it died.

        Raises:
            Exception: the job's own error, as it was raised in the worker.
        """
        if not self.conn.poll():
            return None
        try:
            index, ok, payload = self.conn.recv()
        except (EOFError, ConnectionResetError):
            self.process.join(5)  # the pipe closed: it is dying; let it be reaped
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
            return None
        self.job = None
        if not ok:
            error, trace = payload
            raise error from _RemoteTraceback(trace)
        return index, payload

    def death(self) -> str:
        """How the (dead) worker ended: ``exit code N`` or ``killed by SIGNAME``."""
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def stop(self, *, gently: bool) -> None:
        """End the worker: ``gently`` once it is idle, else at once."""
        if gently and self.process.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.conn.close()


def _serve(worker: Callable[[Any], Any], conn: Any) -> None:
    """What a worker process of :func:`in_processes` runs: job after job until told."""
    _ignore_interrupts()
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        index, job = task
        try:
            reply = (index, True, worker(job))
        except Exception as error:
            reply = (index, False, (error, traceback.format_exc()))
        try:
            conn.send(reply)
        except Exception as error:  # a result or an error that does not pickle
            failure = ExecutorError(f"{job.label}: its result could not be sent back ({error})")
            conn.send((index, False, (failure, traceback.format_exc())))


def on_ray(
    worker: Callable[[Any], Any],
    work: list[Any],
    on_start: Callable[[str], None],
    *,
    order: Iterable[int],
    slots: int | None = None,
    cpus: int = 1,
    gpus: int = 0,
    address: str | None = None,
) -> Generator[Finished, None, None]:
    """Results of ``worker`` over ``work`` as Ray tasks, as they finish.

    Args:
        worker: the function of one job; it and the jobs travel to the cluster pickled.
        work: the jobs.
        on_start: called with each job's label as it is submitted.
        order: the order the jobs are submitted in.
        slots: tasks running at a time (default: the cluster's CPUs over ``cpus``, or
            its GPUs over ``gpus``, whichever is fewer).
        cpus: CPUs each task asks for (its torch threads).
        gpus: GPUs each task asks for.
        address: the cluster to join (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); default
            the one already joined in this process, else ``RAY_ADDRESS``, else a new local
            instance, shut down again at the end.

    A task whose worker dies is retried once (Ray's ``max_retries=1``); an exception a
    job raises is not retried, and is raised here as it was raised there.

    Raises:
        ValueError: Ray is not installed.
        ExecutorError: a job's worker died on its retry too, or could not load the job.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address)
    running: dict[Any, int] = {}
    try:
        if slots is None:
            slots = _cluster_slots(ray.cluster_resources(), cpus, gpus)
        task = ray.remote(_apply).options(num_cpus=cpus, num_gpus=gpus, max_retries=1)
        shared = ray.put(worker)

        def submit(index: int) -> None:
            running[task.remote(shared, work[index])] = index

        def wait() -> Finished:
            [ref], _ = ray.wait(list(running), num_returns=1)
            index = running.pop(ref)
            return index, _ray_result(ray, ref, work[index].label)

        yield from _bounded(submit, wait, work, on_start, order, slots)
    finally:
        for ref in running:  # stopped early (Ctrl-C, a failed job): stop the rest
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _ray_result(ray: Any, ref: Any, label: str) -> Any:
    """The result of the finished task ``ref``, or what went wrong, as raised locally."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        if isinstance(cause, ray.exceptions.RaySystemError):
            raise ExecutorError(
                f"{label}: a Ray worker could not load it ({_first_line(cause)}); "
                "every node needs this lucidgym installed"
            ) from err
        if isinstance(cause, Exception):
            raise cause from err  # the job's own error (a bad option, a bug)
        raise
    except ray.exceptions.RayError as err:  # the worker died, and died again on its retry
        reason = f"{type(err).__name__}: {_first_line(err)}"
        raise ExecutorError(f"{label}: its worker died twice ({reason})") from err


def import_ray() -> Any:
    """The ``ray`` module, or a ``ValueError`` naming the extra that installs it."""
    try:
        import ray
    except ImportError as err:
        raise ValueError(f"the ray executor needs Ray: {RAY_HINT}") from err
    return ray


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def _apply(worker: Callable[[Any], Any], job: Any) -> Any:
    """What one Ray task runs."""
    return worker(job)


def _cluster_slots(resources: dict[str, float], cpus: int, gpus: int) -> int:
    """Tasks of ``cpus`` CPUs and ``gpus`` GPUs that fit in the cluster's ``resources``."""
    fits = int(resources.get("CPU", 0) // max(cpus, 1))
    if gpus:
        fits = min(fits, int(resources.get("GPU", 0) // gpus))
    return max(1, fits)


def _bounded(
    submit: Callable[[int], None],
    wait: Callable[[], Finished],
    work: list[Any],
    on_start: Callable[[str], None],
    order: Iterable[int],
    slots: int,
) -> Generator[Finished, None, None]:
    """Keep ``slots`` jobs submitted, the next in ``order`` as each finishes."""
    pending = iter(order)
    in_flight = 0

    def start_next() -> int:
        index = next(pending, None)
        if index is None:
            return 0
        on_start(work[index].label)
        submit(index)
        return 1

    for _ in range(max(slots, 1)):
        in_flight += start_next()
    while in_flight:
        done = wait()
        # Hand out the next job before the caller writes results: no slot idles meanwhile.
        in_flight += start_next() - 1
        yield done
