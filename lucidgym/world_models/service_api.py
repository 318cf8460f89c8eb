"""What users of the asyncio world-model service see: its values, options and protocol.

The frozen dataclasses that go in and come out (:class:`ModelInput`,
:class:`ModelOutput`, :class:`DreamRollout`), the two enums, the options
(:class:`WorldModelConfig`) and the :class:`WorldModelService` protocol; the service
itself is :class:`lucidgym.world_models.service.AsyncWorldModel`.

:class:`WorldModelConfig` checks itself when it is built: a value that would fail later
inside the service (an empty replay buffer, a batch of no transitions, an observation
of no values) is refused with a ``ValueError`` or ``TypeError`` naming the field.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any, Protocol, runtime_checkable


class TransitionBackend(Enum):
    """Backend used for the world model's forward pass."""

    MLP = auto()
    """Feed-forward (fast, no memory)."""
    LSTM = auto()
    """Recurrent: tracks temporal context."""
    TRANSFORMER = auto()
    """Attention over a window of observations."""
    ENSEMBLE = auto()
    """N MLPs: epistemic uncertainty from their disagreement."""
    RSSM = auto()
    """Recurrent state-space model with a stochastic latent."""


class PredictionTarget(Enum):
    """What the model predicts on each step (every backend has all three heads)."""

    NEXT_OBS = auto()
    """The next observation vector."""
    REWARD = auto()
    """The scalar reward."""
    DONE = auto()
    """The episode-termination flag."""
    ALL = auto()
    """Observation, reward and done jointly."""


@dataclass(frozen=True)
class ModelInput:
    """One (observation, action) pair."""

    observation: tuple[float, ...]
    """The current observation vector (``obs_dim`` floats)."""
    action: int
    """A discrete action index in ``[0, action_dim)``."""


@dataclass(frozen=True)
class ModelOutput:
    """A predicted next step."""

    next_observation: tuple[float, ...]
    """The predicted next observation."""
    predicted_reward: float
    """The predicted reward."""
    predicted_done: bool
    """Whether the model expects the episode to end (probability above 0.5)."""
    prediction_error: float
    """MSE of the model's last prediction checked against a real one (0 before any)."""


@dataclass(frozen=True)
class DreamRollout:
    """An imagined trajectory."""

    steps: tuple[ModelOutput, ...]
    """The imagined steps in order (stops after the first predicted done)."""
    total_imagined_reward: float
    """Sum of the predicted rewards."""
    surprise_score: float
    """Mean ``prediction_error`` over the steps."""


@runtime_checkable
class WorldModelService(Protocol):
    """The asynchronous world-model API."""

    async def predict(self, inp: ModelInput) -> ModelOutput:
        """One step: ``(obs, action)`` -> the predicted next step."""
        ...

    async def dream_rollout(
        self, initial_obs: tuple[float, ...], action_sequence: Sequence[int]
    ) -> DreamRollout:
        """Imagine a trajectory from ``initial_obs``."""
        ...

    async def update(
        self,
        inp: ModelInput,
        actual_next_obs: tuple[float, ...],
        actual_reward: float,
        actual_done: bool,
    ) -> float:
        """Learn from one real transition; returns the loss.

        A value that is not finite, or a step that fails, raises ``ValueError``; the
        transition is not kept and no weight changes.
        """
        ...

    async def surprise(self, inp: ModelInput, actual_next_obs: tuple[float, ...]) -> float:
        """The prediction error against what really happened."""
        ...

    async def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable summary of the model."""
        ...


@dataclass(frozen=True)
class WorldModelConfig:
    """Configuration of :class:`~lucidgym.world_models.service.AsyncWorldModel`.

    Raises:
        TypeError: a field holds a value of the wrong type (``obs_dim=2.5``).
        ValueError: a field is out of its range (``max_buffer_size=0``), named in the
            message.
    """

    backend: TransitionBackend = TransitionBackend.MLP
    """Which backend to build."""
    obs_dim: int = 64
    """Length of an observation vector (at least 1)."""
    action_dim: int = 8
    """Number of discrete actions (at least 1)."""
    hidden_dim: int = 256
    """Hidden width of the backend (at least 1)."""
    ensemble_size: int = 5
    """Members when ``backend`` is ``ENSEMBLE`` (at least 1)."""
    rollout_horizon: int = 10
    """Default steps of a dream rollout (at least 1)."""
    learning_rate: float = 3e-4
    """Adam learning rate of ``AsyncWorldModel.update`` (finite, above 0)."""
    surprise_threshold: float = 0.05
    """Surprise above this suggests re-planning (``AsyncWorldModel.is_surprised``; finite, >= 0)."""
    max_buffer_size: int = 100_000
    """Transitions kept for replay (at least 1)."""
    batch_size: int = 32
    """Transitions per gradient step, the newest one always included (at least 1)."""
    seed: int = 0
    """Seeds the weights and replay sampling (an integer torch accepts as a seed)."""

    def __post_init__(self) -> None:
        if not isinstance(self.backend, TransitionBackend):
            names = ", ".join(b.name for b in TransitionBackend)
            raise TypeError(
                f"WorldModelConfig.backend must be a TransitionBackend ({names}), "
                f"got {self.backend!r}"
            )
        for name in _AT_LEAST_ONE:
            _check_int(name, getattr(self, name), low=1)
        _check_int("seed", self.seed, low=-(2**63), high=2**64 - 1)
        _check_float("learning_rate", self.learning_rate, positive=True)
        _check_float("surprise_threshold", self.surprise_threshold, positive=False)


_AT_LEAST_ONE = (
    "obs_dim",
    "action_dim",
    "hidden_dim",
    "ensemble_size",
    "rollout_horizon",
    "max_buffer_size",
    "batch_size",
)
"""The integer fields of :class:`WorldModelConfig` that count something (sizes)."""


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    # bool is an int to Python, but obs_dim=True is a mistake, not a size of 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"WorldModelConfig.{name} must be an integer, got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        bound = f"at least {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"WorldModelConfig.{name} must be {bound}, got {value!r}")


def _check_float(name: str, value: object, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"WorldModelConfig.{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        bound = "above 0" if positive else "at least 0"
        raise ValueError(f"WorldModelConfig.{name} must be finite and {bound}, got {value!r}")
