"""``lucidgym export``: a trained ``sb3:<ALGO>`` agent in Stable-Baselines3's own zip.

For rl-baselines3-zoo and Hugging Face hub users, whose tools read SB3's zip. The zip
holds pickled objects, so it is written only when asked, never read by lucidgym.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lucidgym.cli.options import CLIError, check_extra

FORMATS = ("sb3-zip",)
"""What ``--format`` takes."""

_CAVEAT = (
    "SB3's zip holds pickled objects, and loading a pickle runs the code it names: "
    "load it only from a source you trust."
)
"""What ``--help`` and the command's output say about the zip."""


def add_parser(sub: Any) -> None:
    """Add ``lucidgym export`` to the sub-command parsers ``sub``."""
    p = sub.add_parser(
        "export",
        help="write a trained sb3:<ALGO> agent as SB3's zip (pickled: trusted sources only)",
        description="Write the sb3:<ALGO> agent saved in DIR (by lucidgym train agent) as "
        "the zip that stable_baselines3's PPO.load (DQN.load, ...), rl-baselines3-zoo and "
        "the Hugging Face hub read. lucidgym itself keeps agents as safetensors and JSON. "
        f"{_CAVEAT}",
    )
    p.add_argument("folder", metavar="DIR", help="an agent folder written by train agent")
    p.add_argument(
        "--format", required=True, choices=FORMATS, help="sb3-zip: SB3's own zip (pickled)"
    )
    p.add_argument("--out", required=True, metavar="FILE.zip", help="the file to write")
    p.add_argument("--force", action="store_true", help="replace an --out that exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export an agent."""
    out = Path(args.out)
    if out.suffix != ".zip":
        raise CLIError(f"--out {str(out)!r}: name a .zip file (SB3 loads NAME as NAME.zip)")
    if out.is_dir():
        raise CLIError(f"--out {str(out)!r} is a folder; name a .zip file")
    if out.exists() and not args.force:
        raise CLIError(f"{out} already exists; pass --force to overwrite it")
    check_extra("stable_baselines3", "sb3", "export --format sb3-zip")
    from lucidgym.agents.sb3.export import export_sb3_zip

    export_sb3_zip(args.folder, out, overwrite=True)
    print(f"wrote {out} for stable_baselines3 ({_CAVEAT[:-1]})")
    return 0
