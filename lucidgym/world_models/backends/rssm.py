"""The ``rssm`` backend: a recurrent state-space model (DreamerV1-3 family).

A GRU carries the deterministic state ``h``; a diagonal-Gaussian stochastic latent
``z`` has a prior ``p(z_t | h_t)`` (used to dream) and a posterior
``q(z_t | h_t, e_t)`` from the encoded observation ``e_t`` (used to filter). The
verbs: ``_transition`` (GRU step), ``_prior``, ``_posterior``, ``_decode``, and the
sequence pass in ``loss``. Row convention (see :mod:`lucidgym.world_models.protocol`):
``h_t = GRU(h_{t-1}, [z_{t-1}, a_{t-1}])`` and the reward and done heads read the
features ``[h_{t+1}, z_{t+1}]`` after ``action_t``.

Training: reconstruction (values that move within a sequence weigh more, see
``motion_weight``), reward and done heads; KL with balancing and free bits; an
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
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.layers import (
    ConvDecoder,
    ConvEncoder,
    TwoHot,
    mlp,
    symexp,
    symlog,
    zero_last_layer,
)
from lucidgym.world_models.protocol import Prediction, SequenceBatch


@dataclass
class RSSMConfig:
    """Configuration of the ``rssm`` backend (defaults are small enough for a CPU)."""

    deter_size: int = 128
    """Units of the GRU (deterministic) state ``h``."""
    stoch_size: int = 32
    """Dimensions of the Gaussian latent ``z``; with ``latent="discrete"``, its
    categorical variables (``z`` then has ``stoch_size * classes`` dimensions)."""
    latent: str = "gaussian"
    """``gaussian``: a diagonal Gaussian ``z`` (DreamerV1, PlaNet); ``discrete``: ``z`` is
    ``stoch_size`` one-hot categoricals of ``classes`` classes (DreamerV2-3), sampled with
    straight-through gradients, every distribution mixed with ``unimix`` of the uniform
    so that no class's probability (and no KL) collapses to zero or infinity."""
    classes: int = 32
    """Classes per categorical variable (``latent="discrete"``)."""
    unimix: float = 0.01
    """Weight of the uniform distribution mixed into each categorical (DreamerV3: 1%)."""
    embed_size: int = 64
    """Output size of the observation encoder."""
    action_embed_size: int = 32
    """Size of the learned action embedding."""
    hidden_size: int = 128
    """Units of the prior, posterior and GRU-input layers."""
    encoder_hidden: int = 128
    """Hidden units of the vector encoder."""
    decoder_hidden: int = 128
    """Hidden units of the vector decoder and of the reward and done heads."""
    cnn_depth: int = 32
    """Channels of the first CNN layer (image observations)."""
    min_std: float = 0.1
    """Floor on the latent standard deviation."""
    kl_balance: float = 0.8
    """Share of the KL gradient that trains the prior (the rest trains the posterior)."""
    free_bits: float = 1.0
    """KL below this many nats per row is not penalized."""
    kl_scale: float = 1.0
    """Weight of the KL loss."""
    recon_scale: float = 1.0
    """Weight of the reconstruction loss."""
    motion_weight: float | None = None
    """Reconstruction weight ``1 + motion_weight * |x - mean of x over the sequence|`` per
    value; ``None``: 10 for images (whose moving objects are a few pixels), else 0."""
    symlog_obs: bool = False
    """Vector observations enter the encoder, and are reconstructed, as the ``symlog`` of
    their raw values (DreamerV3) instead of standardized by the data's statistics; image
    observations are scaled by 1/255 either way. Values in ``[0, 1]`` then span 0.69
    where standardized ones span several units, and their reconstruction weighs that
    much less against the KL: raise ``recon_scale`` with it (``dyna`` on PatternEcho-v0
    after 1,200 steps: 3.7 at weight 1, 31.7 at weight 10, 30.8 standardized)."""
    reward_head: str = "mse"
    """``mse``: the standardized reward, squared error; ``twohot``: a softmax over
    ``reward_bins`` buckets of the symlog reward, cross entropy with the target's two-hot
    encoding (DreamerV3; :class:`~lucidgym.world_models.layers.TwoHot`), starting out at 0."""
    reward_bins: int = 255
    """Buckets of the ``twohot`` reward head."""
    reward_scale: float = 1.0
    """Weight of the reward loss."""
    done_scale: float = 1.0
    """Weight of the termination loss."""
    rollout_horizon: int = 5
    """Steps of the open-loop overshooting loss (0 turns it off)."""
    rollout_scale: float = 1.0
    """Weight of the overshooting loss."""
    rollout_stride: int = 4
    """Overshooting dreams start from every this-many-th row (random phase per batch)."""
    ema_target: bool = False
    """Whether an EMA copy of the encoder gives targets that the posterior features predict."""
    ema_momentum: float = 0.996
    """Momentum of the EMA target encoder."""
    target_scale: float = 1.0
    """Weight of the EMA-target prediction loss."""
    detach_posterior: bool = False
    """Train the transition model only on detached encoder posteriors (see module doc)."""
    vae_kl_scale: float = 0.1
    """Weight of the KL to ``N(0, I)`` of the encoder posterior (``detach_posterior`` only)."""
    imagine_sample: bool = False
    """Whether ``imagine`` samples the prior instead of taking its mean."""


RSSM_PRESETS: dict[str, dict[str, Any]] = {
    "kat2": {
        "deter_size": 512,
        "stoch_size": 128,
        "embed_size": 128,
        "action_embed_size": 32,
        "hidden_size": 512,
        "encoder_hidden": 256,
        "decoder_hidden": 256,
        "ema_target": True,
        "ema_momentum": 0.996,
    },
    "pixels": {"cnn_depth": 8, "kl_scale": 0.1, "rollout_horizon": 10},
}
"""Named configs: ``kat2`` has the KAT-2 card's sizes (feature ``512 + 128 = 640``);
``pixels`` is a small image model that learns to track a moving dot in a few hundred
steps on a CPU (narrow CNN, light KL, ten-step overshooting)."""


class RSSMState(NamedTuple):
    """State of the ``rssm`` backend."""

    h: Tensor
    """``[B, deter]`` deterministic GRU state."""
    z: Tensor
    """``[B, stoch]`` stochastic latent (posterior after ``observe``, prior in dreams)."""


Latent = tuple[Tensor, Tensor]
"""A latent distribution over ``z [..., z]``: a Gaussian's ``(mean, std)``, or the
categoricals' ``(probs, log_probs)`` (class-minor, ``stoch_size * classes`` wide)."""

LATENTS = ("gaussian", "discrete")
"""The latent families of :attr:`RSSMConfig.latent`."""

REWARD_HEADS = ("mse", "twohot")
"""The reward heads of :attr:`RSSMConfig.reward_head`."""


def gaussian_kl(mean1: Tensor, std1: Tensor, mean2: Tensor, std2: Tensor) -> Tensor:
    """``KL(N(mean1, std1) || N(mean2, std2))`` summed over the last dimension."""
    var_ratio = (std1 / std2).pow(2)
    diff = ((mean1 - mean2) / std2).pow(2)
    return 0.5 * (var_ratio + diff - 1.0 - var_ratio.log()).sum(-1)


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
        if c.latent not in LATENTS:
            raise ValueError(f"rssm: latent must be one of {LATENTS}, got {c.latent!r}")
        if c.latent == "discrete" and (c.classes < 2 or not 0.0 <= c.unimix < 1.0):
            raise ValueError(
                f"rssm: a discrete latent needs classes >= 2 and 0 <= unimix < 1, got "
                f"classes={c.classes}, unimix={c.unimix}"
            )
        if c.reward_head not in REWARD_HEADS:
            raise ValueError(
                f"rssm: reward_head must be one of {REWARD_HEADS}, got {c.reward_head!r}"
            )
        self.discrete = c.latent == "discrete"
        self.symlog_obs = c.symlog_obs and not self.image
        self.z_size = c.stoch_size * (c.classes if self.discrete else 1)
        stats_size = self.z_size if self.discrete else 2 * c.stoch_size
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

    # A latent distribution is a pair of [..., z] tensors: a Gaussian's mean and std, or
    # the probabilities and log-probabilities of the categoricals, class-minor.

    def _stats(self, raw: Tensor) -> Latent:
        c = self.config
        if self.discrete:
            probs = raw.unflatten(-1, (c.stoch_size, c.classes)).softmax(-1)
            probs = (1.0 - c.unimix) * probs + c.unimix / c.classes
            return probs.flatten(-2), probs.log().flatten(-2)
        mean, std = raw.chunk(2, -1)
        return mean, F.softplus(std) + c.min_std

    def _categorical(self, flat: Tensor) -> Tensor:
        return flat.unflatten(-1, (self.config.stoch_size, self.config.classes))

    def _sample(self, dist: Latent) -> Tensor:
        """A draw of ``z`` (one-hot categoricals pass gradients straight through)."""
        if self.discrete:
            probs = self._categorical(dist[0])
            index = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1)
            onehot = F.one_hot(index.view(probs.shape[:-1]), probs.shape[-1]).to(probs.dtype)
            return (onehot + probs - probs.detach()).flatten(-2)
        mean, std = dist
        return mean + std * torch.randn_like(std)

    def _mode(self, dist: Latent) -> Tensor:
        """The most likely ``z``: the mean, or each categorical's likeliest class."""
        if self.discrete:
            probs = self._categorical(dist[0])
            return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype).flatten(-2)
        return dist[0]

    def _kl(self, p: Latent, q: Latent) -> Tensor:
        """``KL(p || q)`` summed over the latent, ``[...]``."""
        if self.discrete:
            return (p[0] * (p[1] - q[1])).sum(-1)
        return gaussian_kl(p[0], p[1], q[0], q[1])

    def _spread(self, dist: Latent) -> Tensor:
        """``[N]`` uncertainty: the mean std, or the mean entropy of the categoricals."""
        if self.discrete:
            return -self._categorical(dist[0] * dist[1]).sum(-1).mean(-1)
        return dist[1].mean(-1)

    def _standard(self, like: Latent) -> Latent:
        """``N(0, I)``, or uniform categoricals, shaped like ``like``."""
        if self.discrete:
            uniform = torch.full_like(like[0], 1.0 / self.config.classes)
            return uniform, uniform.log()
        return torch.zeros_like(like[0]), torch.ones_like(like[1])

    def _prior(self, h: Tensor) -> Latent:
        """``p(z | h)``."""
        return self._stats(self.prior_net(h))

    def _posterior(self, h: Tensor, embed: Tensor) -> Latent:
        """``q(z | h, e)`` (``q(z | e)`` with ``detach_posterior``)."""
        if self.config.detach_posterior:
            return self._stats(self.posterior_net(embed))
        return self._stats(self.posterior_net(torch.cat([h, embed], -1)))

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
            self._spread(prior),
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
        return RSSMState(h, self._mode(posterior)), self._predict(h, self._mode(prior), prior)

    def _imagine(self, state: RSSMState, action: Tensor) -> tuple[RSSMState, Prediction]:
        h = self._transition(state.h, state.z, self.action_embed(action))
        prior = self._prior(h)
        z = self._sample(prior) if self.config.imagine_sample else self._mode(prior)
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
            post_z = self._sample(posterior)
        h, z = self.initial_state(b)
        prev = torch.zeros_like(act[:, 0])
        hs, firsts, seconds, zs = [], [], [], []
        for i in range(t):
            h = self._transition(h * keep[:, i], z * keep[:, i], prev * keep[:, i])
            if detach:
                z = post_z[:, i].detach()
            else:
                step_posterior = self._posterior(h, embed[:, i])
                z = self._sample(step_posterior)
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
        bce = F.binary_cross_entropy_with_logits(done, batch.terminal[:, :-1], reduction="none")
        terms["loss/done"] = (bce * step).sum() / n_steps
        scales["loss/reward"], scales["loss/done"] = c.reward_scale, c.done_scale
        if detach:
            dyn = self._kl(held_posterior, prior)
            terms["loss/kl"] = dyn.clamp_min(c.free_bits).mean()
            vae = self._kl(posterior, self._standard(posterior))
            terms["loss/vae_kl"] = vae.clamp_min(c.free_bits).mean()
            scales["loss/vae_kl"] = c.vae_kl_scale
        else:
            dyn = self._kl(held_posterior, prior)
            rep = self._kl(posterior, held_prior)
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
        fill = self._standard((posterior[0][:, :1], posterior[1][:, :1]))
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
            # Dreams follow the prior's mean; categoricals, a straight-through draw.
            z = self._sample(prior) if self.discrete else prior[0]
            if c.detach_posterior:
                goal = (
                    first_pad[:, starts + k].reshape(b * n, -1),
                    second_pad[:, starts + k].reshape(b * n, -1),
                )
                err = self._kl(goal, prior).view(b, n)
            else:
                pred = self._decode(h, z).view(b, n, -1)
                err = (pred - obs_pad[:, starts + k]).pow(2) * weight_pad[:, starts + k]
                err = err.sum(-1)
            total = total + (err * alive).sum()
            count = count + alive.sum()
        return total / count.clamp_min(1.0)
