"""The network of the ``baby`` agent: encoder, transformer core and three heads.

Kept apart from the agent (:mod:`lucidgym.agents.baby`), which owns the learning loop,
as mbrl-lib keeps networks apart from what trains them. :class:`ObservationWindows`
holds the rolling windows of observations the transformer reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from lucidgym.agents.baby import BabyConfig


class BabyModel(nn.Module):
    """Encoder, transformer core, and the action, world-model and value heads."""

    def __init__(self, obs_dim: int, num_actions: int, config: BabyConfig) -> None:
        super().__init__()
        d = config.d_model
        self.num_actions = num_actions
        first, second = nn.Linear(obs_dim, d), nn.Linear(d, d)
        # Biases start at zero: default-initialised ones add one shared vector to every
        # token, so distinct observations start out alike (cosine about 0.7 between two
        # one-hot symbols), an update for one moves the policy for all, and it collapses
        # onto a few actions before it tells the observations apart.
        nn.init.zeros_(first.bias)
        nn.init.zeros_(second.bias)
        self.encoder = nn.Sequential(first, nn.ReLU(), second)
        # Index ``num_actions`` stands for "no action yet" (the first token of an episode).
        self.action_embed = nn.Embedding(num_actions + 1, d)
        # Unit-variance embeddings would drown the encoded observation in each token.
        nn.init.normal_(self.action_embed.weight, std=0.02)
        self.position = nn.Parameter(torch.zeros(config.window, d))
        # Attention bias ``-slope * distance`` with one slope per head, geometric from
        # ``recency_bias`` down (as in ALiBi): some heads start out reading the newest
        # token, others the whole window. Without it every head starts by averaging the
        # window, which buries the current observation in unrelated ones.
        self.num_heads = config.num_heads
        slopes = config.recency_bias * 0.25 ** torch.arange(config.num_heads).float()
        position = torch.arange(config.window)
        distance = (position[:, None] - position[None, :]).abs().float()
        self.attention_bias: Tensor
        self.register_buffer("attention_bias", -slopes[:, None, None] * distance, persistent=False)
        layer = nn.TransformerEncoderLayer(
            d, config.num_heads, config.ff_dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.core = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.action_head = nn.Linear(d, num_actions)
        self.world_model_head = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, obs_dim))
        self.value_head = nn.Sequential(nn.Linear(d, d // 2), nn.ReLU(), nn.Linear(d // 2, 1))

    def forward(self, obs: Tensor, prev_action: Tensor, mask: Tensor) -> Tensor:
        """The newest token's features.

        Args:
            obs: ``[B, W, O]`` observations, oldest first.
            prev_action: ``[B, W]`` int64 action that led to each observation.
            mask: ``[B, W]`` bool, True where a position holds an observation.

        Returns:
            ``[B, d_model]`` features of position ``W - 1``.
        """
        tokens = self.encoder(obs) + self.action_embed(prev_action) + self.position
        padding = torch.zeros(mask.shape, device=obs.device).masked_fill(~mask, float("-inf"))
        # ``[B * heads, W, W]``: per-head recency bias plus the padded keys of each row.
        bias = self.attention_bias[None] + padding[:, None, None, :]
        hidden = self.core(tokens, mask=bias.flatten(0, 1))
        return self.norm(hidden[:, -1])  # type: ignore[no-any-return]

    def logits(self, features: Tensor) -> Tensor:
        """``[B, A]`` action logits."""
        return self.action_head(features)  # type: ignore[no-any-return]

    def value(self, features: Tensor) -> Tensor:
        """``[B]`` value estimates."""
        return self.value_head(features).squeeze(-1)  # type: ignore[no-any-return]

    def predict_next(self, features: Tensor, action: Tensor) -> Tensor:
        """``[B, O]`` the raw next observation after ``action [B]``."""
        joint = torch.cat([features, self.action_embed(action)], dim=-1)
        return self.world_model_head(joint)  # type: ignore[no-any-return]


class ObservationWindows:
    """``N`` rolling windows of observations and the actions that led to them."""

    def __init__(self, n: int, window: int, obs_dim: int, none_action: int) -> None:
        self.obs = np.zeros((n, window, obs_dim), dtype=np.float32)
        self.prev_action = np.full((n, window), none_action, dtype=np.int64)
        self.mask = np.zeros((n, window), dtype=bool)
        self.none_action = none_action

    def push(self, obs: np.ndarray, prev_action: np.ndarray, first: np.ndarray) -> None:
        """Append ``obs [N, O]``; rows where ``first`` start a new episode."""
        for array in (self.obs, self.prev_action, self.mask):
            array[:, :-1] = array[:, 1:]
        self.mask[first] = False
        self.obs[:, -1] = obs
        self.prev_action[:, -1] = np.where(first, self.none_action, prev_action)
        self.mask[:, -1] = True

    def tensors(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """Copies of the windows on ``device``: observations, previous actions, mask."""
        return (
            torch.as_tensor(self.obs.copy(), device=device),
            torch.as_tensor(self.prev_action.copy(), device=device),
            torch.as_tensor(self.mask.copy(), device=device),
        )
