"""``lucidgym bench``, ``lucidgym train agent``, ``lucidgym render`` and ``lucidgym data``.

Only the standard library and ``lucidgym.cli`` are imported here at import time; each
handler imports what it needs, so ``lucidgym --help`` stays fast. User errors raise
``CLIError``/``ValueError`` (one line, exit status 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from lucidgym.cli import check_positive

DEFAULT_CUSTOM_AGENTS = ("random", "reactive")
"""Agents of a custom set given ``--env`` but no ``--agent``."""

DEFAULT_CUSTOM_ENVS = ("Tutoring-v0",)
"""Envs of a custom set given ``--agent`` but no ``--env``."""


def _error(message: str) -> Exception:
    from lucidgym.cli import CLIError

    return CLIError(message)


def _check_env(env_id: str) -> None:
    import gymnasium as gym

    from lucidgym.envs.registration import env_ids

    if env_id not in gym.registry:
        raise _error(
            f"unknown env {env_id!r}; lucidgym envs: {', '.join(env_ids())} "
            "(any registered Gymnasium id works too, e.g. CartPole-v1)"
        )


def _check_model(model: str) -> None:
    from lucidgym.world_models.registry import WORLD_MODELS

    valid = ["oracle", "none", *sorted(WORLD_MODELS)]
    if model not in valid:
        raise _error(f"unknown model {model!r}; valid models: {', '.join(valid)}")


def _check_device(device: str) -> None:
    import torch

    if device not in ("cpu", "cuda"):
        raise _error(f"unknown device {device!r}; valid devices: cpu, cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise _error("--device cuda given but CUDA is not available on this machine")


# -- bench ---------------------------------------------------------------------------


def add_bench_parser(sub: Any) -> None:
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
        help="worker processes the runs are spread over (default: one per CPU core on cpu, "
        "1 on cuda; the numbers do not depend on it)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    p.set_defaults(func=cmd_bench)


def _bench_suite(args: argparse.Namespace) -> Any:
    from lucidgym.benchmarks.suites import SUITES, custom_suite, make_suite, with_overrides

    for name in ("--seeds", "--episodes", "--threads", "--jobs"):
        check_positive(name, getattr(args, name[2:]))
    if args.budget is not None and args.budget < 0:
        raise _error(f"--budget must be zero or positive, got {args.budget}")
    if args.model is not None:
        _check_model(args.model)
    if args.env or args.agent:
        if args.suite is not None:
            raise _error("give either --suite or --env/--agent (a custom set), not both")
        envs = args.env or list(DEFAULT_CUSTOM_ENVS)
        for env_id in envs:
            _check_env(env_id)
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
        raise _error(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    if args.model is not None:
        raise _error("--model applies to a custom set (--env/--agent), not to a named suite")
    suite = make_suite(name)
    return with_overrides(suite, seeds=args.seeds, episodes=args.episodes, budget=args.budget)


def _bench_jobs(args: argparse.Namespace) -> int:
    """``--jobs``, or one per core on the CPU (each with ``--threads`` torch threads)."""
    if args.jobs is not None:
        return int(args.jobs)
    if args.device != "cpu":
        return 1
    import os

    return max(1, (os.cpu_count() or 1) // (args.threads or 1))


def cmd_bench(args: argparse.Namespace) -> int:
    """Run a benchmark suite and write its results."""
    _check_device(args.device)
    suite = _bench_suite(args)
    out = Path(args.out or f"runs/bench-{time.strftime('%Y%m%d-%H%M%S')}")
    if (out / "results.json").exists() and not args.force:
        raise _error(f"{out} already holds results.json; pass --force to overwrite it")
    import json

    from lucidgym.benchmarks.plots import write_plots
    from lucidgym.benchmarks.results import summary_table
    from lucidgym.benchmarks.runner import run_suite

    start = time.perf_counter()
    results = run_suite(
        suite, out, device=args.device, threads=args.threads, argv=["lucidgym", *sys.argv[1:]],
        progress=not args.no_progress, jobs=_bench_jobs(args),
    )  # fmt: skip
    payload = results.to_json()
    curves = json.loads((out / "learning_curves.json").read_text())
    write_plots(payload, curves, out)
    if payload["summary"]:
        _print_table(summary_table(payload["summary"]))
    for row in results.throughput:
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
        print(f"{row['kind']:8} {row['env']:22} {row['name']:8} {speed:14.1f}/s{detail}")
    print(f"wrote {out}/results.json, summary.md and plots in {time.perf_counter() - start:.1f} s")
    return 0


def _print_table(table: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- train agent ---------------------------------------------------------------------


def add_train_agent_parser(train_sub: Any) -> None:
    """Add ``lucidgym train agent`` to the parsers of ``lucidgym train``."""
    p = train_sub.add_parser(
        "agent",
        help="train a learning agent on real env steps and save it",
        description="Train a Learner agent for --steps real env steps; writes "
        "model.safetensors, config.json, curves.json and TensorBoard logs into --out.",
    )
    p.add_argument("--env", required=True, metavar="ID", help="Gymnasium env id")
    p.add_argument("--agent", required=True, metavar="NAME", help="a learning agent")
    p.add_argument("--steps", type=int, default=10_000, help="real env steps (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of training")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=cmd_train_agent)


def cmd_train_agent(args: argparse.Namespace) -> int:
    """Train and save a learning agent."""
    check_positive("--steps", args.steps)
    _check_env(args.env)
    import gymnasium as gym
    import torch

    from lucidgym.agents.protocol import Learner
    from lucidgym.benchmarks.runner import check_agents, resolve_agent_maker
    from lucidgym.files import atomic_write_json

    make_agent, names = resolve_agent_maker()
    check_agents([args.agent], names)
    torch.manual_seed(args.seed)
    env = gym.make(args.env)
    agent = make_agent(args.agent, env)
    if not isinstance(agent, Learner):
        raise _error(
            f"agent {args.agent!r} does not learn (it has no learn/save); nothing to train"
        )
    start = time.perf_counter()
    curves = agent.learn(env, args.steps, seed=args.seed)
    env.close()
    out = Path(args.out)
    agent.save(out)
    atomic_write_json(out / "curves.json", {k: [float(v) for v in vs] for k, vs in curves.items()})
    _log_curves(out / "tensorboard", curves)
    returns = curves.get("episode_return", [])
    tail = f", last episode return {returns[-1]:.3f}" if returns else ""
    print(f"trained {args.agent} on {args.env} for {args.steps} steps in "
          f"{time.perf_counter() - start:.1f} s{tail}; saved to {out}")  # fmt: skip
    return 0


def _log_curves(log_dir: Path, curves: dict[str, list[float]]) -> None:
    """TensorBoard scalars ``charts/<name>`` against the env steps of each point."""
    steps = curves.get("env_steps", [])
    if not steps:
        return
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir))
    for name, values in curves.items():
        if name != "env_steps" and len(values) == len(steps):
            for step, value in zip(steps, values, strict=True):
                writer.add_scalar(f"charts/{name}", float(value), int(step))
    writer.close()


# -- render --------------------------------------------------------------------------


def add_render_parser(sub: Any) -> None:
    """Add ``lucidgym render``."""
    p = sub.add_parser(
        "render",
        help="render an episode as GIF/MP4/PNG frames, or real beside a model's dream",
        description="Play one episode and write it as FILE.gif, FILE.mp4 or a folder of "
        "PNG frames; with --model, the real episode beside the model's open-loop dream. "
        "Without --out, opens a window (envs with a human render mode).",
    )
    p.add_argument("--env", required=True, metavar="ID", help="Gymnasium env id")
    p.add_argument("--agent", default=None, metavar="NAME", help="acting agent (default random)")
    p.add_argument("--model", default=None, metavar="DIR", help="world-model checkpoint folder")
    p.add_argument("--seed", type=int, default=0, help="episode seed")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the env's)")
    p.add_argument("--out", default=None, metavar="FILE.gif|FILE.mp4|DIR", help="output")
    p.set_defaults(func=cmd_render)


def _actor(env: Any, agent_name: str | None, seed: int) -> Any:
    if agent_name is None:
        env.action_space.seed(seed)
        return lambda obs: env.action_space.sample()
    from lucidgym.benchmarks.runner import check_agents, resolve_agent_maker

    make_agent, names = resolve_agent_maker()
    check_agents([agent_name], names)
    from lucidgym.benchmarks.runner import derived_seed

    agent = make_agent(agent_name, env)
    agent.reset(seed=derived_seed(seed))
    return agent.act


def cmd_render(args: argparse.Namespace) -> int:
    """Render one episode."""
    _check_env(args.env)
    check_positive("--max-steps", args.max_steps)
    check_positive("--fps", args.fps)
    import gymnasium as gym

    from lucidgym.video import (
        compose_dream_frames,
        dream_episode,
        play_episode,
        write_frames,
    )

    modes = _render_modes(args.env)
    if args.out is None:
        if args.model is not None:
            raise _error("--model needs --out (a .gif, .mp4 or a folder)")
        if "human" not in modes:
            raise _error(f"{args.env} has no human render mode; give --out FILE.gif|FILE.mp4|DIR")
        env = gym.make(args.env, render_mode="human")
        played = play_episode(env, _actor(env, args.agent, args.seed), args.seed, args.max_steps)
        env.close()
        print(f"played {len(played.rewards)} steps, return {played.rewards.sum():.3f}")
        return 0
    if args.model is None and "rgb_array" not in modes:
        raise _error(f"{args.env} has no rgb_array render mode; render --model draws observations")
    model = None
    if args.model is not None:
        from lucidgym.world_models.checkpoint import load_world_model

        model = load_world_model(args.model)
    env = gym.make(args.env, render_mode="rgb_array" if "rgb_array" in modes else None)
    played = play_episode(env, _actor(env, args.agent, args.seed), args.seed, args.max_steps)
    fps = args.fps or int(env.metadata.get("render_fps") or 4)
    if model is not None:
        frames = compose_dream_frames(
            played, dream_episode(model, played.obs, played.actions), env.observation_space
        )
    else:
        frames = played.frames
    env.close()
    path = write_frames(frames, args.out, fps)
    print(f"wrote {len(frames)} frames of {args.env} ({len(played.rewards)} steps, "
          f"return {played.rewards.sum():.3f}) to {path}")  # fmt: skip
    return 0


def _render_modes(env_id: str) -> list[str]:
    import gymnasium as gym

    env = gym.make(env_id)
    modes = list(env.metadata.get("render_modes", []))
    env.close()
    return modes


# -- data ----------------------------------------------------------------------------


def add_data_parser(sub: Any) -> None:
    """Add ``lucidgym data``."""
    p = sub.add_parser(
        "data",
        help="record episodes into a Minari dataset",
        description="Record --episodes episodes of --env with a random or reactive policy "
        "as a Minari dataset called --out (stored under MINARI_DATASETS_PATH).",
    )
    p.add_argument("--env", required=True, metavar="ID", help="Gymnasium env id")
    p.add_argument("--episodes", type=int, required=True, help="episodes to record")
    p.add_argument("--policy", default="random", help="random (default) or reactive")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    p.add_argument(
        "--out",
        required=True,
        metavar="NAME",
        help="dataset name, e.g. lucidgym/tutoring/random-v0",
    )
    p.set_defaults(func=cmd_data)


def cmd_data(args: argparse.Namespace) -> int:
    """Record a dataset."""
    _check_env(args.env)
    check_positive("--episodes", args.episodes)
    if args.policy not in ("random", "reactive"):
        raise _error(f"unknown policy {args.policy!r}; valid policies: random, reactive")
    from lucidgym.world_models.datasets import record_dataset

    policy: Any = "random"
    num_envs = 256
    if args.policy == "reactive":
        import gymnasium as gym

        from lucidgym.agents.planning.model_learning import expert_policy

        env = gym.make(args.env)
        # Rules that act on a batch of observations drive 256 copies of the vector env;
        # a learned reactive agent acts on one observation at a time, so one env.
        policy = expert_policy(env, batched=True)
        if policy is None:
            policy = _actor(env, "reactive", args.seed)
            num_envs = 1
    result = record_dataset(
        args.env, args.episodes, policy, args.out, args.seed, progress=True, num_envs=num_envs
    )
    print(f"recorded {args.episodes} episodes of {args.env} ({args.policy}) as {args.out}"
          + (f": {result}" if result is not None else ""))  # fmt: skip
    return 0
