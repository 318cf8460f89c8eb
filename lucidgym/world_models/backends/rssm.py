"""The ``rssm`` backend: a recurrent state-space model (DreamerV1-3 family).

A GRU carries the deterministic state ``h``; a stochastic latent ``z`` (a diagonal
Gaussian, or with ``latent="discrete"`` one-hot categoricals:
:mod:`~lucidgym.world_models.backends.latents`) has a prior ``p(z_t | h_t)`` (used to
dream) and a posterior ``q(z_t | h_t, e_t)`` from the encoded observation ``e_t`` (used
to filter). The
verbs: ``_transition`` (GRU step), ``_prior``, ``_posterior``, ``_decode``, and the
sequence pass in ``loss``. Row convention (see :mod:`lucidgym.world_models.protocol`):
``h_t = GRU(h_{t-1}, [z_{t-1}, a_{t-1}])`` and the reward and done heads read the
features ``[h_{t+1}, z_{t+1}]`` after ``action_t``.

Training: reconstruction (values that move within a sequence weigh more, see
``motion_weight``; of standardized or, with ``symlog_obs``, symlog observations), reward
(squared error, or a two-hot head) and done heads; KL with balancing and free bits; an
open-loop overshooting loss over ``rollout_horizon`` steps; optionally an EMA target
encoder whose embeddings the posterior features predict (JEPA style).

With ``detach_posterior=True`` the encoder, posterior and decoder form a VAE
trained on reconstruction (plus KL to ``N(0, I)``), and the transition model (GRU,
prior, action embedding, reward and done heads) learns only from *detached*
posteriors: reconstruction gradients cannot reach it, nor dynamics gradients the VAE.

Image observations (``uint8`` ``(C, H, W)``) get a CNN encoder and decoder.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.backends.latents import Latent, make_latent
from lucidgym.world_models.backends.rssm_config import RSSM_PRESETS, RSSMConfig
from lucidgym.world_models.layers import (
    ConvDecoder,
    ConvEncoder,
    TwoHot,
    done_bce,
    mlp,
    symexp,
    symlog,
    zero_last_layer,
)
from lucidgym.world_models.protocol import Prediction, SequenceBatch


class RSSMState(NamedTuple):
    """State of the ``rssm`` backend."""

    h: Tensor
    """``[B, deter]`` deterministic GRU state."""
    z: Tensor
    """``[B, Z]`` stochastic latent (posterior after ``observe``, prior in dreams; ``Z`` is
    ``stoch_size``, or ``stoch_size * classes`` for categoricals)."""


REWARD_HEADS = ("mse", "twohot")
"""The reward heads of :attr:`RSSMConfig.reward_head`."""


class RSSMWorldModel(WorldModelBase):
    """Recurrent state-space model with prior, posterior, decoder, reward and done heads.

    Args:
        observation_space: a ``Box``; ``uint8`` ``(C, H, W)`` images use a CNN.
        action_space: ``Discrete`` (one-hot) or ``Box`` (raw), then a learned embedding.
        config: sizes, loss weights and training modes (see :class:`RSSMConfig`).
    """

    name = "rssm"
    config_class = RSSMConfig
    PRESETS = RSSM_PRESETS
    STOCHASTIC_DREAMS = {"imagine_sample": True}

    def __init__(
        self,
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        config: RSSMConfig | None = None,
    ) -> None:
        config = config or RSSMConfig()
        super().__init__(observation_space, action_space, config)
        self.config: RSSMConfig = config
        c = config
        self.latent = make_latent(
            c.latent, c.stoch_size, min_std=c.min_std, classes=c.classes, unimix=c.unimix
        )
        if c.reward_head not in REWARD_HEADS:
            raise ValueError(
                f"rssm: reward_head must be one of {REWARD_HEADS}, got {c.reward_head!r}"
            )
        self.symlog_obs = c.symlog_obs and not self.image
        self.z_size = self.latent.z_size
        stats_size = self.latent.raw_size
        self.feat_size = c.deter_size + self.z_size
        if self.image:
            self.encoder: nn.Module = ConvEncoder(self.obs_shape, c.cnn_depth, c.embed_size)
        else:
            self.encoder = mlp(self.obs_dim, c.encoder_hidden, c.embed_size, 1)
        self.action_embed = nn.Linear(self.actions.dim, c.action_embed_size)
        self.img_in = nn.Sequential(
            nn.Linear(self.z_size + c.action_embed_size, c.hidden_size),
            nn.LayerNorm(c.hidden_size),
            nn.SiLU(),
        )
        self.gru = nn.GRUCell(c.hidden_size, c.deter_size)
        self.prior_net = mlp(c.deter_size, c.hidden_size, stats_size, 1)
        post_in = c.embed_size if c.detach_posterior else c.deter_size + c.embed_size
        self.posterior_net = mlp(post_in, c.hidden_size, stats_size, 1)
        dec_in = self.z_size if c.detach_posterior else self.feat_size
        if self.image:
            self.decoder: nn.Module = ConvDecoder(dec_in, self.obs_shape, c.cnn_depth)
        else:
            self.decoder = mlp(dec_in, c.decoder_hidden, self.obs_dim, 1)
        self.twohot: TwoHot | None = None
        if c.reward_head == "twohot":
            self.twohot = TwoHot(c.reward_bins)
            self.reward_head = zero_last_layer(
                mlp(self.feat_size, c.decoder_hidden, c.reward_bins, 1)
            )
        else:
            self.reward_head = mlp(self.feat_size, c.decoder_hidden, 1, 1)
        self.done_head = mlp(self.feat_size, c.decoder_hidden, 1, 1)
        self.target_encoder: nn.Module | None = None
        if c.ema_target:
            self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
            target_in = self.z_size if c.detach_posterior else self.feat_size
            self.target_head = nn.Linear(target_in, c.embed_size)

    # ------------------------------------------------------------------ verbs
    def initial_state(self, batch_size: int) -> RSSMState:
        """Zero ``h [batch_size, deter]`` and ``z [batch_size, z]``."""
        return RSSMState(
            torch.zeros(batch_size, self.config.deter_size, device=self.device),
            torch.zeros(batch_size, self.z_size, device=self.device),
        )

    def _transition(self, h: Tensor, z: Tensor, action_embed: Tensor) -> Tensor:
        """GRU step: ``h [N, deter]``, ``z [N, stoch]``, embedded action -> ``h' [N, deter]``."""
        return self.gru(self.img_in(torch.cat([z, action_embed], -1)), h)

    def _prior(self, h: Tensor) -> Latent:
        """``p(z | h)``."""
        return self.latent.stats(self.prior_net(h))

    def _posterior(self, h: Tensor, embed: Tensor) -> Latent:
        """``q(z | h, e)`` (``q(z | e)`` with ``detach_posterior``)."""
        if self.config.detach_posterior:
            return self.latent.stats(self.posterior_net(embed))
        return self.latent.stats(self.posterior_net(torch.cat([h, embed], -1)))

    def _obs_in(self, obs: Tensor) -> Tensor:
        """Environment-scale observations -> the model's scale (same shape)."""
        return symlog(obs) if self.symlog_obs else self.norm.obs(obs)

    def _obs_out(self, x: Tensor) -> Tensor:
        """The model's scale -> environment-scale observations."""
        return symexp(x) if self.symlog_obs else self.norm.unobs(x)

    def _encode(self, obs: Tensor) -> Tensor:
        """Environment-scale ``obs [N, *O]`` -> ``[N, embed]``."""
        x = self._obs_in(obs)
        return self.encoder(x if self.image else x.reshape(obs.shape[0], -1))

    def _decode(self, h: Tensor, z: Tensor) -> Tensor:
        """Normalized observation ``[N, *O]`` from ``h [N, deter]`` and ``z [N, stoch]``."""
        x = z if self.config.detach_posterior else torch.cat([h, z], -1)
        return self.decoder(x).view(-1, *self.obs_shape)

    def _heads(self, h: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """The reward head's output and the done logit of the step that led to ``(h, z)``.

        The reward is normalized ``[N]``, or ``[N, reward_bins]`` two-hot logits; the
        done logit is ``[N]``.
        """
        feat = torch.cat([h, z], -1)
        reward = self.reward_head(feat)
        if self.twohot is None:
            reward = reward.squeeze(-1)
        return reward, self.done_head(feat).squeeze(-1)

    def _reward(self, out: Tensor) -> Tensor:
        """Environment-scale rewards ``[N]`` from the reward head's output."""
        if self.twohot is not None:
            return self.twohot.decode(out)
        return out * self.norm.reward_scale + self.norm.reward_loc

    def _reward_error(self, out: Tensor, reward: Tensor) -> Tensor:
        """Per-step loss ``[...]`` of the reward head's output against real rewards."""
        if self.twohot is not None:
            return self.twohot.loss(out, reward)
        return (out - (reward - self.norm.reward_loc) / self.norm.reward_scale).pow(2)

    def _predict(self, h: Tensor, z: Tensor, prior: Latent) -> Prediction:
        reward, done = self._heads(h, z)
        return Prediction(
            self._obs_out(self._decode(h, z)),
            self._reward(reward),
            torch.sigmoid(done),
            self.latent.spread(prior),
        )

    def _observe(
        self, state: RSSMState, action: Tensor | None, obs: Tensor
    ) -> tuple[RSSMState, Prediction]:
        if action is None:
            state = self.initial_state(obs.shape[0])
            action = torch.zeros(obs.shape[0], self.actions.dim, device=self.device)
        h = self._transition(state.h, state.z, self.action_embed(action))
        prior = self._prior(h)
        posterior = self._posterior(h, self._encode(obs))
        prediction = self._predict(h, self.latent.mode(prior), prior)
        return RSSMState(h, self.latent.mode(posterior)), prediction

    def _imagine(self, state: RSSMState, action: Tensor) -> tuple[RSSMState, Prediction]:
        h = self._transition(state.h, state.z, self.action_embed(action))
        prior = self._prior(h)
        z = self.latent.sample(prior) if self.config.imagine_sample else self.latent.mode(prior)
        return RSSMState(h, z), self._predict(h, z, prior)

    @torch.no_grad()
    def update_target(self) -> None:
        """Move the EMA target encoder towards the encoder by ``1 - ema_momentum``."""
        if self.target_encoder is None:
            return
        weight = 1.0 - self.config.ema_momentum
        for target, online in zip(
            self.target_encoder.parameters(), self.encoder.parameters(), strict=True
        ):
            target.lerp_(online, weight)

    # ------------------------------------------------------------------- loss
    def loss(self, batch: SequenceBatch) -> tuple[Tensor, dict[str, float]]:
        """Sequence losses on ``batch [B, T, ...]``; the state resets where ``is_first``.

        In training mode with gradients on, the EMA target encoder first takes one
        momentum step (so it trails the encoder by one optimizer step).

        Returns ``(total, terms)`` with ``loss/recon``, ``loss/reward``, ``loss/done``,
        ``loss/kl``, ``loss/rollout`` (if ``rollout_horizon``), ``loss/target`` (if
        ``ema_target``), ``loss/vae_kl`` (if ``detach_posterior``) and ``loss/total``.
        """
        batch = self.check_batch(batch)  # before the target moves: a refused batch moves nothing
        if self.training and torch.is_grad_enabled():
            self.update_target()
        return self.combine(*self.loss_terms(batch))

    def loss_terms(self, batch: SequenceBatch) -> tuple[dict[str, Tensor], dict[str, float]]:
        """The loss terms of :meth:`loss` as tensors, and their weights (same keys)."""
        batch = self.check_batch(batch)
        c = self.config
        detach = c.detach_posterior
        b, t = batch.reward.shape
        obs_norm = self._obs_in(batch.obs)
        embed = self._encode(batch.obs.reshape(b * t, *self.obs_shape)).view(b, t, -1)
        act = self.action_embed(self.actions.encode(batch.action))
        keep = (~batch.is_first).float().unsqueeze(-1)
        if detach:
            # The VAE posterior needs no recurrence: every row at once.
            posterior = self._posterior(embed, embed)
            post_z = self.latent.sample(posterior)
        h, z = self.initial_state(b)
        prev = torch.zeros_like(act[:, 0])
        hs, firsts, seconds, zs = [], [], [], []
        for i in range(t):
            h = self._transition(h * keep[:, i], z * keep[:, i], prev * keep[:, i])
            if detach:
                z = post_z[:, i].detach()
            else:
                step_posterior = self._posterior(h, embed[:, i])
                z = self.latent.sample(step_posterior)
                firsts.append(step_posterior[0])
                seconds.append(step_posterior[1])
            hs.append(h)
            zs.append(z)
            prev = act[:, i]
        hseq, zseq = torch.stack(hs, 1), torch.stack(zs, 1)
        if detach:
            zseq = post_z
        else:
            posterior = (torch.stack(firsts, 1), torch.stack(seconds, 1))
        prior = self._prior(hseq)
        held_posterior = (posterior[0].detach(), posterior[1].detach())
        held_prior = (prior[0].detach(), prior[1].detach())
        terms: dict[str, Tensor] = {}
        scales: dict[str, float] = {}
        recon = self._decode(hseq.reshape(b * t, -1), zseq.reshape(b * t, -1))
        real = obs_norm.reshape(b, t, -1)
        # Frames are mostly still background: values that move get the extra weight,
        # without which a small moving object is learnt far later than the scenery.
        motion = c.motion_weight if c.motion_weight is not None else 10.0 * self.image
        weight = 1.0 + motion * (real - real.mean(1, keepdim=True)).abs()
        err = ((recon.view(b, t, -1) - real).pow(2) * weight).sum(-1)
        terms["loss/recon"], scales["loss/recon"] = err.mean(), c.recon_scale
        # Reward and done of action_t come from the features after it (row t + 1).
        step = batch.valid[:, :-1].float()
        zhead = zseq.detach() if detach else zseq
        reward, done = self._heads(hseq[:, 1:], zhead[:, 1:])
        n_steps = step.sum().clamp_min(1.0)
        reward_error = self._reward_error(reward, batch.reward[:, :-1])
        terms["loss/reward"] = (reward_error * step).sum() / n_steps
        bce = done_bce(done, batch.terminal[:, :-1], c.terminal_weight)
        terms["loss/done"] = (bce * step).sum() / n_steps
        scales["loss/reward"], scales["loss/done"] = c.reward_scale, c.done_scale
        if detach:
            dyn = self.latent.kl(held_posterior, prior)
            terms["loss/kl"] = dyn.clamp_min(c.free_bits).mean()
            vae = self.latent.kl(posterior, self.latent.standard(posterior))
            terms["loss/vae_kl"] = vae.clamp_min(c.free_bits).mean()
            scales["loss/vae_kl"] = c.vae_kl_scale
        else:
            dyn = self.latent.kl(held_posterior, prior)
            rep = self.latent.kl(posterior, held_prior)
            terms["loss/kl"] = (
                c.kl_balance * dyn.clamp_min(c.free_bits)
                + (1.0 - c.kl_balance) * rep.clamp_min(c.free_bits)
            ).mean()
        scales["loss/kl"] = c.kl_scale
        if c.rollout_horizon > 0 and t > 1:
            terms["loss/rollout"] = self._overshooting(
                batch, real, weight, hseq, zseq, act, held_posterior
            )
            scales["loss/rollout"] = c.rollout_scale
        if self.target_encoder is not None:
            with torch.no_grad():
                rows = obs_norm.reshape(b * t, *self.obs_shape)
                target = self.target_encoder(rows if self.image else rows.flatten(1))
            target = target.view(b, t, -1)
            feat = zseq if detach else torch.cat([hseq, zseq], -1)
            terms["loss/target"] = (self.target_head(feat) - target).pow(2).mean()
            scales["loss/target"] = c.target_scale
        return terms, scales

    def _overshooting(
        self,
        batch: SequenceBatch,
        target: Tensor,
        weight: Tensor,
        hseq: Tensor,
        zseq: Tensor,
        act: Tensor,
        posterior: Latent,
    ) -> Tensor:
        """Open-loop loss: from every posterior state, dream up to ``rollout_horizon`` steps.

        Without ``detach_posterior`` the dreams are decoded and compared with the real
        observations; with it, the dreamed priors match the detached posteriors (KL),
        so that only the transition model learns from it. ``target`` and ``weight``
        are the ``[B, T, D]`` normalized observations and their per-value loss weights.
        """
        b, t = batch.reward.shape
        c = self.config
        k_max = min(c.rollout_horizon, t - 1)
        # Dream from every ``rollout_stride``-th row (random phase): the cost of the
        # dreams stays near that of the filtering pass while every row gets its turn.
        phase = int(torch.randint(0, c.rollout_stride, ()).item()) if c.rollout_stride > 1 else 0
        starts = torch.arange(min(phase, t - 2), t - 1, c.rollout_stride, device=self.device)
        n = starts.numel()
        pad = k_max
        act_pad = F.pad(act, (0, 0, 0, pad))
        # Row t has a target t + 1 inside the window only for t < T - 1.
        valid_pad = F.pad(batch.valid[:, :-1], (0, pad + 1)).float()
        obs_pad = F.pad(target, (0, 0, 0, pad))
        weight_pad = F.pad(weight, (0, 0, 0, pad))
        # Padded rows are masked out; they hold a valid distribution so that no NaN
        # (which a mask cannot cancel) arises in them.
        fill = self.latent.standard((posterior[0][:, :1], posterior[1][:, :1]))
        first_pad = torch.cat([posterior[0], fill[0].expand(-1, pad, -1)], 1)
        second_pad = torch.cat([posterior[1], fill[1].expand(-1, pad, -1)], 1)
        h = hseq[:, starts].reshape(b * n, -1)
        z = zseq[:, starts].reshape(b * n, -1)
        if c.detach_posterior:
            z = z.detach()
        alive = torch.ones(b, n, device=self.device)
        total = torch.zeros((), device=self.device)
        count = torch.zeros((), device=self.device)
        for k in range(1, k_max + 1):
            alive = alive * valid_pad[:, starts + k - 1]
            h = self._transition(h, z, act_pad[:, starts + k - 1].reshape(b * n, -1))
            prior = self._prior(h)
            z = self.latent.dream(prior)
            if c.detach_posterior:
                goal = (
                    first_pad[:, starts + k].reshape(b * n, -1),
                    second_pad[:, starts + k].reshape(b * n, -1),
                )
                err = self.latent.kl(goal, prior).view(b, n)
            else:
                pred = self._decode(h, z).view(b, n, -1)
                err = (pred - obs_pad[:, starts + k]).pow(2) * weight_pad[:, starts + k]
                err = err.sum(-1)
            total = total + (err * alive).sum()
            count = count + alive.sum()
        return total / count.clamp_min(1.0)
