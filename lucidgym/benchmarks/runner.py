"""Run a suite: build env and agent, train learners on a fixed budget, evaluate, record.

Each (env, agent, model, seed) is one run (:class:`~lucidgym.benchmarks.specs.RunSpec`).
A :class:`~lucidgym.agents.protocol.Learner` first trains for ``budget`` real env steps
(the same budget for every learner of a suite; the steps it really took are recorded as
``env_steps``); then every agent plays ``episodes`` evaluation episodes on fresh seeds
that no training episode used. The same seed gives the same evaluation episodes to every
agent, so agents are compared on equal footing.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
import warnings
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lucidgym.agents.experience import SuccessCount
from lucidgym.agents.protocol import Agent, Learner, Transition, settings_of
from lucidgym.benchmarks.merge import Shard, ShardedResults, shard_record
from lucidgym.benchmarks.results import BenchResults, RunRecord, WorldModelRecord, machine_info
from lucidgym.benchmarks.specs import (
    RunSpec,
    WorldModelSpec,
    derived_seed,
    eval_seeds,
    seed_everything,
)
from lucidgym.benchmarks.workers import (
    EXECUTORS,
    import_ray,
    in_order,
    in_processes,
    longest_first,
    on_ray,
)
from lucidgym.benchmarks.world_models import run_world_model
from lucidgym.progress import ProgressBar

AgentMaker = Callable[..., Agent]
"""``make_agent(name, env, **config) -> Agent``."""


def resolve_agent_maker() -> tuple[AgentMaker, list[str]]:
    """``make_agent`` and the agent names of :mod:`lucidgym.agents.registry`."""
    try:
        from lucidgym.agents.registry import agent_names, make_agent
    except ImportError as err:
        raise ValueError(f"no agents are available: {err}") from err
    return make_agent, list(agent_names())


def check_agents(names: list[str], available: list[str]) -> None:
    """Raise ``ValueError`` naming every agent in ``names`` that is not available."""
    missing = sorted({n for n in names if n not in available and not n.startswith("sb3:")})
    if missing:
        raise ValueError(
            f"unknown or unavailable agent(s) {', '.join(missing)}; "
            f"available: {', '.join(sorted(available))}, sb3:<ALGO>"
        )


def check_buildable(runs: list[RunSpec], make_agent: AgentMaker) -> None:
    """Build every distinct agent of ``runs`` once, on the CPU, before anything trains.

    A bad name, option or missing extra then stops the suite at once, before the first
    run and before any results file is written, not in the middle of it.

    Raises:
        ValueError: naming the agent, its env and model, and the problem.
    """
    seen = set()
    with older_versions_quiet():
        for spec in runs:
            key = repr((spec.env, spec.env_kwargs, spec.agent, spec.model, spec.agent_config))
            if key in seen:
                continue
            seen.add(key)
            env = gym.make(spec.env, **spec.env_kwargs)
            try:
                build_agent(make_agent, spec, env, "cpu")
            except (TypeError, ValueError) as err:
                model = "" if spec.model == "none" else f" (model {spec.model})"
                raise ValueError(f"agent {spec.agent_label} on {spec.env}{model}: {err}") from err
            finally:
                env.close()


def build_agent(
    make_agent: AgentMaker, spec: RunSpec, env: gym.Env[Any, Any], device: str
) -> Agent:
    """``make_agent`` for ``spec`` (its model and config) on ``env``.

    With a ``device`` other than ``"cpu"`` the agent is asked for it; an agent without
    a ``device`` option (one whose networks are small or absent) is built on the CPU.
    """
    kwargs = dict(spec.agent_config)
    if spec.model != "none":
        kwargs["model"] = spec.model
    if device != "cpu":
        try:
            return make_agent(spec.agent, env, **kwargs, device=device)
        except (TypeError, ValueError) as err:
            if "device" not in str(err):
                raise
    return make_agent(spec.agent, env, **kwargs)


def evaluate(
    agent: Agent,
    env: gym.Env[Any, Any],
    episodes: int,
    seeds: list[int],
    options: dict[str, Any] | None = None,
) -> tuple[list[float], float | None]:
    """Play ``episodes`` episodes, episode ``i`` reset with ``seeds[i]``.

    Returns:
        The episode returns and the success rate (``None`` where the env never reports
        ``info["success"]``). Where the env reports ``info["graded"]`` the rate is the
        fraction of graded steps that succeeded; otherwise the fraction of episodes with
        a successful step.
    """
    returns: list[float] = []
    success = SuccessCount(1)
    live = np.ones(1, dtype=bool)
    for episode in range(episodes):
        obs, info = env.reset(seed=seeds[episode], options=options or None)
        # The agent's seed is derived, never equal to the env's: an agent drawing from a
        # generator seeded like the env's would replay the env's own draws.
        agent.reset(seed=derived_seed(seeds[episode]))
        total, done = 0.0, False
        while not done:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, info = env.step(action)
            agent.observe(
                Transition(obs, action, float(reward), next_obs, terminated, truncated, info)
            )
            total += float(reward)
            obs, done = next_obs, bool(terminated or truncated)
            success.step(live, _info_flag(info, "success"), _info_flag(info, "graded"))
        returns.append(total)
        success.finish(0)
    return returns, success.rate


def _info_flag(info: dict[str, Any], key: str) -> np.ndarray | None:
    return np.array([float(bool(info[key]))]) if key in info else None


def run_one(spec: RunSpec, make_agent: AgentMaker, device: str = "cpu") -> RunRecord:
    """Build, train (learners, for ``spec.budget`` real steps) and evaluate one run."""
    start = time.perf_counter()
    seed_everything(spec.seed)
    env = gym.make(spec.env, **spec.env_kwargs)
    try:
        # An oracle planner plans over this very env's state, so the agent is built on
        # the env it is evaluated on; learners train on it too (evaluation seeds differ).
        agent = build_agent(make_agent, spec, env, device)
        settings = settings_of(agent)
        curves: dict[str, list[float]] = {}
        env_steps, train_s = 0, 0.0
        if spec.budget > 0 and hasattr(agent, "learn") and not isinstance(agent, Learner):
            missing = [a for a in ("trained_env_steps", "save") if not hasattr(agent, a)]
            raise ValueError(
                f"{spec.agent}: has learn() but not the rest of the Learner protocol "
                f"(missing {', '.join(missing)}); it cannot be trained on a budget"
            )
        if spec.budget > 0 and isinstance(agent, Learner):
            learning = time.perf_counter()
            curves = {k: [float(v) for v in vs] for k, vs in agent.learn(
                env, spec.budget, seed=spec.seed).items()}  # fmt: skip
            train_s = time.perf_counter() - learning
            # A learner that steps in blocks reports how far past the budget it went.
            env_steps = int(agent.trained_env_steps)
        seeds = eval_seeds(spec.seed, spec.episodes)
        returns, success = evaluate(agent, env, spec.episodes, seeds, spec.eval_options)
    finally:
        env.close()
    return RunRecord(
        env=spec.env_label,
        agent=spec.agent_label,
        model=spec.model,
        seed=spec.seed,
        episode_returns=returns,
        env_steps=env_steps,
        wall_s=time.perf_counter() - start,
        train_s=train_s,
        success_rate=success,
        config=settings,
        curves=curves,
    )


def run_suite(
    suite: Any,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    threads: int | None = None,
    argv: list[str] | None = None,
    progress: bool = True,
    make_agent: AgentMaker | None = None,
    jobs: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    shard: Shard | None = None,
    on_record: Callable[[RunRecord | list[WorldModelRecord]], None] | None = None,
) -> BenchResults:
    """Run every world-model evaluation and run of ``suite``, writing results after each.

    Where more than one job runs at a time, the jobs are handed out longest first
    (:func:`~lucidgym.benchmarks.workers.longest_first`) and written as each finishes;
    the results always keep the suite's order. Every job seeds itself, so the numbers
    are those of ``jobs=1`` whatever the executor, the jobs or the shards.

    Args:
        suite: a :class:`~lucidgym.benchmarks.suites.Suite`.
        out_dir: folder of ``results.json``, ``summary.md`` and ``learning_curves.json``.
        device: ``"cpu"`` or ``"cuda"`` for the agents' and models' networks.
        threads: ``torch.set_num_threads`` (default 1: the suites' networks are small,
            and one thread runs them faster than several that contend for busy cores).
        argv: the command line to record (default ``sys.argv``).
        progress: show a progress display of what runs and how long is left.
        make_agent: the agent factory (default :func:`lucidgym.agents.registry.make_agent`);
            with ``jobs > 1`` or on Ray it must be picklable (a module-level function), as
            workers are other processes.
        jobs: jobs running at a time, each with ``threads`` torch threads: with the
            ``local`` executor worker processes (default 1: here, one after the other);
            with ``ray`` tasks (default: as many as the cluster's CPUs hold). The
            throughput section always runs alone in this process, so that nothing
            contends with its timings.
        executor: ``"local"`` or ``"ray"`` (each job one Ray task; needs the ``ray``
            extra). On either, a job whose worker dies is retried once.
        ray_address: the Ray cluster to join (``ray`` only; default ``RAY_ADDRESS``, else
            a new local instance).
        shard: run only this shard of the suite's jobs (:mod:`lucidgym.benchmarks.merge`);
            the results say which shard they hold.
        on_record: called in this process with each job's record as it finishes (a
            run's :class:`RunRecord`, a world model's rows), after it is written.

    Returns:
        The results; a ``KeyboardInterrupt`` propagates after the finished runs are saved
        (outstanding jobs are stopped).
    """
    import contextlib
    import os

    from lucidgym.benchmarks.throughput import check_throughput, run_throughput

    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; valid: {', '.join(EXECUTORS)}")
    if executor == "ray":
        import_ray()
    elif ray_address is not None:
        raise ValueError("a Ray address applies to the ray executor only")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be positive, got {jobs}")
    threads = min(threads or 1, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    work: list[WorldModelSpec | RunSpec] = [*suite.world_models, *suite.runs]
    if shard is not None:
        work = shard.select(work)
    runs = [job for job in work if isinstance(job, RunSpec)]
    if make_agent is None and runs:
        make_agent, available = resolve_agent_maker()
        check_agents([spec.agent for spec in runs], available)
    if make_agent is not None:
        check_buildable(runs, make_agent)
    throughput = suite.throughput if shard is None or shard.index == 0 else None
    if throughput is not None:
        check_throughput(throughput)
    results = BenchResults(suite.name, machine_info(argv))
    if shard is not None:  # the same, saying which shard of the whole suite it holds
        sharding = shard_record(shard, suite.world_models, suite.runs)
        results = ShardedResults(suite.name, results.machine, shard=sharding)
    results.write(out_dir)
    total = len(work) + (throughput is not None)
    finished: dict[int, RunRecord | list[WorldModelRecord]] = {}
    with ProgressBar("bench", total, enabled=progress) as bar:

        def on_start(label: str) -> None:
            bar.update(len(finished), description=label)

        done = _finished_jobs(
            work, on_start, executor=executor, jobs=jobs, device=device, threads=threads,
            make_agent=make_agent, ray_address=ray_address,
        )  # fmt: skip
        with contextlib.closing(done):
            for index, record in done:
                finished[index] = record
                ordered = [finished[i] for i in sorted(finished)]
                results.runs = [r for r in ordered if isinstance(r, RunRecord)]
                results.world_models = [row for r in ordered if isinstance(r, list) for row in r]
                results.write(out_dir)
                if on_record is not None:
                    on_record(record)
                bar.update(len(finished))
        if throughput is not None:
            on_start("throughput")
            results.throughput.extend(run_throughput(throughput))
            results.write(out_dir)
        bar.update(total)
    return results


def _finished_jobs(
    work: list[WorldModelSpec | RunSpec],
    on_start: Callable[[str], None],
    *,
    executor: str,
    jobs: int | None,
    device: str,
    threads: int,
    make_agent: AgentMaker | None,
    ray_address: str | None,
) -> Generator[tuple[int, RunRecord | list[WorldModelRecord]], None, None]:
    """``(index in work, record)`` of each job as it finishes, from the executor asked for."""
    worker = functools.partial(_run_job, device=device, threads=threads, make_agent=make_agent)
    if executor == "ray" and work:
        return on_ray(
            worker, work, on_start, order=longest_first(work), slots=jobs, cpus=threads,
            gpus=0 if device == "cpu" else 1, address=ray_address,
        )  # fmt: skip
    if jobs is not None and jobs > 1 and len(work) > 1:
        slots = min(jobs, len(work))
        return in_processes(worker, work, on_start, order=longest_first(work), slots=slots)
    serial = functools.partial(_run_job, device=device, make_agent=make_agent)
    return in_order(serial, work, on_start)


def _run_job(
    job: WorldModelSpec | RunSpec,
    *,
    device: str,
    make_agent: AgentMaker | None,
    threads: int | None = None,
) -> RunRecord | list[WorldModelRecord]:
    """One world-model evaluation or run (in this process or a worker's)."""
    if threads is not None:
        torch.set_num_threads(threads)
    with older_versions_quiet():
        if isinstance(job, WorldModelSpec):
            return run_world_model(job, device)
        assert make_agent is not None, "runs need an agent factory"
        return run_one(job, make_agent, device)


@contextlib.contextmanager
def older_versions_quiet() -> Generator[None, None, None]:
    """Without Gymnasium's warning that a lucidgym env has a newer version, inside.

    A suite makes an older version on purpose (Tutoring-v0's row group, kept to
    reproduce published figures); Gymnasium would say so at every ``gym.make`` of every
    run. Other envs' warnings pass.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=_older_version_warning(), category=DeprecationWarning
        )
        yield


@functools.cache
def _older_version_warning() -> str:
    """The pattern of Gymnasium's out-of-date warning for lucidgym's ids (built once)."""
    from lucidgym.envs.registration import env_ids

    ids = "|".join(re.escape(env_id) for env_id in env_ids())
    return rf".*The environment (lucidgym/)?({ids}) is out of date"
