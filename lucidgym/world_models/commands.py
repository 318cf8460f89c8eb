"""``lucidgym train world-model`` and ``lucidgym eval world-model``.

Only the standard library and ``lucidgym.cli`` are imported at import time (the CLI builds every
parser on start); torch, Gymnasium and the world-model code load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lucidgym.cli import check_positive

DEFAULT_HORIZON = 10


def _error(message: str) -> Exception:
    from lucidgym.cli import CLIError

    return CLIError(message)


def add_train_parser(train_sub: Any) -> None:
    """Add ``lucidgym train world-model`` to the ``train`` sub-commands."""
    p = train_sub.add_parser(
        "world-model",
        help="train a world model of an environment",
        description="Collect random episodes of --env (or read the Minari dataset --dataset), "
        "train the --backend world model, evaluate it open-loop on fresh episodes, and write "
        "model.safetensors, config.json, metrics.json and TensorBoard logs into --out.",
    )
    p.add_argument("--env", required=True, metavar="ID", help="Gymnasium env id")
    p.add_argument("--backend", required=True, help="mlp, lstm, transformer, ensemble or rssm")
    p.add_argument("--preset", help="a named backend config (rssm: kat2, pixels)")
    p.add_argument("--steps", type=int, default=2000, help="gradient steps (default 2000)")
    p.add_argument("--dataset", metavar="NAME", help="train on this Minari dataset")
    p.add_argument(
        "--episodes", type=int, default=400, help="random episodes to collect (default 400)"
    )
    p.add_argument(
        "--eval-episodes", type=int, default=50, help="fresh episodes to evaluate on (default 50)"
    )
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help="open-loop horizon")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per batch (default 32)")
    p.add_argument("--seq-len", type=int, default=16, help="rows per sequence (default 16)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=cmd_train_world_model)


def add_eval_parser(eval_sub: Any) -> None:
    """Add ``lucidgym eval world-model`` to the ``eval`` sub-commands."""
    p = eval_sub.add_parser(
        "world-model",
        help="evaluate a trained world model",
        description="Evaluate the world model in DIR open-loop on fresh episodes of the env it "
        "was trained on; print the metrics and write them into DIR/metrics.json.",
    )
    p.add_argument("dir", metavar="DIR", help="checkpoint folder from 'train world-model'")
    p.add_argument("--episodes", type=int, default=50, help="fresh episodes (default 50)")
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help="open-loop horizon")
    p.add_argument("--env", metavar="ID", help="env id (default: the one it was trained on)")
    p.add_argument("--seed", type=int, default=10_000, help="seed of the episodes")
    p.set_defaults(func=cmd_eval_world_model)


def _check_common(env_id: str, device: str) -> None:
    import gymnasium as gym

    import lucidgym  # noqa: F401  (registers the environments)

    if env_id not in gym.registry:
        raise _error(f"unknown env {env_id!r}; see 'lucidgym envs' for lucidgym's ids")
    if device not in ("cpu", "cuda"):
        raise _error(f"unknown device {device!r}; valid devices: cpu, cuda")


def cmd_train_world_model(args: argparse.Namespace) -> int:
    """Collect or load data, train, evaluate and save."""
    for name in ("--steps", "--episodes", "--eval-episodes", "--horizon", "--batch-size"):
        check_positive(name, getattr(args, name[2:].replace("-", "_")))
    check_positive("--seq-len", args.seq_len)
    _check_common(args.env, args.device)
    from lucidgym.world_models.registry import WORLD_MODELS

    if args.backend not in WORLD_MODELS:
        raise _error(f"unknown backend {args.backend!r}; valid backends: {', '.join(WORLD_MODELS)}")
    import torch

    from lucidgym.world_models.checkpoint import save_world_model
    from lucidgym.world_models.collect import collect_to_buffer, make_collection_env
    from lucidgym.world_models.registry import make_world_model
    from lucidgym.world_models.trainer import Trainer, TrainerConfig, resolve_device

    resolve_device(args.device)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _error(f"--out {args.out!r} exists and is not a folder")
    if args.threads is not None:
        check_positive("--threads", args.threads)
        torch.set_num_threads(args.threads)
    if args.dataset:
        from lucidgym.world_models.datasets import load_dataset

        buffer = load_dataset(args.dataset, seed=args.seed)
    else:
        env = make_collection_env(args.env, num_envs=min(64, args.episodes), seed=args.seed)
        buffer = collect_to_buffer(env, args.episodes, "random", seed=args.seed)
        env.close()
    torch.manual_seed(args.seed)
    model = make_world_model(
        args.backend, buffer.observation_space, buffer.action_space, preset=args.preset
    )
    out.mkdir(parents=True, exist_ok=True)
    config = TrainerConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        lr=args.lr,
        eval_interval=max(1, min(250, args.steps // 4)),
        device=args.device,
        log_dir=str(out / "tensorboard"),
        progress=not args.no_progress,
        seed=args.seed,
    )
    history = Trainer(model, config).fit(buffer)
    model.to("cpu")
    metrics = _evaluate(model, args.env, args.eval_episodes, args.horizon, 10_000 + args.seed)
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
    save_world_model(model, out, metrics=metrics, env_id=args.env)
    _print_metrics(metrics, out)
    return 0


def _evaluate(model: Any, env_id: str, episodes: int, horizon: int, seed: int) -> dict[str, Any]:
    from lucidgym.world_models.evaluation import collect_eval_data, evaluate_world_model

    data = collect_eval_data(env_id, episodes, seed=seed)
    errors = evaluate_world_model(model, data, horizon=horizon)
    metrics = {**errors.metrics(), "eval_windows": errors.windows, "curve": errors.curve()}
    return {**metrics, **_dot_tracking(model, env_id, episodes, horizon, seed)}


def _dot_tracking(
    model: Any, env_id: str, episodes: int, horizon: int, seed: int
) -> dict[str, Any]:
    """For a moving-dot env, ``dot_*``: where the dreamed frames put the dot, vs persistence.

    The dot's position is read off each dreamed frame and compared with the true one
    (see :mod:`lucidgym.benchmarks.dot_tracking`); empty for other envs.
    """
    import dataclasses

    import gymnasium as gym

    from lucidgym.benchmarks.dot_tracking import evaluate_pixel_tracking
    from lucidgym.envs.moving_dot import MovingDotConfig, generate_sequences

    env = gym.make(env_id)
    config = getattr(env.unwrapped, "config", None)
    env.close()
    if not isinstance(config, MovingDotConfig):
        return {}
    fields = dataclasses.asdict(config)
    fields.pop("arrival_bonus")
    context = 8
    data = generate_sequences(episodes, context + horizon + 12, seed=seed, **fields)
    tracking = evaluate_pixel_tracking(model, data, context=context, horizon=horizon)
    return {f"dot_{key}": value for key, value in tracking.metrics().items()}


def _print_metrics(metrics: dict[str, Any], out: Path) -> None:
    def fmt(value: Any) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    dot = ""
    if "dot_error" in metrics:
        dot = (
            f"; dot position error {metrics['dot_error']:.2f} px, persistence "
            f"{metrics['dot_persistence']:.2f} px"
        )
    print(
        f"{metrics.get('env', '')} {metrics.get('backend', '')}: horizon {metrics['horizon']} "
        f"nmae {fmt(metrics['nmae'])}, persistence {fmt(metrics['persistence_nmae'])}, "
        f"oracle {fmt(metrics['oracle_nmae'])}{dot} -> {out / 'metrics.json'}"
    )


def cmd_eval_world_model(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint and write its metrics."""
    check_positive("--episodes", args.episodes)
    check_positive("--horizon", args.horizon)
    from lucidgym.world_models.checkpoint import (
        METRICS_FILE,
        atomic_write_json,
        load_world_model,
        read_checkpoint_config,
    )

    config = read_checkpoint_config(args.dir)
    env_id = args.env or config.get("env_id")
    if not env_id:
        raise _error(f"{args.dir}: the checkpoint does not name its env; pass --env ID")
    _check_common(env_id, "cpu")
    model = load_world_model(args.dir)
    metrics = _evaluate(model, env_id, args.episodes, args.horizon, args.seed)
    path = Path(args.dir) / METRICS_FILE
    previous: dict[str, Any] = {}
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError:
            previous = {}
    merged = {**previous, **metrics, "env": env_id, "backend": config["backend"]}
    atomic_write_json(path, merged)
    _print_metrics(merged, Path(args.dir))
    return 0
