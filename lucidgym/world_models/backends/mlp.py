"""The ``mlp`` backend: a feed-forward model of one step.

``(obs_t, action_t) -> (obs_{t+1} - obs_t, reward_t, terminal_t)``; the state is the
last observation. Image observations are flattened (this works for small images;
``rssm`` with its CNN encoder suits them better).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import torch
from torch import Tensor

from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.layers import mlp
from lucidgym.world_models.protocol import Prediction, SequenceBatch


@dataclass
class MLPConfig:
    """Configuration of the ``mlp`` backend."""

    hidden_size: int = 128
    """Units per hidden layer."""
    num_layers: int = 2
    """Number of hidden layers."""
    recon_scale: float = 1.0
    """Weight of the next-observation loss."""
    reward_scale: float = 1.0
    """Weight of the reward loss."""
    done_scale: float = 1.0
    """Weight of the termination loss."""
    terminal_weight: float = 1.0
    """Weight of a terminal step's termination loss against a non-terminal one's."""


class MLPState(NamedTuple):
    """State of the ``mlp`` backend."""

    obs: Tensor
    """``[B, *O]`` the current observation (environment scale)."""


class MLPWorldModel(WorldModelBase):
    """Feed-forward one-step model (predicts the normalized observation delta).

    Args:
        observation_space: a ``Box`` (images are flattened).
        action_space: ``Discrete`` (one-hot) or ``Box`` (raw).
        config: sizes and loss weights.
    """

    name = "mlp"
    config_class = MLPConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        config: MLPConfig | None = None,
    ) -> None:
        config = config or MLPConfig()
        super().__init__(observation_space, action_space, config)
        self.config: MLPConfig = config
        d = self.obs_dim
        self.net = mlp(d + self.actions.dim, config.hidden_size, d + 2, config.num_layers)

    def initial_state(self, batch_size: int) -> MLPState:
        """Zero observations ``[batch_size, *O]`` (replaced by the first ``observe``)."""
        return MLPState(torch.zeros(batch_size, *self.obs_shape, device=self.device))

    def forward(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``obs [N, *O]`` (env scale), encoded ``action [N, A]`` -> normalized outputs.

        Returns ``(delta [N, D] / delta_scale, reward [N] normalized, done logit [N])``.
        """
        x = self.norm.obs(obs).reshape(obs.shape[0], -1)
        out = self.net(torch.cat([x, action], -1))
        return out[:, :-2], out[:, -2], out[:, -1]

    def _predict(self, obs: Tensor, action: Tensor) -> Prediction:
        return self.decode(obs, *self.forward(obs, action))

    def _observe(
        self, state: MLPState, action: Tensor | None, obs: Tensor
    ) -> tuple[MLPState, Prediction]:
        if action is None:
            return MLPState(obs), self.prior_prediction(obs.shape[0])
        return MLPState(obs), self._predict(state.obs, action)

    def _imagine(self, state: MLPState, action: Tensor) -> tuple[MLPState, Prediction]:
        pred = self._predict(state.obs, action)
        return MLPState(pred.obs), pred

    def loss(self, batch: SequenceBatch) -> tuple[Tensor, dict[str, float]]:
        """One-step losses on ``batch`` (``[B, T, ...]``), transitions masked by ``valid``.

        Returns ``(total, {"loss/recon", "loss/reward", "loss/done", "loss/total"})``.
        """
        batch = self.check_batch(batch)
        b, t = batch.reward.shape
        obs = batch.obs.reshape(b * t, *self.obs_shape)
        action = self.actions.encode(batch.action.reshape(b * t, *self.actions.shape))
        delta, reward, done = self.forward(obs, action)
        return self.one_step_loss(batch, delta.view(b, t, -1), reward.view(b, t), done.view(b, t))
