"""``lucidgym data``: record episodes of an env into a Minari dataset.

``--data-format`` picks Minari's storage: ``hdf5`` (the default) or ``arrow``, smaller and
faster to read, but written by Minari 0.5.4 in time quadratic in the number of episodes
(it walks the whole dataset folder after each episode). ``--infos`` picks the info keys
stored with every step (see :mod:`lucidgym.world_models.datasets`).
"""

from __future__ import annotations

import argparse
from typing import Any

from lucidgym.cli.options import CLIError, check_env, check_extra, check_positive
from lucidgym.cli.render import actor

VECTOR_COPIES = 256
"""Copies of the env's vector env that a batched policy drives at once."""


def add_parser(sub: Any) -> None:
    """Add ``lucidgym data`` to the sub-command parsers ``sub``."""
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
    p.add_argument(
        "--data-format",
        default="hdf5",
        metavar="FORMAT",
        help="hdf5 (default) or arrow: smaller and faster to read, but Minari 0.5.4 writes "
        "it in time quadratic in the episodes (it walks the dataset folder after each one), "
        'so keep it to a few thousand; needs pyarrow (pip install "minari[arrow]")',
    )
    p.add_argument(
        "--infos",
        default=None,
        metavar="KEYS",
        help="info keys stored with every step, comma-separated, or none (default: the "
        "env's choice, else every key it reports at every step as numbers); each key "
        "adds to the write time and the size",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Record a dataset."""
    check_env(args.env)
    check_positive("--episodes", args.episodes)
    if args.policy not in ("random", "reactive"):
        raise CLIError(f"unknown policy {args.policy!r}; valid policies: random, reactive")
    check_extra("minari", "data", "lucidgym data")
    from lucidgym.world_models.datasets import check_data_format, record_dataset

    try:
        check_data_format(args.data_format)
    except (ImportError, ValueError) as err:
        raise CLIError(f"--data-format: {err}") from None
    info_keys = None
    if args.infos is not None:
        info_keys = () if args.infos == "none" else tuple(filter(None, args.infos.split(",")))

    policy: Any = "random"
    num_envs = VECTOR_COPIES
    env = None
    if args.policy == "reactive":
        import gymnasium as gym

        env = gym.make(args.env)
        # The env's expert rules act on a batch of observations, so they drive many copies
        # of the vector env; the learned reactive agent acts on one observation at a time.
        from lucidgym.agents.protocol import expert_policy

        policy = expert_policy(env)
        if policy is None:
            policy = actor(env, "reactive", args.seed)
            num_envs = 1
    result = record_dataset(
        args.env,
        args.episodes,
        policy,
        args.out,
        args.seed,
        progress=True,
        num_envs=num_envs,
        data_format=args.data_format,
        info_keys=info_keys,
    )
    if env is not None:
        env.close()
    print(f"recorded {args.episodes} episodes of {args.env} ({args.policy}) as {args.out}"
          + (f": {result}" if result is not None else ""))  # fmt: skip
    return 0
