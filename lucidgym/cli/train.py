"""``lucidgym train world-model`` and ``lucidgym train agent``.

The trainer options of ``train world-model`` are generated from
:class:`~lucidgym.world_models.trainer.TrainerConfig` (its defaults, its field docstrings
as help); that imports torch, so they are added only when that sub-command is parsed.

Both write TensorBoard logs while they train, where ``tensorboard --logdir OUT`` finds
them: into ``OUT/tensorboard`` when ``--out`` is new or empty (and the folder is taken
away again if training stops before the end, as every output of a stopped command is);
when ``--force`` replaces an earlier result, into the new output's folder being written
beside it, named on stderr, so the earlier result stays whole until the new one
replaces it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lucidgym.cli.eval import DEFAULT_HORIZON, evaluate_model, print_metrics
from lucidgym.cli.options import (
    CLIError,
    LazyParser,
    add_config_options,
    add_set_option,
    check_env,
    check_extra,
    check_out_folder,
    check_positive,
    config_values,
    fresh_output,
    parse_sets,
)

TRAINER_SKIP = ("log_dir",)
"""TrainerConfig fields the command sets itself: the logs go into ``--out``/tensorboard."""

LIVE_LOGS = (
    "TensorBoard logs go into --out/tensorboard as training goes (into the new output "
    "folder, named on stderr, where --force replaces an earlier result)."
)
"""How the help of both sub-commands says where the logs are while training."""

TRAINER_DEFAULTS: dict[str, tuple[Any, str]] = {
    # The trainer's fixed period would evaluate a short run once or never, so it would
    # keep no best weights; the command scales the period with --steps instead.
    "eval_interval": (None, "default: a quarter of --steps, at most 250"),
}
"""Where the command's default differs from TrainerConfig's: (default, what help shows)."""


def add_parser(sub: Any) -> None:
    """Add ``lucidgym train`` with ``world-model`` and ``agent`` to the parsers ``sub``."""
    group = sub.add_parser("train", help="train a world model or an agent")
    what = group.add_subparsers(dest="what", metavar="WHAT", required=True, parser_class=LazyParser)
    what.add_parser(
        "world-model",
        help="train a world model of an environment",
        description="Collect random episodes of --env (or read the Minari dataset --dataset), "
        "train the --backend world model, evaluate it open-loop on fresh episodes, and write "
        "model.safetensors, config.json, metrics.json and TensorBoard logs into --out: "
        "loss/*, eval/loss, charts/sps and, for image observations, dream/video (real "
        "frames beside the model's open-loop dream, in the Images tab). " + LIVE_LOGS,
        fill=_world_model_options,
    )
    what.add_parser(
        "agent",
        help="train a learning agent on real env steps and save it",
        description="Train a Learner agent for --steps real env steps; writes "
        "model.safetensors, config.json, curves.json and TensorBoard logs into --out: "
        "charts/episode_return, charts/sps and the agent's loss/* against real env steps "
        "(sb3:<ALGO> agents also SB3's rollout/* and train/*). " + LIVE_LOGS,
        fill=_agent_options,
    )


def _world_model_options(p: argparse.ArgumentParser) -> None:
    from lucidgym.world_models.trainer import TrainerConfig

    p.add_argument("--env", required=True, metavar="ID", help="Gymnasium env id")
    p.add_argument("--backend", required=True, help="mlp, lstm, transformer, ensemble or rssm")
    p.add_argument("--preset", help="a named backend config (rssm: kat2, pixels)")
    add_set_option(p, "the backend's config", "--set hidden_size=256")
    p.add_argument("--dataset", metavar="NAME", help="train on this Minari dataset")
    p.add_argument(
        "--episodes", type=int, default=400, help="random episodes to collect (default 400)"
    )
    p.add_argument(
        "--eval-episodes", type=int, default=50, help="fresh episodes to evaluate on (default 50)"
    )
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help="open-loop horizon")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--force", action="store_true", help="replace an --out that holds files")
    p.add_argument(
        "--video",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="for image observations, log a clip of real frames beside the model's dream "
        "as dream/video (default: --video)",
    )
    trainer = p.add_argument_group("trainer options (TrainerConfig)")
    add_config_options(trainer, TrainerConfig, skip=TRAINER_SKIP, defaults=TRAINER_DEFAULTS)
    p.set_defaults(func=run_world_model)


def run_world_model(args: argparse.Namespace) -> int:
    """Collect or load data, train, evaluate and save."""
    for name in ("--steps", "--episodes", "--eval-episodes", "--horizon", "--batch-size",
                 "--seq-len", "--eval-interval", "--threads"):  # fmt: skip
        check_positive(name, getattr(args, name[2:].replace("-", "_")))
    check_env(args.env)
    import torch

    from lucidgym.world_models.checkpoint import save_world_model
    from lucidgym.world_models.collect import collect_to_buffer, make_collection_env
    from lucidgym.world_models.registry import WORLD_MODELS, config_from_dict, make_world_model
    from lucidgym.world_models.trainer import Trainer, TrainerConfig, resolve_device

    resolve_device(args.device)
    if args.backend not in WORLD_MODELS:
        raise CLIError(
            f"unknown backend {args.backend!r}; valid backends: {', '.join(WORLD_MODELS)}"
        )
    backend_config = parse_sets(args.set)
    config_from_dict(args.backend, backend_config, args.preset)  # refuse bad keys before any work
    out = Path(args.out)
    check_out_folder(out, args.force)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.dataset:
        check_extra("minari", "data", "--dataset")
        from lucidgym.world_models.datasets import load_dataset

        buffer = load_dataset(args.dataset, seed=args.seed)
    else:
        env = make_collection_env(args.env, num_envs=min(64, args.episodes), seed=args.seed)
        buffer = collect_to_buffer(env, args.episodes, "random", seed=args.seed)
        env.close()
    torch.manual_seed(args.seed)
    model = make_world_model(
        args.backend,
        buffer.observation_space,
        buffer.action_space,
        preset=args.preset,
        **backend_config,
    )
    with fresh_output(out, args.force) as work, _live_logs(out, work) as log_dir:
        values = config_values(args, TrainerConfig, skip=TRAINER_SKIP)
        if values["eval_interval"] is None:
            values["eval_interval"] = max(1, min(250, args.steps // 4))
        config = TrainerConfig(**values, log_dir=str(log_dir))
        history = Trainer(model, config).fit(buffer)
        model.to("cpu")
        if args.video:
            _log_dream_clip(model, args.env, log_dir, 10_000 + args.seed)
        metrics = evaluate_model(
            model, args.env, args.eval_episodes, args.horizon, 10_000 + args.seed
        )
        metrics.update(
            {
                "env": args.env,
                "backend": args.backend,
                "preset": args.preset,
                "train_steps": history.steps_done,
                "train_wall_s": round(history.wall_s, 2),
                "eval/loss": history.best_eval_loss,
                **(history.train[-1] if history.train else {}),
            }
        )
        save_world_model(model, work, metrics=metrics, env_id=args.env)
    print_metrics(metrics, out)
    return 0


# -- train agent ---------------------------------------------------------------------


def _agent_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", required=True, metavar="ID", help="Gymnasium env id")
    p.add_argument("--agent", required=True, metavar="NAME", help="a learning agent")
    add_set_option(p, "the agent's config", "--set horizon=12 --set model=mlp")
    p.add_argument("--steps", type=int, default=10_000, help="real env steps (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of training")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--force", action="store_true", help="replace an --out that holds files")
    p.set_defaults(func=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    """Train and save a learning agent."""
    check_positive("--steps", args.steps)
    check_env(args.env)
    agent_config = parse_sets(args.set)
    out = Path(args.out)
    check_out_folder(out, args.force)
    import gymnasium as gym
    import torch

    from lucidgym.agents.protocol import Learner
    from lucidgym.benchmarks.runner import check_agents, resolve_agent_maker
    from lucidgym.files import atomic_write_json
    from lucidgym.tensorboard import TensorBoardLogger

    make_agent, names = resolve_agent_maker()
    check_agents([args.agent], names)
    torch.manual_seed(args.seed)
    env = gym.make(args.env)
    agent = make_agent(args.agent, env, **agent_config)
    if not isinstance(agent, Learner):
        raise CLIError(
            f"agent {args.agent!r} does not learn (it has no learn/save); nothing to train"
        )
    start = time.perf_counter()
    with fresh_output(out, args.force) as work, _live_logs(out, work) as log_dir:
        with TensorBoardLogger(log_dir) as logger:
            curves = _learn_logged(agent, env, args.steps, args.seed, logger)
            if logger.points == 0:  # a learner that reported nothing while it learned
                _log_curves(logger, curves)
        env.close()
        agent.save(work)
        curves_json = {k: [float(v) for v in vs] for k, vs in curves.items()}
        atomic_write_json(work / "curves.json", curves_json)
    returns = curves.get("episode_return", [])
    tail = f", last episode return {returns[-1]:.3f}" if returns else ""
    print(f"trained {args.agent} on {args.env} for {args.steps} steps in "
          f"{time.perf_counter() - start:.1f} s{tail}; saved to {out}")  # fmt: skip
    return 0


def _learn_logged(
    agent: Any, env: Any, steps: int, seed: int, logger: Any
) -> dict[str, list[float]]:
    """``agent.learn``, its progress reported to ``logger`` as it goes.

    A learner that takes a ``logger`` reports itself; one that does not is given ``env``
    wrapped to report the episodes it plays (those it plays on copies it makes itself
    go unseen), and a planning agent's model learner its fits' ``loss/model``.
    """
    import inspect

    from lucidgym.agents.planning.model_learning import ModelLearner
    from lucidgym.tensorboard import EpisodeLogging

    # Only a learner that names the keyword: one taking **kwargs may pass them elsewhere.
    if "logger" in inspect.signature(agent.learn).parameters:
        return dict(agent.learn(env, steps, seed=seed, logger=logger))
    learner = getattr(agent, "learner", None)
    if isinstance(learner, ModelLearner):
        learner.logger = logger
    try:
        return dict(agent.learn(EpisodeLogging(env, logger), steps, seed=seed))
    finally:
        if isinstance(learner, ModelLearner):
            learner.logger = None


def _log_curves(logger: Any, curves: dict[str, list[float]]) -> None:
    """The per-episode curves as ``charts/<name>``, against the env steps of each point."""
    steps = curves.get("env_steps", [])
    for name, values in curves.items():
        if name != "env_steps" and len(values) == len(steps):
            tag = f"charts/{name}" if "/" not in name else name
            for step, value in zip(steps, values, strict=True):
                logger.log({tag: float(value)}, int(step))


@contextlib.contextmanager
def _live_logs(out: Path, work: Path) -> Iterator[Path]:
    """The folder TensorBoard logs go to while training, ``tensorboard`` of ``work`` at the end.

    ``out/tensorboard`` where ``out`` is new or empty, moved into ``work`` when the work
    succeeds and removed when it does not (``out`` then is as it was); else, where
    ``--force`` replaces what ``out`` holds, ``work/tensorboard`` itself.
    """
    final = work / "tensorboard"
    if out.is_dir() and any(out.iterdir()):
        print(f"TensorBoard logs go into {final} while training; {out} keeps what it "
              "holds until the new output replaces it", file=sys.stderr)  # fmt: skip
        yield final
        return
    made = not out.exists()
    live = out / "tensorboard"
    live.mkdir(parents=True)
    try:
        yield live
    except BaseException:
        shutil.rmtree(live, ignore_errors=True)
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    os.replace(live, final)


def _log_dream_clip(model: Any, env_id: str, log_dir: Path, seed: int) -> None:
    """``dream/video``: an episode's real frames beside the model's dream (image envs only)."""
    import gymnasium as gym

    from lucidgym.tensorboard import TensorBoardLogger
    from lucidgym.video import dream_clip

    env = gym.make(env_id)
    try:
        frames = dream_clip(model, env, seed)
    finally:
        env.close()
    if frames is not None:
        with TensorBoardLogger(log_dir) as logger:
            logger.add_video("dream/video", frames, fps=int(env.metadata.get("render_fps", 4)))
