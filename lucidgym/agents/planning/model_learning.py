"""How a planning agent learns its world model from real experience.

:class:`ModelLearner` owns the model, a sequence replay buffer and the fit schedule;
the agent owns the loop that collects experience and calls it. A budget of real env
steps is spent in two phases: a warm-up with an exploration policy (uniform random, or
the env's expert rules where it has them), after which the model is trained; then the
agent's own planning (epsilon-greedy), in chunks, refitting the model on everything
seen after each chunk (:meth:`ModelLearner.schedule`). Training uses the world-model
:class:`~lucidgym.world_models.trainer.Trainer` (eval split, best weights kept).
Where :attr:`ModelLearner.logger` is set, each fit reports ``loss/model`` to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lucidgym.agents.protocol import ScalarLogger, Transition, expert_policy
from lucidgym.world_models.buffer import SequenceReplayBuffer
from lucidgym.world_models.checkpoint import load_world_model, save_world_model
from lucidgym.world_models.registry import make_world_model
from lucidgym.world_models.trainer import Trainer, TrainerConfig


@dataclass
class ModelLearningConfig:
    """How a planning agent learns its model (``make_agent(..., learning={...})``)."""

    warmup_fraction: float = 0.5
    """Share of the step budget collected by the warm-up policy before the first fit."""
    warmup_policy: str = "auto"
    """``"random"``, ``"expert"`` (the env's documented rule set) or ``"auto"`` (expert where
    the env has one, else random)."""
    warmup_epsilon: float = 0.3
    """Chance of a uniform random action within an ``"expert"`` warm-up."""
    explore_epsilon: float = 0.1
    """Chance of a uniform random action while the agent collects with its own plans."""
    chunks: int = 2
    """Planning-collection chunks after the warm-up; the model is refitted after each."""
    train_steps: int = 1500
    """Gradient steps of the first fit."""
    refit_steps: int = 500
    """Gradient steps of every later fit."""
    batch_size: int = 32
    """Sequences per gradient step."""
    seq_len: int = 16
    """Rows per sequence."""
    lr: float = 1e-3
    """Adam learning rate."""
    capacity: int = 200_000
    """Rows the replay buffer keeps."""
    seed: int = 0
    """Seeds the exploration draws, the buffer sampling and the trainer."""


class ModelLearner:
    """A world model, its replay buffer and its training schedule.

    Args:
        env: the environment whose spaces size the model.
        backend: a world-model backend name (``mlp``, ``rssm``, ...).
        model_config: keyword arguments of ``make_world_model``.
        config: the learning schedule.
        model: an already built (e.g. loaded) model to use instead of a new one.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        backend: str,
        model_config: dict[str, Any],
        config: ModelLearningConfig,
        model: torch.nn.Module | None = None,
    ) -> None:
        if not 0.0 <= config.warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1], got {config.warmup_fraction}")
        if config.warmup_policy not in ("auto", "random", "expert"):
            raise ValueError(
                f"warmup_policy must be 'auto', 'random' or 'expert', got {config.warmup_policy!r}"
            )
        if config.warmup_policy == "expert" and expert_policy(env) is None:
            raise ValueError("warmup_policy='expert': the env has no expert rules")
        if config.chunks < 1:
            raise ValueError(f"chunks must be positive, got {config.chunks}")
        if model is None:
            torch.manual_seed(config.seed)
            model = make_world_model(
                backend, env.observation_space, env.action_space, **model_config
            )
        self.model: Any = model
        self.model.eval()
        self.config = config
        self.env = env
        self.buffer = SequenceReplayBuffer(
            env.observation_space, env.action_space, config.capacity, seed=config.seed
        )
        self.rng = np.random.default_rng(config.seed)
        self.fits = 0
        """How many times the model was (re)fitted."""
        self.steps_recorded = 0
        """Real transitions :meth:`record` was given."""
        self.logger: ScalarLogger | None = None
        """Where each fit reports ``loss/model`` (its result) at :attr:`steps_recorded`."""
        self._open = False

    # -- experience --------------------------------------------------------------

    def record(self, transition: Transition) -> None:
        """Add one real transition; the episode is closed when it ends."""
        self.buffer.add_step(
            transition.obs,
            transition.action,
            float(transition.reward),
            bool(transition.terminated),
            is_first=not self._open,
        )
        self._open = True
        self.steps_recorded += 1
        if transition.terminated or transition.truncated:
            self.close_episode(transition.next_obs)

    def close_episode(self, final_obs: np.ndarray) -> None:
        """End the open episode at ``final_obs`` (budget exhausted or episode over)."""
        if self._open:
            self.buffer.end_episode(final_obs)
            self._open = False

    # -- training ------------------------------------------------------------------

    def fit(self, steps: int) -> float | None:
        """Train on the buffer for ``steps`` gradient steps; returns the best eval loss."""
        c = self.config
        if steps <= 0 or len(self.buffer) < c.seq_len + 1:
            return None
        episodes = len(self.buffer.episodes())
        trainer = Trainer(
            self.model,
            TrainerConfig(
                steps=steps,
                batch_size=c.batch_size,
                seq_len=c.seq_len,
                lr=c.lr,
                eval_fraction=0.1 if episodes >= 5 else 0.0,
                eval_interval=max(1, min(250, steps)),
                progress=False,
                seed=c.seed + self.fits,
                device=str(getattr(self.model, "device", "cpu")),
            ),
        )
        history = trainer.fit(self.buffer)
        self.model.eval()
        self.fits += 1
        loss = history.best_eval_loss
        if loss is None and history.train:
            loss = history.train[-1]["loss/total"]
        if loss is not None and self.logger is not None:
            self.logger.log({"loss/model": loss}, self.steps_recorded)
        return loss

    def schedule(self, total_steps: int) -> tuple[int, dict[int, int]]:
        """How a budget of ``total_steps`` real steps is spent.

        Returns:
            ``(warm-up steps, {steps collected: gradient steps of the fit made then})``.
        """
        if total_steps < 1:
            raise ValueError(f"total_steps must be positive, got {total_steps}")
        c = self.config
        warm = int(round(c.warmup_fraction * total_steps))
        rest = total_steps - warm
        fit_at = {warm: c.train_steps} if warm > 0 else {}
        for k in range(1, c.chunks + 1):
            at = warm + (rest * k) // c.chunks
            fit_at[at] = fit_at.get(at, 0) + (
                c.refit_steps if (warm > 0 or k > 1) else c.train_steps
            )
        return warm, fit_at

    # -- checkpoints ---------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the model as ``model.safetensors`` + ``config.json`` into ``path``."""
        save_world_model(self.model, path)

    @staticmethod
    def load_model(path: str | Path) -> torch.nn.Module:
        """Read a model written by :meth:`save`."""
        model = load_world_model(path)
        model.eval()
        return model
