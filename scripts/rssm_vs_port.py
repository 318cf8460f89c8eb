"""lucidgym's ``rssm`` training step against the RSSM of the DreamerV3 PyTorch port, in one run.

The port (NM512/dreamerv3-torch) is not part of lucidgym and is never copied into it:
pass the folder of a checkout, and its ``networks`` module is imported from there.
Without ``--port`` (or with a folder that holds no ``networks.py``) the script says so
and exits 0, so that it can sit in a batch of speed checks on machines without it.

    python scripts/rssm_vs_port.py --port ~/src/dreamerv3-torch

Both sides train on the same random ``[B, T]`` batch of Tutoring-v1's spaces (24-dim
observations, 12 actions) with Adam, one thread, and are timed in turn (``--repeats``
rounds, medians). The port's side is its ``RSSM`` with Gaussian latents (stoch 128,
deter 512, hidden 256, its GRU with layer norm, its learned initial state and its
default std activation, sigmoid2), its MLP encoder and its decoder (symlog MSE), reward
(255-bin two-hot) and continue (Bernoulli) heads, each one layer of 256, and its
balanced KL (free nats 1, dyn 0.5, rep 0.1).
lucidgym's side is ``rssm`` at the ``kat2`` preset and at its default config, each with
its full default loss, and ``kat2`` without its overshooting loss. The speed column is
the port's median over lucidgym's: above 1, lucidgym's step is the faster. The work
columns count one step's floating-point operations with torch's profiler, and divide
them by the median time: they tell a slow step that does more work from one that does
its work slowly.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.world_models.protocol import SequenceBatch
from lucidgym.world_models.registry import make_world_model
from lucidgym.world_models.trainer import train_step

OBS_DIM, NUM_ACTIONS = 24, 12


def random_batch(b: int, t: int, seed: int = 0) -> SequenceBatch:
    """A ``[b, t]`` batch of Tutoring-v1-shaped sequences (one episode per row)."""
    g = torch.Generator().manual_seed(seed)
    first = torch.zeros(b, t, dtype=torch.bool)
    first[:, 0] = True
    return SequenceBatch(
        torch.rand(b, t, OBS_DIM, generator=g),
        torch.randint(0, NUM_ACTIONS, (b, t), generator=g),
        torch.rand(b, t, generator=g),
        torch.zeros(b, t),
        first,
        torch.ones(b, t, dtype=torch.bool),
    )


def lucidgym_step(batch: SequenceBatch, preset: str | None, **overrides: Any) -> Callable[[], Any]:
    """One training step of lucidgym's ``rssm`` (``preset`` or the default config)."""
    env = gym.make("Tutoring-v1")
    model = make_world_model(
        "rssm", env.observation_space, env.action_space, preset=preset, **overrides
    )
    model.fit_normalization(batch)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    return lambda: train_step(model, optimizer, batch)


def port_step(port: Path, batch: SequenceBatch) -> Callable[[], None]:
    """One training step of the port's RSSM, encoder, heads and KL on ``batch``."""
    sys.path.insert(0, str(port))
    import networks  # type: ignore[import-not-found]  # the port's module, from --port

    units, embed = 256, 256
    rssm = networks.RSSM(
        stoch=128, deter=512, hidden=256, rec_depth=1, discrete=False, act="SiLU",
        norm=True, mean_act="none", std_act="sigmoid2", min_std=0.1, unimix_ratio=0.01,
        initial="learned", num_actions=NUM_ACTIONS, embed=embed, device="cpu",
    )  # fmt: skip
    feat = 128 + 512
    encoder = networks.MLP(OBS_DIM, None, 1, units, device="cpu", name="Encoder")
    decoder = networks.MLP(feat, (OBS_DIM,), 1, units, dist="symlog_mse", device="cpu")
    reward = networks.MLP(feat, (255,), 1, units, dist="symlog_disc", device="cpu")
    cont = networks.MLP(feat, (), 1, units, dist="binary", device="cpu")
    parts = torch.nn.ModuleList([rssm, encoder, decoder, reward, cont])
    optimizer = torch.optim.Adam(parts.parameters(), lr=1e-4)
    action = torch.nn.functional.one_hot(batch.action, NUM_ACTIONS).float()
    is_first = batch.is_first.float()

    def run() -> None:
        embedded = encoder(batch.obs)
        post, prior = rssm.observe(embedded, action, is_first)
        kl, _, _, _ = rssm.kl_loss(post, prior, 1.0, 0.5, 0.1)
        features = rssm.get_feat(post)
        loss = kl.mean()
        loss = loss - decoder(features).log_prob(batch.obs).mean()
        loss = loss - reward(features).log_prob(batch.reward.unsqueeze(-1)).mean()
        loss = loss - cont(features).log_prob(1.0 - batch.terminal.unsqueeze(-1)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parts.parameters(), 1000.0)
        optimizer.step()

    return run


def interleaved(steps: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each step, the steps timed in turn ``repeats`` times."""
    for run in steps.values():
        run()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, run in steps.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}


def gflops(run: Callable[[], Any]) -> float:
    """Billions of floating-point operations in one call of ``run``, as torch's profiler
    counts them (matrix products and convolutions, which dominate these steps)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        run()
    return sum(event.flops for event in prof.key_averages()) / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=Path, default=None, help="a dreamerv3-torch checkout")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    if args.port is None or not (args.port / "networks.py").is_file():
        print(f"skipped: no dreamerv3-torch checkout at {args.port} (pass --port DIR)")
        return 0
    torch.set_num_threads(1)
    torch.manual_seed(0)
    batch = random_batch(args.batch, args.length)
    steps = {
        "dreamerv3-torch RSSM": port_step(args.port, batch),
        "lucidgym rssm (kat2)": lucidgym_step(batch, "kat2"),
        "lucidgym rssm (kat2, no overshooting)": lucidgym_step(batch, "kat2", rollout_horizon=0),
        "lucidgym rssm (default)": lucidgym_step(batch, None),
    }
    medians = interleaved(steps, args.repeats)
    work = {name: gflops(run) for name, run in steps.items()}
    port = medians["dreamerv3-torch RSSM"]
    lines = [
        f"B={args.batch}, T={args.length}, one thread, torch {torch.__version__}; medians of "
        f"{args.repeats} interleaved steps.",
        "",
        "| model | ms per training step | speed vs the port | GFLOP per step | GFLOP/s |",
        "|---|---|---|---|---|",
        *(
            f"| {name} | {t * 1e3:.0f} | {port / t:.2f}x | {work[name]:.1f} "
            f"| {work[name] / t:.0f} |"
            for name, t in medians.items()
        ),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
