"""``lucidgym envs``: every lucidgym environment with its spaces."""

from __future__ import annotations

import argparse
from typing import Any

from lucidgym.cli.options import print_table


def add_parser(sub: Any) -> None:
    """Add ``lucidgym envs`` to the sub-command parsers ``sub``."""
    p = sub.add_parser("envs", help="list the registered environments and their spaces")
    p.set_defaults(func=run)


def _format_space(space: Any) -> str:
    import gymnasium as gym

    if isinstance(space, gym.spaces.Box):
        low, high = space.low.min(), space.high.max()
        return f"Box({low:g}, {high:g}, {space.shape}, {space.dtype})"
    return str(space)


def run(args: argparse.Namespace) -> int:
    """List every lucidgym environment with its spaces."""
    import gymnasium as gym

    from lucidgym.envs.registration import ENVS

    rows = [["id", "observation space", "action space", "max steps", "native vector"]]
    for entry in ENVS:
        env = gym.make(entry.id)
        rows.append(
            [
                entry.id,
                _format_space(env.observation_space),
                _format_space(env.action_space),
                str(entry.max_episode_steps),
                "yes" if entry.vector_entry_point else "no",
            ]
        )
        env.close()
    print_table(rows)
    return 0
