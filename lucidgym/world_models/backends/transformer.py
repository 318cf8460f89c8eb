"""The ``transformer`` backend: causal attention over a window of past steps.

Row ``t`` is a token made of ``(obs_t, action_t)``; attending to the last
``window`` tokens of the same episode, its output predicts ``obs_{t+1} - obs_t``,
``reward_t`` and ``terminal_t``. Positions enter as a learned bias per head on the
age ``t - s`` of each attended token, so training on long sequences and stepping
one token at a time use the same parameters. The state caches the attention keys
and values of the past tokens per layer, so a dreamed step costs one token's work and
equals the last row of the training pass. Image observations are flattened
(``rssm`` suits them better).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.layers import mlp
from lucidgym.world_models.protocol import Prediction, SequenceBatch


@dataclass
class TransformerConfig:
    """Configuration of the ``transformer`` backend."""

    d_model: int = 64
    """Width of the tokens."""
    num_heads: int = 4
    """Attention heads per layer."""
    num_layers: int = 2
    """Transformer blocks."""
    window: int = 16
    """Tokens attended to, the current one included."""
    recon_scale: float = 1.0
    """Weight of the next-observation loss."""
    reward_scale: float = 1.0
    """Weight of the reward loss."""
    done_scale: float = 1.0
    """Weight of the termination loss."""
    terminal_weight: float = 1.0
    """Weight of a terminal step's termination loss against a non-terminal one's."""

    def __post_init__(self) -> None:
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model {self.d_model} must divide by num_heads {self.num_heads}")
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")


class TransformerState(NamedTuple):
    """State of the ``transformer`` backend (``W`` window, ``L`` layers, ``d`` width)."""

    keys: Tensor
    """``[B, L, W-1, d]`` attention keys of the past steps per layer, oldest first."""
    values: Tensor
    """``[B, L, W-1, d]`` attention values of the past steps per layer."""
    filled: Tensor
    """``[B, W-1]`` bool: which of those slots hold a step of the current episode."""
    obs: Tensor
    """``[B, *O]`` the current observation (environment scale)."""


class Block(nn.Module):
    """Pre-norm transformer block whose attention takes an additive bias."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        """``x [B, L, width]``, ``bias [B, heads, L, L]`` -> ``[B, L, width]``."""
        b, n, w = x.shape
        qkv = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, w // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, w))
        return x + self.ff(self.norm2(x))

    def step(self, x: Tensor, keys: Tensor, values: Tensor, bias: Tensor) -> tuple[Tensor, ...]:
        """One new token ``x [B, width]`` against cached ``keys``/``values [B, W-1, width]``.

        ``bias [B, heads, 1, W]``. Returns the token's output and its own key and value,
        exactly what :meth:`forward` computes for the last row of a window.
        """
        b, w = x.shape
        hd = w // self.heads
        q, k, v = self.qkv(self.norm1(x)).chunk(3, -1)
        all_k = torch.cat([keys, k[:, None]], 1).view(b, -1, self.heads, hd).transpose(1, 2)
        all_v = torch.cat([values, v[:, None]], 1).view(b, -1, self.heads, hd).transpose(1, 2)
        att = F.scaled_dot_product_attention(q.view(b, self.heads, 1, hd), all_k, all_v, bias)
        x = x + self.proj(att.reshape(b, w))
        return x + self.ff(self.norm2(x)), k, v


class TransformerWorldModel(WorldModelBase):
    """Windowed causal transformer predicting the normalized observation delta.

    Args:
        observation_space: a ``Box`` (images are flattened).
        action_space: ``Discrete`` (one-hot) or ``Box`` (raw).
        config: sizes, window and loss weights.
    """

    name = "transformer"
    config_class = TransformerConfig

    def __init__(
        self,
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        config: TransformerConfig | None = None,
    ) -> None:
        config = config or TransformerConfig()
        super().__init__(observation_space, action_space, config)
        self.config: TransformerConfig = config
        width, d = config.d_model, self.obs_dim
        self.token_dim = d + self.actions.dim
        self.embed = nn.Linear(self.token_dim, width)
        self.age_bias = nn.Parameter(torch.zeros(config.num_heads, config.window))
        self.blocks = nn.ModuleList(
            Block(width, config.num_heads) for _ in range(config.num_layers)
        )
        self.norm_out = nn.LayerNorm(width)
        self.head = mlp(width + self.token_dim, width, d + 2, 1)

    def initial_state(self, batch_size: int) -> TransformerState:
        """An empty window and zero observations for ``batch_size`` rows."""
        c = self.config
        w = c.window - 1
        cache = torch.zeros(batch_size, c.num_layers, w, c.d_model, device=self.device)
        return TransformerState(
            cache,
            cache.clone(),
            torch.zeros(batch_size, w, dtype=torch.bool, device=self.device),
            torch.zeros(batch_size, *self.obs_shape, device=self.device),
        )

    def _encode(self, tokens: Tensor, allowed: Tensor) -> Tensor:
        """``tokens [B, L, D+A]``, ``allowed [B, L, L]`` (query, key) -> outputs ``[B, L, D+2]``."""
        n = tokens.shape[1]
        pos = torch.arange(n, device=tokens.device)
        age = (pos[:, None] - pos[None, :]).clamp(0, self.config.window - 1)
        bias = self.age_bias[:, age].unsqueeze(0)
        bias = bias.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, bias)
        return self.head(torch.cat([self.norm_out(x), tokens], -1))

    def _token(self, obs: Tensor, action: Tensor) -> Tensor:
        return torch.cat([self.norm.obs(obs).reshape(obs.shape[0], -1), action], -1)

    def _step(self, state: TransformerState, action: Tensor) -> tuple[TransformerState, Tensor]:
        """Read ``(state.obs, action)`` as a new token using the cached keys and values.

        Returns the state with the token's keys and values cached (obs unchanged) and
        the outputs ``[B, D+2]``; the same as the last row of the training pass.
        """
        token = self._token(state.obs, action)
        filled = torch.cat([state.filled, torch.ones_like(state.filled[:, :1])], 1)
        # Slot j of the window is W - 1 - j steps old.
        bias = self.age_bias.flip(-1)[None, :, None, :]
        bias = bias.masked_fill(~filled[:, None, None, :], float("-inf"))
        x = self.embed(token)
        keys, values = [], []
        for i, module in enumerate(self.blocks):
            block: Block = module  # type: ignore[assignment]
            x, k, v = block.step(x, state.keys[:, i], state.values[:, i], bias)
            keys.append(k)
            values.append(v)
        out = self.head(torch.cat([self.norm_out(x), token], -1))
        new_keys = torch.cat([state.keys, torch.stack(keys, 1)[:, :, None]], 2)[:, :, 1:]
        new_values = torch.cat([state.values, torch.stack(values, 1)[:, :, None]], 2)[:, :, 1:]
        return TransformerState(new_keys, new_values, filled[:, 1:], state.obs), out

    def _predict(self, obs: Tensor, out: Tensor) -> Prediction:
        return self.decode(obs, out[:, :-2], out[:, -2], out[:, -1])

    def _observe(
        self, state: TransformerState, action: Tensor | None, obs: Tensor
    ) -> tuple[TransformerState, Prediction]:
        if action is None:
            fresh = self.initial_state(obs.shape[0])
            return fresh._replace(obs=obs), self.prior_prediction(obs.shape[0])
        new, out = self._step(state, action)
        return new._replace(obs=obs), self._predict(state.obs, out)

    def _imagine(
        self, state: TransformerState, action: Tensor
    ) -> tuple[TransformerState, Prediction]:
        new, out = self._step(state, action)
        pred = self._predict(state.obs, out)
        return new._replace(obs=pred.obs), pred

    def loss(self, batch: SequenceBatch) -> tuple[Tensor, dict[str, float]]:
        """One-step losses on ``batch [B, T, ...]``, all rows in one pass.

        Attention never crosses an ``is_first`` row nor reaches past the window;
        transitions are masked by ``valid``.
        Returns ``(total, {"loss/recon", "loss/reward", "loss/done", "loss/total"})``.
        """
        batch = self.check_batch(batch)
        b, t = batch.reward.shape
        tokens = torch.cat(
            [self.norm.obs(batch.obs).reshape(b, t, -1), self.actions.encode(batch.action)], -1
        )
        episode = batch.is_first.long().cumsum(1)
        pos = torch.arange(t, device=self.device)
        age = pos[:, None] - pos[None, :]
        in_window = (age >= 0) & (age < self.config.window)
        allowed = in_window & (episode[:, :, None] == episode[:, None, :])
        out = self._encode(tokens, allowed)
        return self.one_step_loss(batch, out[..., :-2], out[..., -2], out[..., -1])
