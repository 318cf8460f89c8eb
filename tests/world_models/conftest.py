"""What the world-model tests share: spaces, small backend sizes, a known system to learn.

The helpers are imported by name (``from tests.world_models.conftest import ...``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lucidgym.world_models import SequenceBatch, make_world_model
from lucidgym.world_models.trainer import train_step

OBS_SPACE = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
DISCRETE = gym.spaces.Discrete(3)

# Small sizes so that every learning test takes a few seconds on one core.
SMALL: dict[str, dict[str, Any]] = {
    "mlp": {"hidden_size": 64},
    "lstm": {"hidden_size": 64},
    "transformer": {"d_model": 32, "num_heads": 2, "window": 8},
    "ensemble": {"num_members": 3, "hidden_size": 64},
    "rssm": {
        "deter_size": 64,
        "stoch_size": 16,
        "embed_size": 32,
        "hidden_size": 64,
        "encoder_hidden": 64,
        "decoder_hidden": 64,
    },
}


def linear_system_data(
    n_seq: int, *, seed: int, ep_len: int = 12, eps_per_seq: int = 2, box: bool = False
) -> SequenceBatch:
    """Sequences of a damped rotating linear system driven by random actions.

    ``x' = A x + B u``: two damped rotations (so "nothing changes" is a poor guess),
    reward ``-x_0^2 + 0.5 [a = 1]``. Each sequence holds ``eps_per_seq`` episodes of
    ``ep_len`` steps in the row convention (last obs of an episode: ``valid=False``).
    """
    rng = np.random.default_rng(seed)
    th = 0.35
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    a_mat = np.zeros((4, 4))
    a_mat[:2, :2], a_mat[2:, 2:] = 0.97 * rot, 0.9 * rot.T
    b_mat = np.array([[0.5, -0.5, 0.0], [0.0, 0.3, -0.3], [0.2, 0.0, 0.4], [0.0, 0.3, 0.0]])
    rows = ep_len + 1
    t = rows * eps_per_seq
    obs = np.zeros((n_seq, t, 4), np.float32)
    act = np.zeros((n_seq, t, 2), np.float32) if box else np.zeros((n_seq, t), np.int64)
    rew = np.zeros((n_seq, t), np.float32)
    is_first = np.zeros((n_seq, t), bool)
    valid = np.zeros((n_seq, t), bool)
    for e in range(eps_per_seq):
        x = rng.normal(0, 1, (n_seq, 4))
        for k in range(rows):
            i = e * rows + k
            obs[:, i], is_first[:, i] = x, k == 0
            if k == ep_len:
                break
            valid[:, i] = True
            if box:
                u = rng.uniform(-1, 1, (n_seq, 2))
                act[:, i] = u
                rew[:, i] = -(x[:, 0] ** 2) + 0.5 * u[:, 0]
                x = x @ a_mat.T + u @ b_mat[:, :2].T
            else:
                a = rng.integers(0, 3, n_seq)
                act[:, i] = a
                rew[:, i] = -(x[:, 0] ** 2) + 0.5 * (a == 1)
                x = x @ a_mat.T + b_mat[:, a].T
    return SequenceBatch(
        torch.tensor(obs),
        torch.tensor(act),
        torch.tensor(rew),
        torch.zeros(n_seq, t),
        torch.tensor(is_first),
        torch.tensor(valid),
    )


def train(model: Any, data: SequenceBatch, steps: int, lr: float = 3e-3, batch: int = 16) -> None:
    """A few unclipped Adam steps on minibatches of sequences."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, data.obs.shape[0], (batch,), generator=gen)
        train_step(model, opt, SequenceBatch(*(f[idx] for f in data)), grad_clip=None)


def open_loop_error(model: Any, data: SequenceBatch, horizon: int) -> tuple[float, float]:
    """Mean absolute error of the open-loop dream at ``horizon``, and of persistence."""
    model.eval()
    with torch.no_grad():
        state, _ = model.observe(model.initial_state(data.obs.shape[0]), None, data.obs[:, 0])
        dream = model.rollout(state, data.action[:, :horizon])
        err = (dream.obs[:, horizon - 1] - data.obs[:, horizon]).abs().mean().item()
        persistence = (data.obs[:, 0] - data.obs[:, horizon]).abs().mean().item()
    return err, persistence


def learning_check(name: str, steps: int, ratio: float, **config: Any) -> None:
    """Loss falls by half and the dream beats persistence by ``ratio`` at horizon 8.

    ``config`` overrides the :data:`SMALL` config of the backend.
    """
    torch.manual_seed(0)
    data, held_out = linear_system_data(128, seed=0), linear_system_data(64, seed=1)
    model = make_world_model(name, OBS_SPACE, DISCRETE, **{**SMALL[name], **config})
    model.fit_normalization(data)
    model.eval()
    with torch.no_grad():
        before = model.loss(held_out)[1]
    model.train()
    train(model, data, steps)
    model.eval()
    with torch.no_grad():
        after = model.loss(held_out)[1]
    assert after["loss/recon"] < 0.5 * before["loss/recon"], (before, after)
    assert after["loss/reward"] < 0.5 * before["loss/reward"], (before, after)
    err, persistence = open_loop_error(model, held_out, 8)
    assert err < ratio * persistence, (err, persistence)
