"""The ``ensemble`` backend: N probabilistic MLPs trained on bootstrapped data.

Each member maps ``(obs_t, action_t)`` to a diagonal Gaussian over the normalized
observation delta and the reward (mean and log-variance, PETS style) and a done
logit. Members see the same batch with their own online-bootstrap weights
(``Poisson(1)`` per sequence), so they disagree where data is thin: that
disagreement is the epistemic uncertainty in :attr:`Prediction.uncertainty`.
Image observations are flattened (``rssm`` suits them better). All members run in
one batched matrix product per layer.

With ``history = k > 1`` the members also read the ``k - 1`` observations before the
current one and the actions taken after each, the newest first: a ``k``-th order
Markov model, for envs whose observation hides part of the state (a window of noisy
readings averages out their noise; answers over several steps reveal a rate). Before
an episode's start the window holds zeros and an absent flag. In training a row counts
only where its window is complete, reaching ``k - 1`` rows back or to the episode's
start, so sequences of ``seq_len`` rows give ``seq_len - k + 1`` rows mid-episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.layers import done_bce, masked_mean
from lucidgym.world_models.protocol import Prediction, SequenceBatch


@dataclass
class EnsembleConfig:
    """Configuration of the ``ensemble`` backend."""

    num_members: int = 5
    """Number of ensemble members N."""
    hidden_size: int = 128
    """Units per hidden layer of each member."""
    num_layers: int = 2
    """Hidden layers per member."""
    imagine_mode: str = "mean"
    """How ``imagine`` combines members: ``"mean"`` of means, or a ``"random"`` one per row."""
    sample: bool = False
    """Whether ``imagine`` samples the member's Gaussian instead of taking its mean."""
    bootstrap: bool = True
    """Whether each member weights sequences by its own ``Poisson(1)`` draw per batch."""
    recon_scale: float = 1.0
    """Weight of the next-observation Gaussian NLL."""
    reward_scale: float = 1.0
    """Weight of the reward Gaussian NLL."""
    done_scale: float = 1.0
    """Weight of the termination loss."""
    terminal_weight: float = 1.0
    """Weight of a terminal step's termination loss against a non-terminal one's."""
    history: int = 1
    """Observations each member reads: 1, the current one (Markov in the observation);
    ``k > 1`` adds the ``k - 1`` before it with the actions between (module docstring)."""

    def __post_init__(self) -> None:
        if self.history < 1:
            raise ValueError(f"history must be at least 1, got {self.history}")
        if self.imagine_mode not in ("mean", "random"):
            raise ValueError(f"imagine_mode must be 'mean' or 'random', got {self.imagine_mode!r}")
        if self.num_members < 1:
            raise ValueError(f"num_members must be at least 1, got {self.num_members}")


class EnsembleState(NamedTuple):
    """State of the ``ensemble`` backend."""

    obs: Tensor
    """``[B, *O]`` the current observation (environment scale)."""
    past: Tensor
    """``[B, history - 1, D + A + 1]`` the earlier observations (normalized, flattened),
    each with the encoded action that followed it and a present flag, the newest first."""


class EnsembleLinear(nn.Module):
    """``N`` independent linear layers: ``[N, M, in] -> [N, M, out]``."""

    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        """``[N, M, in] -> [N, M, out]``."""
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleWorldModel(WorldModelBase):
    """Bootstrapped ensemble of Gaussian one-step MLPs with disagreement.

    Args:
        observation_space: a ``Box`` (images are flattened).
        action_space: ``Discrete`` (one-hot) or ``Box`` (raw).
        config: members, sizes, imagination mode and loss weights.
    """

    name = "ensemble"
    config_class = EnsembleConfig
    STOCHASTIC_DREAMS = {"imagine_mode": "random", "sample": True}

    def __init__(
        self,
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        config: EnsembleConfig | None = None,
    ) -> None:
        config = config or EnsembleConfig()
        super().__init__(observation_space, action_space, config)
        self.config: EnsembleConfig = config
        n, d, width = config.num_members, self.obs_dim, config.hidden_size
        layers: list[nn.Module] = []
        self.entry_dim = d + self.actions.dim + 1
        """Width of one earlier step in :attr:`EnsembleState.past`."""
        in_dim = d + self.actions.dim + (config.history - 1) * self.entry_dim
        for _ in range(config.num_layers):
            layers += [EnsembleLinear(n, in_dim, width), nn.SiLU()]
            in_dim = width
        # Outputs: delta mean and log-variance (D each), reward mean and log-variance, done.
        layers.append(EnsembleLinear(n, in_dim, 2 * d + 3))
        self.net = nn.Sequential(*layers)
        # Soft bounds on the log-variance, learned (PETS): keep the NLL well behaved.
        self.max_logvar = nn.Parameter(torch.full((d + 1,), 0.5))
        self.min_logvar = nn.Parameter(torch.full((d + 1,), -10.0))

    def initial_state(self, batch_size: int) -> EnsembleState:
        """Zero observations ``[batch_size, *O]`` (replaced by the first ``observe``)."""
        return EnsembleState(
            torch.zeros(batch_size, *self.obs_shape, device=self.device),
            self._empty_past(batch_size),
        )

    def _empty_past(self, batch_size: int) -> Tensor:
        shape = (batch_size, self.config.history - 1, self.entry_dim)
        return torch.zeros(shape, device=self.device)

    def _remember(self, state: EnsembleState, action: Tensor) -> Tensor:
        """``state.past`` with ``state.obs`` and the ``action`` taken there in front."""
        if self.config.history == 1:
            return state.past
        obs = self.norm.obs(state.obs).reshape(state.obs.shape[0], -1)
        present = torch.ones(obs.shape[0], 1, device=obs.device)
        entry = torch.cat([obs, action, present], -1)[:, None]
        return torch.cat([entry, state.past[:, :-1]], 1)

    def forward(
        self, obs: Tensor, action: Tensor, past: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Every member on ``obs [M, *O]`` (env scale) and encoded ``action [M, A]``.

        ``past [M, history - 1, D + A + 1]`` is the window of earlier steps
        (:attr:`EnsembleState.past`); ``None`` only where ``history`` is 1.

        Returns ``(mean [N, M, D+1], logvar [N, M, D+1], done logit [N, M])``: the last of
        the ``D + 1`` outputs is the normalized reward, the others the normalized delta.
        """
        parts = [self.norm.obs(obs).reshape(obs.shape[0], -1), action]
        if self.config.history > 1:
            if past is None:
                raise ValueError("forward: past is needed where history > 1")
            parts.append(past.reshape(obs.shape[0], -1))
        x = torch.cat(parts, -1)
        out = self.net(x.unsqueeze(0).expand(self.config.num_members, -1, -1))
        d = self.obs_dim + 1
        mean, logvar = out[..., :d], out[..., d : 2 * d]
        logvar = self.max_logvar - F.softplus(self.max_logvar - logvar)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mean, logvar, out[..., -1]

    def _predict(self, obs: Tensor, action: Tensor, past: Tensor) -> Prediction:
        mean, logvar, done = self.forward(obs, action, past)
        center = mean.mean(0)
        if self.config.imagine_mode == "random":
            rows = torch.arange(obs.shape[0], device=obs.device)
            member = torch.randint(0, self.config.num_members, (obs.shape[0],), device=obs.device)
            out, done_logit = mean[member, rows], done[member, rows]
            if self.config.sample:
                lv = logvar[member, rows]
        else:
            out, done_logit = center, done.mean(0)
            if self.config.sample:
                lv = logvar.exp().mean(0).log()
        if self.config.sample:
            out = out + torch.randn_like(out) * (0.5 * lv).exp()
        # Epistemic uncertainty: spread of the members' means, averaged over outputs.
        # Written out: Tensor.std over the leading (member) dimension is 15-30x slower
        # on a CPU than these reductions, and took a third of a dreamed step.
        spread = (mean[..., :-1] - center[:, :-1]).square().mean(0).sqrt()
        disagreement = spread.mean(-1)
        return self.decode(obs, out[:, :-1], out[:, -1], done_logit, disagreement)

    def _observe(
        self, state: EnsembleState, action: Tensor | None, obs: Tensor
    ) -> tuple[EnsembleState, Prediction]:
        if action is None:
            fresh = EnsembleState(obs, self._empty_past(obs.shape[0]))
            return fresh, self.prior_prediction(obs.shape[0])
        pred = self._predict(state.obs, action, state.past)
        return EnsembleState(obs, self._remember(state, action)), pred

    def _imagine(self, state: EnsembleState, action: Tensor) -> tuple[EnsembleState, Prediction]:
        pred = self._predict(state.obs, action, state.past)
        return EnsembleState(pred.obs, self._remember(state, action)), pred

    def _batch_past(self, batch: SequenceBatch, action: Tensor) -> tuple[Tensor, Tensor]:
        """Every row's window of earlier steps, and where it is complete.

        Args:
            batch: a checked ``[B, T, ...]`` batch.
            action: ``[B, T, A]`` its encoded actions.

        Returns:
            ``(past [B, T, history - 1, D + A + 1], complete [B, T] bool)``: a window is
            complete where it reaches ``history - 1`` rows back, or to the episode's start.
        """
        b, t = batch.reward.shape
        obs = self.norm.obs(batch.obs.reshape(b * t, *self.obs_shape)).reshape(b, t, -1)
        steps = torch.cat([obs, action, torch.ones(b, t, 1, device=obs.device)], -1)
        # Rows before the sequence's first episode start belong to episode 0.
        episode = torch.cumsum(batch.is_first.long(), 1)
        lags = []
        for lag in range(1, self.config.history):
            if lag >= t:
                lags.append(torch.zeros_like(steps))
                continue
            earlier = F.pad(steps[:, :-lag], (0, 0, lag, 0))
            same = F.pad(episode[:, :-lag], (lag, 0), value=-1) == episode
            lags.append(earlier * same[..., None].to(earlier.dtype))
        past = torch.stack(lags, 2)
        index = torch.arange(t, device=obs.device).expand(b, t)
        complete = (index >= self.config.history - 1) | (episode > 0)
        return past, complete

    def loss(self, batch: SequenceBatch) -> tuple[Tensor, dict[str, float]]:
        """Gaussian NLL of every member on its bootstrap weighting of ``batch [B, T, ...]``.

        Returns ``(total, {"loss/recon", "loss/reward", "loss/done", "loss/total"})``.
        """
        batch = self.check_batch(batch)
        b, t = batch.reward.shape
        n = self.config.num_members
        obs = batch.obs.reshape(b * t, *self.obs_shape)
        action = self.actions.encode(batch.action.reshape(b * t, *self.actions.shape))
        past = None
        rows = batch.valid
        if self.config.history > 1:
            past, complete = self._batch_past(batch, action.view(b, t, -1))
            past = past.reshape(b * t, self.config.history - 1, self.entry_dim)
            rows = rows & complete
        mean, logvar, done = self.forward(obs, action, past)
        mean, logvar, done = mean.view(n, b, t, -1), logvar.view(n, b, t, -1), done.view(n, b, t)
        delta = ((batch.obs[:, 1:] - batch.obs[:, :-1]) / self.norm.delta_scale).reshape(
            b, t - 1, -1
        )
        reward = (batch.reward - self.norm.reward_loc) / self.norm.reward_scale
        nll = (mean - torch.cat([F.pad(delta, (0, 0, 0, 1)), reward[..., None]], -1)).pow(2)
        nll = nll * torch.exp(-logvar) + logvar
        if self.config.bootstrap:
            weight = torch.poisson(torch.ones(n, b, 1, device=self.device))
        else:
            weight = torch.ones(n, b, 1, device=self.device)
        step = torch.cat([rows[:, :-1], torch.zeros_like(rows[:, :1])], 1)
        bce = done_bce(done, batch.terminal.expand(n, -1, -1), self.config.terminal_weight)
        bounds = 0.01 * (self.max_logvar.sum() - self.min_logvar.sum())
        terms = {
            "loss/recon": masked_mean(nll[..., :-1].mean(-1) * weight, step.expand(n, -1, -1))
            + bounds,
            "loss/reward": masked_mean(nll[..., -1] * weight, rows.expand(n, -1, -1)),
            "loss/done": masked_mean(bce * weight, rows.expand(n, -1, -1)),
        }
        return self.combine(terms, self.head_scales())
