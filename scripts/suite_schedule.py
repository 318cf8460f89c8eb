"""The wall time of a recorded suite on more slots, scheduled longest first.

Reads the run and world-model times of a ``results.json`` and hands the jobs out
longest first to the slot that frees first (the executors' order), for each slot count;
then lists the longest jobs, with the share of each run's time that went to training
where the results record it (``train_s``; the rest is building and evaluating).
Run: ``python scripts/suite_schedule.py docs/results/full/results.json [--slots 2 4 8]
[--longest 10]``.
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
    parser.add_argument("--longest", type=int, default=10, help="longest jobs to list")
    args = parser.parse_args()
    payload = json.loads(args.results.read_text())
    times = [float(r["wall_s"]) for r in payload["runs"]]
    # One world-model job gives a row per horizon; its time is on the horizon-1 row.
    times += [
        float(w.get("wall_s") or 0.0)
        for w in payload.get("world_models", [])
        if w.get("horizon") == 1
    ]
    print(f"{len(times)} jobs, {sum(times) / 60:.1f} run-minutes, longest {max(times):.0f} s")
    for slots in args.slots:
        print(f"{slots:>4} slots: {makespan(times, slots) / 60:.1f} minutes")
    jobs = [(float(r["wall_s"]), _label(r), r.get("train_s")) for r in payload["runs"]]
    jobs += [
        (float(w.get("wall_s") or 0.0), f"{w['env']} world model {w['model']}", None)
        for w in payload.get("world_models", [])
        if w.get("horizon") == 1
    ]
    print(f"\nthe {args.longest} longest jobs (s, training share):")
    for wall, label, train in sorted(jobs, key=lambda job: -job[0])[: args.longest]:
        share = "  -" if train is None else f"{100 * float(train) / wall:3.0f}%"
        print(f"{wall:7.0f} {share}  {label}")


def _label(run: dict[str, object]) -> str:
    model = "" if run["model"] == "none" else f"/{run['model']}"
    return f"{run['env']} {run['agent']}{model} seed {run['seed']}"


if __name__ == "__main__":
    main()
