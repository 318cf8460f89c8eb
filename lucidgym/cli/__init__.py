"""The ``lucidgym`` command.

One module per sub-command (:mod:`~lucidgym.cli.envs`, :mod:`~lucidgym.cli.bench`,
:mod:`~lucidgym.cli.train`, :mod:`~lucidgym.cli.eval`, :mod:`~lucidgym.cli.render`,
:mod:`~lucidgym.cli.data`, :mod:`~lucidgym.cli.export`), each with ``add_parser(sub)``
that adds its parser and a handler ``(args) -> int``. Sub-command modules import only
light modules at import time and the rest inside their handlers, so ``lucidgym --help``
and ``lucidgym envs`` start without torch. Errors a user can cause (bad arguments,
unknown names, missing files) are raised as :class:`CLIError` or ``ValueError`` and
printed as one line, with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from lucidgym.cli import bench, data, envs, export, render, train
from lucidgym.cli import eval as eval_world_model
from lucidgym.cli.options import CLIError, check_positive

__all__ = ["CLIError", "build_parser", "check_positive", "main"]

SUBCOMMANDS = (envs, bench, train, eval_world_model, render, data, export)
"""The sub-command modules, in the order ``lucidgym --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    from lucidgym import __version__

    parser = argparse.ArgumentParser(
        prog="lucidgym",
        description="Gymnasium environments with agents that plan inside learned world models.",
    )
    parser.add_argument("--version", action="version", version=f"lucidgym {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lucidgym`` console script."""
    import gymnasium as gym

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
