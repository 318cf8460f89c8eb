"""``lucidgym eval world-model``: open-loop errors of a checkpoint on fresh episodes.

:func:`evaluate_model` and :func:`print_metrics` also serve ``lucidgym train world-model``,
which evaluates what it trained the same way.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lucidgym.cli.options import CLIError, check_env, check_positive

DEFAULT_HORIZON = 10
"""Open-loop horizon of the errors (``--horizon``)."""


def add_parser(sub: Any) -> None:
    """Add ``lucidgym eval`` and its ``world-model`` to the sub-command parsers ``sub``."""
    group = sub.add_parser("eval", help="evaluate a trained world model")
    what = group.add_subparsers(dest="what", metavar="WHAT", required=True)
    p = what.add_parser(
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
    p.set_defaults(func=run_world_model)


def run_world_model(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint and write its metrics."""
    check_positive("--episodes", args.episodes)
    check_positive("--horizon", args.horizon)
    from lucidgym.files import atomic_write_json
    from lucidgym.world_models.checkpoint import (
        METRICS_FILE,
        load_world_model,
        read_checkpoint_config,
    )

    config = read_checkpoint_config(args.dir)
    env_id = args.env or config.get("env_id")
    if not env_id:
        raise CLIError(f"{args.dir}: the checkpoint does not name its env; pass --env ID")
    check_env(env_id)
    model = load_world_model(args.dir)
    metrics = evaluate_model(model, env_id, args.episodes, args.horizon, args.seed)
    path = Path(args.dir) / METRICS_FILE
    previous: dict[str, Any] = {}
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError:
            previous = {}
    merged = {**previous, **metrics, "env": env_id, "backend": config["backend"]}
    atomic_write_json(path, merged)
    print_metrics(merged, Path(args.dir))
    return 0


def evaluate_model(
    model: Any, env_id: str, episodes: int, horizon: int, seed: int
) -> dict[str, Any]:
    """Open-loop errors of ``model`` on ``episodes`` fresh episodes of ``env_id``.

    Returns:
        The metrics of :func:`~lucidgym.world_models.evaluation.evaluate_world_model`
        (``horizon``, ``nmae``, ``persistence_nmae``, ``oracle_nmae``, ...) with
        ``eval_windows`` and ``curve``, and ``dot_*`` for a moving-dot env.
    """
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


def print_metrics(metrics: dict[str, Any], out: Path) -> None:
    """One line: the errors at the horizon (and the dot's, where measured) and the file."""

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
