"""``lucidgym bench``: a suite of agents against the reactive baseline, tabled and plotted.

A named suite (``--suite``) or a custom set (``--env``/``--agent``); ``--set`` changes the
agents' config, of every agent or (``--set AGENT:key=value``) of one. ``--executor ray``
spreads the jobs over a Ray cluster; ``--shard I/N`` runs one shard of them, and
``lucidgym bench merge DIR... --out DIR`` puts the shards back together.
``--tensorboard DIR`` also logs each run as it finishes: ``eval/return/<env>/<agent>/<model>``
(its mean evaluation return) against its seed, and each world model's error against horizon.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import time
from pathlib import Path
from typing import Any

from lucidgym.cli.options import (
    CLIError,
    add_set_option,
    check_env,
    check_model,
    check_out_folder,
    check_positive,
    parse_set,
    print_table,
)

DEFAULT_CUSTOM_AGENTS = ("random", "reactive")
"""Agents of a custom set given ``--env`` but no ``--agent``."""

DEFAULT_CUSTOM_ENVS = ("Tutoring-v0",)
"""Envs of a custom set given ``--agent`` but no ``--env``."""


def add_parser(sub: Any) -> None:
    """Add ``lucidgym bench`` to the sub-command parsers ``sub``."""
    p = sub.add_parser(
        "bench",
        help="benchmark agents against the reactive baseline (default: the quick suite)",
        description="Train what needs training, evaluate every agent on every env over "
        "seeds, print a table and write results.json, summary.md and plots into --out.",
    )
    p.add_argument("--suite", default=None, help="quick (default), full, throughput or tiny")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="ID",
        help="env id for a custom set (repeatable; any registered Gymnasium id)",
    )
    p.add_argument("--agent", action="append", default=[], metavar="NAME",
                   help="agent for a custom set (repeatable)")  # fmt: skip
    p.add_argument("--model", default=None, help="model of the planners: oracle or a backend")
    add_set_option(
        p,
        "the agents' config (AGENT:KEY=VALUE: of that agent only)",
        "--set dream:horizon=12 --set mcts:num_simulations=128",
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds per agent")
    p.add_argument("--episodes", type=int, default=None, help="evaluation episodes per seed")
    p.add_argument("--budget", type=int, default=None, help="real env steps each learner trains")
    p.add_argument("--out", default=None, help="output folder (default runs/bench-<time>)")
    p.add_argument("--force", action="store_true", help="overwrite an --out holding results")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default 1, at most the machine's cores)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="jobs running at a time: worker processes (default: one per CPU core on cpu, "
        "1 on cuda) or, with --executor ray, Ray tasks (default: as many as the cluster's "
        "CPUs hold); the numbers do not depend on it",
    )
    p.add_argument(
        "--executor",
        default="local",
        help="local (default: this machine, --jobs processes) or ray (each run a Ray task; "
        'pip install "lucidgym[ray]"); either retries a run once if its worker dies',
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster to join (auto, HOST:PORT or ray://HOST:PORT; default "
        "RAY_ADDRESS, else a new local instance)",
    )
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="run only shard I of N (from 0: jobs I, I+N, I+2N, ... of the suite), e.g. "
        "--shard $SLURM_ARRAY_TASK_ID/4; bench merge joins the shards",
    )
    p.add_argument(
        "--tensorboard",
        default=None,
        metavar="DIR",
        help="also log each run to TensorBoard in DIR as it finishes: eval/return/ENV/AGENT/"
        "MODEL (mean evaluation return; step: the seed), eval/success_rate/... where the env "
        "reports success, world_model/nmae/ENV/MODEL (step: the horizon); event files are "
        "added to DIR, never replaced",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    p.set_defaults(func=run)
    # "bench merge DIR..." is a sub-command of bench; plain "bench" still runs a suite.
    merge = p.add_subparsers(dest="bench_command", metavar="{merge}").add_parser(
        "merge",
        help="merge the results of a suite's shards (--shard I/N) into one",
        description="Merge the --out folders of every shard of one suite into one "
        "results.json, summary.md and plots, in the suite's order. Refuses shards of "
        "different suites or lucidgym versions, a shard given twice or missing, and "
        "unfinished shards.",
    )
    merge.add_argument("folders", nargs="+", metavar="DIR", help="the --out folder of a shard")
    merge.add_argument("--out", required=True, help="folder of the merged results")
    merge.add_argument("--force", action="store_true", help="overwrite an --out holding results")
    merge.set_defaults(func=run_merge)


def _suite(args: argparse.Namespace) -> Any:
    from lucidgym.benchmarks.suites import SUITES, custom_suite, make_suite, with_overrides

    for name in ("--seeds", "--episodes", "--threads", "--jobs"):
        check_positive(name, getattr(args, name[2:]))
    if args.budget is not None and args.budget < 0:
        raise CLIError(f"--budget must be zero or positive, got {args.budget}")
    if args.model is not None:
        check_model(args.model)
    if args.env or args.agent:
        if args.suite is not None:
            raise CLIError("give either --suite or --env/--agent (a custom set), not both")
        envs = args.env or list(DEFAULT_CUSTOM_ENVS)
        for env_id in envs:
            check_env(env_id)
        from lucidgym.benchmarks.runner import check_agents, resolve_agent_maker

        agents = args.agent or list(DEFAULT_CUSTOM_AGENTS)
        check_agents(agents, resolve_agent_maker()[1])
        return custom_suite(
            envs,
            agents,
            model=args.model,
            seeds=args.seeds or 3,
            episodes=args.episodes or 10,
            budget=5000 if args.budget is None else args.budget,
        )
    name = args.suite or "quick"
    if name not in SUITES:
        raise CLIError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    if args.model is not None:
        raise CLIError("--model applies to a custom set (--env/--agent), not to a named suite")
    suite = make_suite(name)
    return with_overrides(suite, seeds=args.seeds, episodes=args.episodes, budget=args.budget)


def _with_agent_config(suite: Any, pairs: list[str]) -> Any:
    """``suite`` with the ``--set`` pairs in its runs' agent configs.

    The runner builds every agent once before anything trains, so an unknown key or a
    bad value is an error at once, not in the middle of the suite.
    """
    import dataclasses

    agents = sorted({run.agent for run in suite.runs})
    changes: dict[str | None, dict[str, Any]] = {}
    for pair in pairs:
        scope, key, value = parse_set(pair, scoped=True)
        if scope is not None and scope not in agents:
            raise CLIError(f"--set {pair!r}: no agent {scope!r} in the suite ({', '.join(agents)})")
        changes.setdefault(scope, {})[key] = value
    runs = []
    for run in suite.runs:
        change = {**changes.get(None, {}), **changes.get(run.agent, {})}
        runs.append(dataclasses.replace(run, agent_config={**run.agent_config, **change}))
    return dataclasses.replace(suite, runs=runs)


def _jobs(args: argparse.Namespace) -> int | None:
    """``--jobs``, or one per core on the CPU (each with ``--threads`` torch threads).

    On Ray the default (``None``) is the cluster's to work out.
    """
    if args.jobs is not None or args.executor == "ray":
        return args.jobs
    if args.device != "cpu":
        return 1
    import os

    return max(1, (os.cpu_count() or 1) // (args.threads or 1))


def _shard(text: str | None) -> Any:
    """The :class:`~lucidgym.benchmarks.merge.Shard` of ``--shard``, if given."""
    if text is None:
        return None
    from lucidgym.benchmarks.merge import Shard

    try:
        return Shard.parse(text)
    except ValueError as err:
        raise CLIError(f"--shard: {err}") from err


def run(args: argparse.Namespace) -> int:
    """Run a benchmark suite and write its results."""
    from lucidgym.world_models.trainer import resolve_device

    resolve_device(args.device)
    if args.ray_address is not None and args.executor != "ray":
        raise CLIError("--ray-address applies to --executor ray only")
    shard = _shard(args.shard)
    suite = _suite(args)
    if args.set:
        suite = _with_agent_config(suite, args.set)
    out = Path(args.out or f"runs/bench-{time.strftime('%Y%m%d-%H%M%S')}")
    check_out_folder(out, args.force, holds=_holds_results)
    if args.tensorboard is not None and Path(args.tensorboard).is_file():
        raise CLIError(f"--tensorboard {args.tensorboard!r} is a file, not a folder")
    from lucidgym.benchmarks.runner import run_suite
    from lucidgym.benchmarks.workers import ExecutorError

    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        on_record = None
        if args.tensorboard is not None:
            from lucidgym.tensorboard import TensorBoardLogger

            logger = stack.enter_context(TensorBoardLogger(args.tensorboard, flush_secs=0))
            on_record = functools.partial(log_record, logger)
        try:
            results = run_suite(
                suite, out, device=args.device, threads=args.threads,
                argv=["lucidgym", *sys.argv[1:]], progress=not args.no_progress,
                jobs=_jobs(args), executor=args.executor, ray_address=args.ray_address,
                shard=shard, on_record=on_record,
            )  # fmt: skip
        except ExecutorError as err:
            raise CLIError(f"{err}; the runs that finished are in {out}/results.json") from err
    _report(results, out, start)
    return 0


def log_record(logger: Any, record: Any) -> None:
    """Log a finished job's record: a run's mean return at its seed, a world model's errors.

    Args:
        logger: a :class:`~lucidgym.agents.protocol.ScalarLogger`.
        record: a :class:`~lucidgym.benchmarks.results.RunRecord`, or a world model's
            :class:`~lucidgym.benchmarks.results.WorldModelRecord` rows.
    """
    if isinstance(record, list):
        for row in record:
            name = f"{row.env}/{row.model}"
            scalars = {
                f"world_model/nmae/{name}": row.nmae,
                f"world_model/persistence_nmae/{name}": row.persistence_nmae,
            }
            logger.log(scalars, row.horizon)
        return
    if not record.episode_returns:
        return
    name = f"{record.env}/{record.agent}/{record.model}"
    scalars = {f"eval/return/{name}": sum(record.episode_returns) / len(record.episode_returns)}
    if record.success_rate is not None:
        scalars[f"eval/success_rate/{name}"] = record.success_rate
    logger.log(scalars, record.seed)


def run_merge(args: argparse.Namespace) -> int:
    """Merge the results of a suite's shards into one results folder."""
    out = Path(args.out)
    folders = [Path(folder) for folder in args.folders]
    if any(out.resolve() == folder.resolve() for folder in folders):
        raise CLIError(f"--out {out} is one of the folders merged; give a new folder")
    check_out_folder(out, args.force, holds=_holds_results)
    from lucidgym.benchmarks.merge import merge_shards

    start = time.perf_counter()
    results = merge_shards(folders)
    results.write(out)
    _report(results, out, start)
    return 0


def _report(results: Any, out: Path, start: float) -> None:
    """Plot ``results`` into ``out`` and print their tables and where they went."""
    import json

    from lucidgym.benchmarks.plots import write_plots
    from lucidgym.benchmarks.results import summary_table

    payload = results.to_json()
    curves = json.loads((out / "learning_curves.json").read_text())
    write_plots(payload, curves, out)
    if payload["summary"]:
        print_table(summary_table(payload["summary"]))
    for row in results.throughput:
        print(_throughput_line(row))
    print(f"wrote {out}/results.json, summary.md and plots in {time.perf_counter() - start:.1f} s")


def _throughput_line(row: dict[str, Any]) -> str:
    if "ratio" in row:  # an env against its CartPole reference
        detail = f"  x{row['ratio']:.2f} vs {row['reference']}"
    else:  # a planner
        detail = f"  model {row.get('model', '?')}"
    if "batching_speedup" in row:
        detail += (
            f", {row['simulations_per_s']:.0f} simulations/s, batched leaves "
            f"x{row['batching_speedup']:.1f} vs one call per simulation"
        )
    speed = row.get("steps_per_s", row.get("decisions_per_s", float("nan")))
    return f"{row['kind']:8} {row['env']:22} {row['name']:8} {speed:14.1f}/s{detail}"


def _holds_results(folder: Path) -> str | None:
    """What of a benchmark's is in ``folder`` that ``--force`` would overwrite, if anything.

    A results file without a single finished run (a suite that stopped before its
    first run) is not worth keeping, so it does not block a rerun.
    """
    import json

    path = folder / "results.json"
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text())
        finished = sum(
            len(payload.get(key) or []) for key in ("runs", "world_models", "throughput")
        )
    except (ValueError, AttributeError):
        return "results.json (unreadable)"
    return f"results.json with {finished} finished runs" if finished else None
