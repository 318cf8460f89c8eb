"""What a benchmark runs: one spec per agent run and per world-model evaluation.

Each (env, agent, model, seed) is one :class:`RunSpec`; each backend scored open-loop
is one :class:`WorldModelSpec`. Specs are frozen and picklable, so that workers in
other processes (or machines) can run them; every run seeds itself from its spec.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episode ``i`` of seed ``s`` resets with ``EVAL_SEED_OFFSET + 1000 * s + i``."""


@dataclass(frozen=True)
class RunSpec:
    """One run: an agent with a model on an env, at one seed."""

    env: str
    """Gymnasium id."""
    agent: str
    """Agent name for ``make_agent``."""
    model: str = "none"
    """``"oracle"``, a world-model backend name, or ``"none"`` for agents without one."""
    seed: int = 0
    """Seed of the agent, its training and its evaluation episodes."""
    episodes: int = 10
    """Evaluation episodes."""
    budget: int = 0
    """Real env steps a learner trains for before evaluation (ignored by non-learners)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gym.make`` (e.g. the training population)."""
    eval_options: dict[str, Any] = field(default_factory=dict)
    """``reset(options=...)`` of evaluation episodes (e.g. another population)."""
    agent_config: dict[str, Any] = field(default_factory=dict)
    """Further keyword arguments of ``make_agent``."""
    variant: str = ""
    """A name for a non-default ``agent_config`` that results should keep apart (for
    example ``"no world-model head"``); empty for the agent's usual configuration."""

    @property
    def env_label(self) -> str:
        """The env as results name it: the id, plus evaluation options where there are any."""
        if not self.eval_options:
            return self.env
        options = ",".join(f"{k}={v}" for k, v in sorted(self.eval_options.items()))
        return f"{self.env}[{options}]"

    @property
    def agent_label(self) -> str:
        """The agent as results name it: the name, plus the variant where there is one."""
        return f"{self.agent}[{self.variant}]" if self.variant else self.agent

    @property
    def label(self) -> str:
        """A one-line description for progress displays."""
        model = "" if self.model == "none" else f"/{self.model}"
        return f"{self.env_label} {self.agent_label}{model} seed {self.seed}"


def agent_of(label: str) -> str:
    """The agent name in a results label (:attr:`RunSpec.agent_label`), its variant dropped."""
    return label.split("[", 1)[0]


@dataclass(frozen=True)
class WorldModelSpec:
    """A backend trained on random-policy episodes, then scored open-loop on fresh ones."""

    env: str
    """Gymnasium id."""
    backend: str
    """World-model backend name for ``make_world_model``."""
    train_episodes: int = 50
    """Random-policy episodes the model trains on."""
    train_steps: int = 1000
    """Gradient steps."""
    eval_episodes: int = 10
    """Held-out episodes the errors are measured on."""
    horizon: int = 10
    """Errors are recorded at every horizon ``1..horizon``."""
    eval_windows: int = 512
    """Rollout windows (random starts in the held-out episodes) the errors average over."""
    seed: int = 0
    """Seed of data collection, training and evaluation."""
    config: dict[str, Any] = field(default_factory=dict)
    """Backend config overrides."""

    @property
    def label(self) -> str:
        """A one-line description for progress displays."""
        return f"{self.env} world model {self.backend}"


def eval_seeds(seed: int, episodes: int) -> list[int]:
    """The reset seeds of the ``episodes`` evaluation episodes of a run at ``seed``."""
    return [EVAL_SEED_OFFSET + 1000 * seed + i for i in range(episodes)]


def derived_seed(seed: int) -> int:
    """A seed for an agent acting in an episode reset with ``seed`` (never equal to it)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's global and torch's generators (what a run starts with)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
