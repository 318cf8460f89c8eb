"""Run a suite: build env and agent, train learners on a fixed budget, evaluate, record.

Each (env, agent, model, seed) is one run. A :class:`~lucidgym.agents.protocol.Learner`
first trains for exactly ``budget`` real environment steps (the same budget for every
learner of a suite, recorded as ``env_steps``); then every agent plays ``episodes``
evaluation episodes on fresh seeds that no training episode used. The same seed gives
the same evaluation episodes to every agent, so agents are compared on equal footing.
"""

from __future__ import annotations

import functools
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lucidgym.agents.protocol import Agent, Learner, Transition
from lucidgym.benchmarks.results import BenchResults, RunRecord, WorldModelRecord, machine_info

PLANNERS = ("greedy", "dream", "mcts", "beam")
"""Agents that plan through a model: ``model="oracle"`` or a world-model backend name."""

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episode ``i`` of seed ``s`` resets with ``EVAL_SEED_OFFSET + 1000 * s + i``."""

AgentMaker = Callable[..., Agent]


@dataclass(frozen=True)
class RunSpec:
    """One run: an agent with a model on an env, at one seed."""

    env: str
    """Gymnasium id."""
    agent: str
    """Agent name for ``make_agent``."""
    model: str = "none"
    """``"oracle"``, a world-model backend name, or ``"none"`` for agents without one."""
    seed: int = 0
    """Seed of the agent, its training and its evaluation episodes."""
    episodes: int = 10
    """Evaluation episodes."""
    budget: int = 0
    """Real env steps a learner trains for before evaluation (ignored by non-learners)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gym.make`` (e.g. the training population)."""
    eval_options: dict[str, Any] = field(default_factory=dict)
    """``reset(options=...)`` of evaluation episodes (e.g. another population)."""
    agent_config: dict[str, Any] = field(default_factory=dict)
    """Further keyword arguments of ``make_agent``."""
    variant: str = ""
    """A name for a non-default ``agent_config`` that results should keep apart (for
    example ``"no world-model head"``); empty for the agent's usual configuration."""

    @property
    def env_label(self) -> str:
        """The env as results name it: the id, plus evaluation options where there are any."""
        if not self.eval_options:
            return self.env
        options = ",".join(f"{k}={v}" for k, v in sorted(self.eval_options.items()))
        return f"{self.env}[{options}]"

    @property
    def agent_label(self) -> str:
        """The agent as results name it: the name, plus the variant where there is one."""
        return f"{self.agent}[{self.variant}]" if self.variant else self.agent

    @property
    def label(self) -> str:
        """A one-line description for progress displays."""
        model = "" if self.model == "none" else f"/{self.model}"
        return f"{self.env_label} {self.agent_label}{model} seed {self.seed}"


@dataclass(frozen=True)
class WorldModelSpec:
    """A backend trained on random-policy episodes, then scored open-loop on fresh ones."""

    env: str
    """Gymnasium id."""
    backend: str
    """World-model backend name for ``make_world_model``."""
    train_episodes: int = 50
    """Random-policy episodes the model trains on."""
    train_steps: int = 1000
    """Gradient steps."""
    eval_episodes: int = 10
    """Held-out episodes the errors are measured on."""
    horizon: int = 10
    """Errors are recorded at every horizon ``1..horizon``."""
    eval_windows: int = 512
    """Rollout windows (random starts in the held-out episodes) the errors average over."""
    seed: int = 0
    """Seed of data collection, training and evaluation."""
    config: dict[str, Any] = field(default_factory=dict)
    """Backend config overrides."""

    @property
    def label(self) -> str:
        """A one-line description for progress displays."""
        return f"{self.env} world model {self.backend}"


def run_world_model(spec: WorldModelSpec, device: str = "cpu") -> list[WorldModelRecord]:
    """Train ``spec.backend`` on ``spec.env`` and record its error at horizons ``1..H``."""
    from lucidgym.world_models.collect import collect_to_buffer, make_collection_env
    from lucidgym.world_models.evaluation import collect_eval_data, evaluate_world_model
    from lucidgym.world_models.registry import make_world_model
    from lucidgym.world_models.trainer import Trainer, TrainerConfig

    _seed_everything(spec.seed)
    env = make_collection_env(spec.env, num_envs=8)
    buffer = collect_to_buffer(env, spec.train_episodes, "random", seed=spec.seed)
    env.close()
    model = make_world_model(
        spec.backend, buffer.observation_space, buffer.action_space, **spec.config
    )
    config = TrainerConfig(steps=spec.train_steps, device=device, progress=False, seed=spec.seed)
    Trainer(model, config).fit(buffer)
    model.to("cpu")
    data = collect_eval_data(spec.env, spec.eval_episodes, seed=EVAL_SEED_OFFSET + spec.seed)
    errors = evaluate_world_model(
        model, data, horizon=spec.horizon, max_windows=spec.eval_windows, seed=spec.seed
    )
    oracle = errors.oracle
    return [
        WorldModelRecord(
            env=spec.env,
            model=spec.backend,
            horizon=h + 1,
            nmae=float(errors.model[h]),
            persistence_nmae=float(errors.persistence[h]),
            oracle_nmae=None if oracle is None else float(oracle[h]),
        )
        for h in range(errors.horizon)
    ]


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


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def derived_seed(seed: int) -> int:
    """A seed for an agent acting in an episode reset with ``seed`` (never equal to it)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


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
    graded = successes = 0
    reports_success = False
    for episode in range(episodes):
        obs, info = env.reset(seed=seeds[episode], options=options or None)
        # The agent's seed is derived, never equal to the env's: an agent drawing from a
        # generator seeded like the env's would replay the env's own draws.
        agent.reset(seed=derived_seed(seeds[episode]))
        total, episode_success, done = 0.0, False, False
        while not done:
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, info = env.step(action)
            agent.observe(
                Transition(obs, action, float(reward), next_obs, terminated, truncated, info)
            )
            total += float(reward)
            obs, done = next_obs, bool(terminated or truncated)
            if "success" in info:
                reports_success = True
                if "graded" in info:
                    graded += int(bool(info["graded"]))
                    successes += int(bool(info["graded"]) and bool(info["success"]))
                else:
                    episode_success = episode_success or bool(info["success"])
        returns.append(total)
        if reports_success and "graded" not in info:
            graded += 1
            successes += int(episode_success)
    if not reports_success:
        return returns, None
    return returns, successes / graded if graded else 0.0


def run_one(spec: RunSpec, make_agent: AgentMaker, device: str = "cpu") -> RunRecord:
    """Build, train (learners, for ``spec.budget`` real steps) and evaluate one run."""
    start = time.perf_counter()
    _seed_everything(spec.seed)
    env = gym.make(spec.env, **spec.env_kwargs)
    try:
        # An oracle planner plans over this very env's state, so the agent is built on
        # the env it is evaluated on; learners train on it too (evaluation seeds differ).
        agent = build_agent(make_agent, spec, env, device)
        curves: dict[str, list[float]] = {}
        env_steps = 0
        if spec.budget > 0 and isinstance(agent, Learner):
            curves = {k: [float(v) for v in vs] for k, vs in agent.learn(
                env, spec.budget, seed=spec.seed).items()}  # fmt: skip
            # A learner that steps in blocks reports how far past the budget it went.
            env_steps = int(getattr(agent, "trained_env_steps", spec.budget))
        seeds = [EVAL_SEED_OFFSET + 1000 * spec.seed + i for i in range(spec.episodes)]
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
        success_rate=success,
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
    jobs: int = 1,
) -> BenchResults:
    """Run every world-model evaluation and run of ``suite``, writing results after each.

    Args:
        suite: a :class:`~lucidgym.benchmarks.suites.Suite`.
        out_dir: folder of ``results.json``, ``summary.md`` and ``learning_curves.json``.
        device: ``"cpu"`` or ``"cuda"`` for the agents' and models' networks.
        threads: ``torch.set_num_threads`` (default 1: the suites' networks are small,
            and one thread runs them faster than several that contend for busy cores).
        argv: the command line to record (default ``sys.argv``).
        progress: show a progress display of what runs and how long is left.
        make_agent: the agent factory (default :func:`lucidgym.agents.registry.make_agent`);
            with ``jobs > 1`` it must be picklable (a module-level function), as workers
            are fresh processes.
        jobs: worker processes the runs and world-model evaluations are spread over
            (each with ``threads`` torch threads). Every run seeds itself, so the numbers
            are those of ``jobs=1``; results keep the suite's order. The throughput
            section always runs alone in this process, so that nothing contends with
            its timings.

    Returns:
        The results; a ``KeyboardInterrupt`` propagates after the finished runs are saved.
    """
    import os

    from lucidgym.benchmarks.throughput import check_throughput, run_throughput

    if jobs < 1:
        raise ValueError(f"jobs must be positive, got {jobs}")
    threads = min(threads or 1, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    if make_agent is None and suite.runs:
        make_agent, available = resolve_agent_maker()
        check_agents([spec.agent for spec in suite.runs], available)
    if suite.throughput is not None:
        check_throughput(suite.throughput)
    results = BenchResults(suite=suite.name, machine=machine_info(argv))
    results.write(out_dir)
    work: list[WorldModelSpec | RunSpec] = [*suite.world_models, *suite.runs]
    total = len(work) + (suite.throughput is not None)
    with _Progress(progress, total) as advance:
        if jobs > 1 and len(work) > 1:
            worker = functools.partial(
                _run_job, device=device, threads=threads, make_agent=make_agent
            )
            done = _in_processes(worker, work, min(jobs, len(work)), advance)
        else:
            serial = functools.partial(_run_job, device=device, make_agent=make_agent)
            done = _in_order(serial, work, advance)
        for record in done:
            if isinstance(record, RunRecord):
                results.runs.append(record)
            else:
                results.world_models.extend(record)
            results.write(out_dir)
        if suite.throughput is not None:
            advance("throughput")
            results.throughput.extend(run_throughput(suite.throughput))
            results.write(out_dir)
        advance(None)
    return results


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
    if isinstance(job, WorldModelSpec):
        return run_world_model(job, device)
    assert make_agent is not None, "runs need an agent factory"
    return run_one(job, make_agent, device)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches every process of the terminal's group; the parent alone handles it
    # (it saves what has finished and stops the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_order(
    worker: Callable[[Any], Any], work: list[Any], advance: Callable[[str | None], None]
) -> Iterator[Any]:
    """Results of ``worker`` over ``work``, one after the other in this process."""
    for job in work:
        advance(job.label)
        yield worker(job)


def _in_processes(
    worker: Callable[[Any], Any],
    work: list[Any],
    processes: int,
    advance: Callable[[str | None], None],
) -> Iterator[Any]:
    """Results of ``worker`` over ``work`` in ``processes`` worker processes, in order."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no forked torch or numba state
    pool = context.Pool(processes, initializer=_ignore_interrupts)
    try:
        results = pool.imap(worker, work)
        for job in work:
            advance(job.label)
            yield next(results)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


class _Progress:
    """A rich progress bar over jobs (elapsed and estimated remaining time), or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._task: Any = None
        self._started = False

    def __enter__(self) -> Callable[[str | None], None]:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("bench", total=self.total)
        return self._advance

    def _advance(self, label: str | None) -> None:
        if self._bar is None:
            return
        if self._started:
            self._bar.advance(self._task)
        self._started = True
        if label is not None:
            self._bar.update(self._task, description=label)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
