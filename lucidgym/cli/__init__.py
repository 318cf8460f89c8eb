"""The ``lucidgym`` command.

Every sub-command is a function ``(args) -> int`` registered in :func:`build_parser`.
Errors a user can cause (bad arguments, unknown names, missing files) are raised as
:class:`CLIError` or ``ValueError`` and printed as one line, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import gymnasium as gym


class CLIError(Exception):
    """A user error: printed as one line, exit status 2, no traceback."""


def check_positive(name: str, value: int | None) -> None:
    """Refuse a numeric option below 1 (``None``, the option left out, passes)."""
    if value is not None and value < 1:
        raise CLIError(f"{name} must be a positive integer, got {value}")


def _format_space(space: gym.spaces.Space) -> str:  # type: ignore[type-arg]
    if isinstance(space, gym.spaces.Box):
        low, high = space.low.min(), space.high.max()
        return f"Box({low:g}, {high:g}, {space.shape}, {space.dtype})"
    return str(space)


def cmd_envs(args: argparse.Namespace) -> int:
    """List every lucidgym environment with its spaces."""
    from lucidgym.envs.registration import ENVS

    rows = []
    for entry in ENVS:
        env = gym.make(entry.id)
        rows.append(
            (
                entry.id,
                _format_space(env.observation_space),
                _format_space(env.action_space),
                str(entry.max_episode_steps),
                "yes" if entry.vector_entry_point else "no",
            )
        )
        env.close()
    header = ("id", "observation space", "action space", "max steps", "native vector")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


# Sub-commands living beside the code they drive: (module, function, parent command).
# Each function takes the argparse sub-parsers object of its parent and adds its parser;
# modules import only the standard library at import time, heavy imports in handlers.
_COMMAND_HOOKS: tuple[tuple[str, str, str | None], ...] = (
    ("lucidgym.benchmarks.commands", "add_bench_parser", None),
    ("lucidgym.world_models.commands", "add_train_parser", "train"),
    ("lucidgym.benchmarks.commands", "add_train_agent_parser", "train"),
    ("lucidgym.world_models.commands", "add_eval_parser", "eval"),
    ("lucidgym.benchmarks.commands", "add_render_parser", None),
    ("lucidgym.benchmarks.commands", "add_data_parser", None),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    import importlib
    import importlib.util

    from lucidgym import __version__

    parser = argparse.ArgumentParser(
        prog="lucidgym",
        description="Gymnasium environments with agents that plan inside learned world models.",
    )
    parser.add_argument("--version", action="version", version=f"lucidgym {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    envs = sub.add_parser("envs", help="list the registered environments and their spaces")
    envs.set_defaults(func=cmd_envs)
    groups = {
        "train": sub.add_parser("train", help="train a world model or an agent"),
        "eval": sub.add_parser("eval", help="evaluate a trained world model"),
    }
    group_subs = {
        name: group.add_subparsers(dest="what", metavar="WHAT", required=True)
        for name, group in groups.items()
    }
    for module_name, function, parent in _COMMAND_HOOKS:
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        if not hasattr(module, function):
            continue
        getattr(module, function)(sub if parent is None else group_subs[parent])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lucidgym`` console script."""
    import lucidgym  # noqa: F401  (registers the environments)

    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return func(args)
    except (CLIError, ValueError, FileNotFoundError, gym.error.Error) as err:
        print(f"lucidgym {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lucidgym {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
