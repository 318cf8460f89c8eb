"""The wall time of a recorded suite on more slots, scheduled longest first.

Reads the run and world-model times of a ``results.json`` and hands the jobs out
longest first to the slot that frees first (the executors' order), for each slot count.
Run: ``python scripts/suite_schedule.py docs/results/full/results.json [--slots 2 4 8]``.
"""

from __future__ import annotations

import argparse
import heapq
import json
from pathlib import Path


def makespan(times: list[float], slots: int) -> float:
    """Seconds until the last of ``times`` ends on ``slots`` slots, longest first."""
    free = [0.0] * slots
    for t in sorted(times, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + t)
    return max(free)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--slots", type=int, nargs="+", default=[2, 4, 8, 16, 32, 64])
    args = parser.parse_args()
    payload = json.loads(args.results.read_text())
    times = [float(r["wall_s"]) for r in payload["runs"]]
    times += [float(w.get("wall_s", 0.0)) for w in payload.get("world_models", [])]
    print(f"{len(times)} jobs, {sum(times) / 60:.1f} run-minutes, longest {max(times):.0f} s")
    for slots in args.slots:
        print(f"{slots:>4} slots: {makespan(times, slots) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
