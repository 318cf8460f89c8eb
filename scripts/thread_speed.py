"""How many torch threads to use: training and planning steps at 1 and 2 threads, idle and loaded.

Each workload is timed at every thread count in turn (``--repeats`` rounds, medians
compared), once on an otherwise idle machine and once while ``--load`` busy processes
(plain Python loops, like another experiment sharing the machine) hold cores. The ratio
column divides each median by the one-thread median of the same workload and load.

    python scripts/thread_speed.py --out docs/results/threads.md

Workloads: a training step of the ``rssm`` backend (default config, ``B=16, T=32``),
of the ``kat2`` preset (``B=16, T=64``) and of the ``ensemble`` (``B=64, T=16``), and one
``dream`` decision in a fitted-size ``ensemble`` on Tutoring-v1 (inference only).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import torch

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.world_models.protocol import SequenceBatch
from lucidgym.world_models.registry import make_world_model
from lucidgym.world_models.trainer import train_step


def _spin(stop: mp.synchronize.Event) -> None:
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def _batch(env: gym.Env, b: int, t: int) -> SequenceBatch:
    shape = env.observation_space.shape
    assert shape is not None
    n = int(env.action_space.n)  # type: ignore[attr-defined]
    g = torch.Generator().manual_seed(0)
    return SequenceBatch(
        torch.rand(b, t, *shape, generator=g),
        torch.randint(0, n, (b, t), generator=g),
        torch.rand(b, t, generator=g),
        torch.zeros(b, t),
        torch.zeros(b, t, dtype=torch.bool),
        torch.ones(b, t, dtype=torch.bool),
    )


def training_step(backend: str, b: int, t: int, preset: str | None = None) -> Callable[[], None]:
    """A closure running one training step of ``backend`` on Tutoring-v1's spaces."""
    env = gym.make("Tutoring-v1")
    model = make_world_model(backend, env.observation_space, env.action_space, preset=preset)
    batch = _batch(env, b, t)
    model.fit_normalization(batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def run() -> None:
        train_step(model, optimizer, batch)

    return run


def dream_decision() -> Callable[[], None]:
    """A closure making one ``dream`` decision in an ``ensemble`` on Tutoring-v1."""
    from lucidgym.agents.registry import make_agent

    env = gym.make("Tutoring-v1")
    agent = make_agent("dream", env, model="ensemble", seed=0)
    obs, _ = env.reset(seed=0)

    def run() -> None:
        agent.reset()
        agent.act(obs)

    return run


WORKLOADS: dict[str, Callable[[], Callable[[], None]]] = {
    "rssm train step (default, B=16 T=32)": lambda: training_step("rssm", 16, 32),
    "rssm train step (kat2, B=16 T=64)": lambda: training_step("rssm", 16, 64, "kat2"),
    "ensemble train step (B=64 T=16)": lambda: training_step("ensemble", 64, 16),
    "dream decision (ensemble, Tutoring-v1)": dream_decision,
}


def time_threads(
    run: Callable[[], None], threads: list[int], repeats: int, calls: int
) -> dict[int, float]:
    """Median seconds of ``calls`` calls at each thread count, counts interleaved."""
    times: dict[int, list[float]] = {n: [] for n in threads}
    for n in threads:  # warm-up
        torch.set_num_threads(n)
        run()
    for _ in range(repeats):
        for n in threads:
            torch.set_num_threads(n)
            start = time.perf_counter()
            for _ in range(calls):
                run()
            times[n].append((time.perf_counter() - start) / calls)
    return {n: statistics.median(v) for n, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--load", type=int, default=1, help="busy processes of the loaded runs")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    rows = []
    for name, build in WORKLOADS.items():
        run = build()
        start = time.perf_counter()
        torch.set_num_threads(1)
        run()
        calls = max(1, int(0.5 / max(time.perf_counter() - start, 1e-3)))
        for load in (0, args.load):
            stop = mp.Event()
            busy = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(load)]
            for p in busy:
                p.start()
            try:
                medians = time_threads(run, args.threads, args.repeats, calls)
            finally:
                stop.set()
                for p in busy:
                    p.join()
            for n, t in medians.items():
                rows.append((name, load, n, t * 1e3, t / medians[args.threads[0]]))
                print(f"{name:42s} load {load} threads {n}: {t * 1e3:9.2f} ms  "
                      f"x{t / medians[args.threads[0]]:.2f}", flush=True)  # fmt: skip
    lines = [
        f"torch {torch.__version__}, {mp.cpu_count()} CPU cores; medians of {args.repeats} "
        "interleaved rounds.",
        "",
        "| workload | busy processes | threads | ms per call | vs 1 thread |",
        "|---|---|---|---|---|",
        *(f"| {w} | {load} | {n} | {ms:.2f} | {r:.2f}x |" for w, load, n, ms, r in rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
