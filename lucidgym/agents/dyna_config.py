"""The configuration of the ``dyna`` agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lucidgym.configs import build_config
from lucidgym.threads import DEFAULT_THREADS


@dataclass
class DynaConfig:
    """Hyperparameters of :class:`DynaAgent`."""

    model: str = "rssm"
    """World-model backend name (see ``lucidgym.world_models.registry``)."""
    model_config: dict[str, Any] = field(
        default_factory=lambda: {"deter_size": 64, "stoch_size": 16, "hidden_size": 64}
    )
    """Keyword arguments of the backend's config."""
    num_envs: int = 8
    """``N``: env copies stepped together while learning."""
    prefill_steps: int = 400
    """Env steps of uniformly random actions before learning starts."""
    pretrain_updates: int = 200
    """World-model gradient steps on the prefill data before the first round."""
    train_every: int = 2
    """Vector steps between training rounds."""
    model_updates: int = 4
    """World-model gradient steps per round."""
    actor_updates: int = 2
    """Actor-critic gradient steps (each on a fresh imagined batch) per round."""
    batch_size: int = 32
    """``B``: replayed sequences per batch."""
    seq_len: int = 12
    """``T``: rows per replayed sequence."""
    horizon: int = 15
    """``H``: imagined steps per rollout (long enough to see delayed effects pay off)."""
    gamma: float = 0.98
    """Discount."""
    lambda_: float = 0.95
    """Lambda of the lambda-returns."""
    hidden: int = 128
    """Width of the actor and critic."""
    model_lr: float = 1e-3
    """World-model Adam step size."""
    actor_lr: float = 1e-3
    """Actor Adam step size."""
    critic_lr: float = 1e-3
    """Critic Adam step size."""
    entropy_coef: float = 3e-2
    """Weight of the actor's entropy bonus (at 0.01 the actor collapses early on Tutoring-v0
    onto what the young model favours, and never recovers)."""
    critic_head: str = "mse"
    """``mse``: the critic regresses returns with squared error; ``twohot``: it predicts
    a softmax over ``critic_bins`` buckets of the symlog return, trained with cross
    entropy on the return's two-hot encoding (DreamerV3;
    :class:`~lucidgym.world_models.layers.TwoHot`), and starts out at 0."""
    critic_bins: int = 255
    """Buckets of the ``twohot`` critic."""
    return_norm_decay: float = 0.0
    """The actor's advantages are divided by ``max(1, P95 - P5)`` of the imagined
    returns: at 0, the percentiles of each batch; above 0, exponential moving averages
    of them with this decay (DreamerV3: 0.99), which change slowly as returns grow."""
    slow_critic: bool = True
    """Bootstrap from an exponential moving average of the critic."""
    slow_critic_decay: float = 0.98
    """Decay of the slow critic."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of every optimizer."""
    buffer_capacity: int = 100_000
    """Replay rows kept."""
    greedy: bool = False
    """``act`` takes the actor's most likely action instead of sampling it."""
    device: str = "cpu"
    """Torch device of the networks."""
    threads: int | None = DEFAULT_THREADS
    """Torch threads while learning (``None``: as they are; why one: :mod:`lucidgym.threads`)."""


CRITIC_HEADS = ("mse", "twohot")
"""The critics of :attr:`DynaConfig.critic_head`."""


def make_dyna_config(overrides: dict[str, Any]) -> DynaConfig:
    """A :class:`DynaConfig` from keyword overrides, with its options checked."""
    config = build_config(DynaConfig, overrides, "dyna")
    if config.critic_head not in CRITIC_HEADS:
        raise ValueError(
            f"dyna: critic_head must be one of {CRITIC_HEADS}, got {config.critic_head!r}"
        )
    if not 0.0 <= config.return_norm_decay < 1.0:
        raise ValueError(
            f"dyna: return_norm_decay must be in [0, 1), got {config.return_norm_decay}"
        )
    return config
