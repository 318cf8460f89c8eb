"""The ``lstm`` backend: a recurrent one-step model with memory.

At row ``t`` the LSTM reads ``(obs_t, action_t)`` and its output predicts
``obs_{t+1} - obs_t``, ``reward_t`` and ``terminal_t``; the memory lets it model
partially observed dynamics. The state is the LSTM memory plus the current
observation, which the next action is applied to. Image observations are
flattened (``rssm`` suits them better).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import torch
from torch import Tensor, nn

from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.layers import mlp
from lucidgym.world_models.protocol import Prediction, SequenceBatch


@dataclass
class LSTMConfig:
    """Configuration of the ``lstm`` backend."""

    hidden_size: int = 128
    """Units of the LSTM memory and of the input and output MLPs."""
    num_layers: int = 1
    """Hidden layers of the input and output MLPs."""
    recon_scale: float = 1.0
    """Weight of the next-observation loss."""
    reward_scale: float = 1.0
    """Weight of the reward loss."""
    done_scale: float = 1.0
    """Weight of the termination loss."""
    terminal_weight: float = 1.0
    """Weight of a terminal step's termination loss against a non-terminal one's."""


class LSTMState(NamedTuple):
    """State of the ``lstm`` backend."""

    h: Tensor
    """``[B, hidden]`` LSTM output memory."""
    c: Tensor
    """``[B, hidden]`` LSTM cell memory."""
    obs: Tensor
    """``[B, *O]`` the current observation (environment scale), not yet read."""


class LSTMWorldModel(WorldModelBase):
    """LSTM over ``(obs, action)`` rows predicting the normalized observation delta.

    Args:
        observation_space: a ``Box`` (images are flattened).
        action_space: ``Discrete`` (one-hot) or ``Box`` (raw).
        config: sizes and loss weights.
    """

    name = "lstm"
    config_class = LSTMConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        config: LSTMConfig | None = None,
    ) -> None:
        config = config or LSTMConfig()
        super().__init__(observation_space, action_space, config)
        self.config: LSTMConfig = config
        width, d = config.hidden_size, self.obs_dim
        self.inp = mlp(d + self.actions.dim, width, width, config.num_layers)
        self.cell = nn.LSTMCell(width, width)
        self.head = mlp(width + d + self.actions.dim, width, d + 2, config.num_layers)

    def initial_state(self, batch_size: int) -> LSTMState:
        """Empty memory and zero observations for ``batch_size`` rows."""
        zeros = torch.zeros(batch_size, self.config.hidden_size, device=self.device)
        obs = torch.zeros(batch_size, *self.obs_shape, device=self.device)
        return LSTMState(zeros, zeros.clone(), obs)

    def _step(
        self, h: Tensor, c: Tensor, obs: Tensor, action: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Read one row: memory ``[N, hidden]``, ``obs [N, *O]``, encoded ``action [N, A]``.

        Returns the new ``(h, c)`` and the outputs ``[N, D + 2]`` (normalized delta,
        normalized reward, done logit).
        """
        x = torch.cat([self.norm.obs(obs).reshape(obs.shape[0], -1), action], -1)
        h, c = self.cell(self.inp(x), (h, c))
        return h, c, self.head(torch.cat([h, x], -1))

    def _predict(self, obs: Tensor, out: Tensor) -> Prediction:
        return self.decode(obs, out[:, :-2], out[:, -2], out[:, -1])

    def _observe(
        self, state: LSTMState, action: Tensor | None, obs: Tensor
    ) -> tuple[LSTMState, Prediction]:
        if action is None:
            fresh = self.initial_state(obs.shape[0])
            return LSTMState(fresh.h, fresh.c, obs), self.prior_prediction(obs.shape[0])
        h, c, out = self._step(state.h, state.c, state.obs, action)
        return LSTMState(h, c, obs), self._predict(state.obs, out)

    def _imagine(self, state: LSTMState, action: Tensor) -> tuple[LSTMState, Prediction]:
        h, c, out = self._step(state.h, state.c, state.obs, action)
        pred = self._predict(state.obs, out)
        return LSTMState(h, c, pred.obs), pred

    def loss(self, batch: SequenceBatch) -> tuple[Tensor, dict[str, float]]:
        """Teacher-forced one-step losses on ``batch [B, T, ...]``.

        The memory resets where ``is_first``; transitions are masked by ``valid``.
        Returns ``(total, {"loss/recon", "loss/reward", "loss/done", "loss/total"})``.
        """
        batch = self.check_batch(batch)
        b, t = batch.reward.shape
        x = torch.cat(
            [
                self.norm.obs(batch.obs).reshape(b, t, -1),
                self.actions.encode(batch.action),
            ],
            -1,
        )
        # The input MLP runs on every row at once; only the cell is stepped in time.
        z = self.inp(x)
        keep = (~batch.is_first).float().unsqueeze(-1)
        h = torch.zeros(b, self.config.hidden_size, device=self.device)
        c = torch.zeros_like(h)
        hs = []
        for i in range(t):
            h, c = self.cell(z[:, i], (h * keep[:, i], c * keep[:, i]))
            hs.append(h)
        out = self.head(torch.cat([torch.stack(hs, 1), x], -1))
        return self.one_step_loss(batch, out[..., :-2], out[..., -2], out[..., -1])
