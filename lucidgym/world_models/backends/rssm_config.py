"""The configuration of the ``rssm`` backend and its named presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    terminal_weight: float = 1.0
    """Weight of a terminal step's termination loss against a non-terminal one's."""
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
