"""Open-loop error of the ``rssm`` against how often its overshooting loss dreams.

The overshooting loss dreams ``rollout_horizon`` steps from every ``rollout_stride``-th
row of a batch; it is about half of a training step's floating-point work. This trains
the default ``rssm`` on random-policy episodes once per stride (and once without the
loss) and prints its nMAE at horizons 1 and 10 on held-out episodes, per seed and on
average, with each training's wall time.

    python scripts/rssm_overshooting.py --env Tutoring-v1 --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.benchmarks.specs import WorldModelSpec
from lucidgym.benchmarks.world_models import run_world_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="Tutoring-v1")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strides", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--train-episodes", type=int, default=100)
    parser.add_argument("--train-steps", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    variants: dict[str, dict[str, Any]] = {
        f"every {stride}th row": {"rollout_stride": stride} for stride in args.strides
    }
    variants["no overshooting"] = {"rollout_horizon": 0}
    errors: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for seed in range(args.seeds):
        for name, config in variants.items():
            start = time.perf_counter()
            spec = WorldModelSpec(
                args.env, "rssm", train_episodes=args.train_episodes,
                train_steps=args.train_steps, seed=seed, config=config,
            )  # fmt: skip
            records = run_world_model(spec)
            nmae = {r.horizon: r.nmae for r in records}
            errors[name].append((nmae[1], nmae[max(nmae)]))
            print(
                f"seed {seed}, {name}: nMAE h1 {nmae[1]:.4f}, h{max(nmae)} "
                f"{nmae[max(nmae)]:.4f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    print(f"\n{args.env}, {args.seeds} seeds: mean nMAE at horizon 1 and at the last horizon")
    for name, rows in errors.items():
        h1 = statistics.mean(r[0] for r in rows)
        last = statistics.mean(r[1] for r in rows)
        print(f"  {name}: {h1:.4f}, {last:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
