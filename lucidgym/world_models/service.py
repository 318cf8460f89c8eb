"""An asyncio facade over any world-model backend, for services and cognitive loops.

Plain-Python values in and out (tuples of floats, ints, frozen dataclasses), one model
behind an :class:`asyncio.Lock`, torch work run in a worker thread so the event loop
stays responsive. Optional Prometheus metrics (install ``lucidgym[metrics]``)::

    service = build_world_model(WorldModelConfig(obs_dim=20, action_dim=8))
    out = await service.predict(ModelInput(observation=obs, action=3))
    loss = await service.update(ModelInput(obs, 3), next_obs, reward, done)
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum, auto
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch

from lucidgym.world_models.protocol import SequenceBatch
from lucidgym.world_models.trainer import train_step


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


@dataclass(frozen=True)
class WorldModelConfig:
    """Configuration of :class:`AsyncWorldModel`."""

    backend: TransitionBackend = TransitionBackend.MLP
    """Which backend to build."""
    obs_dim: int = 64
    """Length of an observation vector."""
    action_dim: int = 8
    """Number of discrete actions."""
    hidden_dim: int = 256
    """Hidden width of the backend."""
    ensemble_size: int = 5
    """Members when ``backend`` is ``ENSEMBLE``."""
    rollout_horizon: int = 10
    """Default steps of a dream rollout."""
    learning_rate: float = 3e-4
    """Adam learning rate of :meth:`AsyncWorldModel.update`."""
    surprise_threshold: float = 0.05
    """Surprise above this suggests re-planning (see :meth:`AsyncWorldModel.is_surprised`)."""
    max_buffer_size: int = 100_000
    """Transitions kept for replay."""
    batch_size: int = 32
    """Transitions per gradient step (the newest one always included)."""
    seed: int = 0
    """Seeds the weights and replay sampling."""


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
        """Learn from one real transition; returns the loss."""
        ...

    async def surprise(self, inp: ModelInput, actual_next_obs: tuple[float, ...]) -> float:
        """The prediction error against what really happened."""
        ...

    async def snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable summary of the model."""
        ...


class WorldModelMetrics:
    """The five Prometheus metrics, registered on ``registry`` (a private one by default).

    Raises:
        ImportError: ``prometheus-client`` is not installed (``pip install lucidgym[metrics]``).
    """

    def __init__(self, registry: Any | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry() if registry is None else registry
        r = self.registry
        self.update_total = Counter("wm_update_total", "Real transitions consumed", registry=r)
        self.train_loss = Gauge("wm_train_loss", "Most recent SGD loss", registry=r)
        self.surprise_score = Gauge("wm_surprise_score", "Most recent surprise score", registry=r)
        self.buffer_size = Gauge("wm_buffer_size", "Replay buffer fill level", registry=r)
        self.rollout_steps_total = Counter(
            "wm_rollout_steps_total", "Dream rollout steps executed", registry=r
        )


_BACKEND_CONFIG = {
    TransitionBackend.MLP: ("mlp", "hidden_size"),
    TransitionBackend.LSTM: ("lstm", "hidden_size"),
    TransitionBackend.TRANSFORMER: ("transformer", "d_model"),
    TransitionBackend.ENSEMBLE: ("ensemble", "hidden_size"),
    TransitionBackend.RSSM: ("rssm", "deter_size"),
}


def _make_backend(config: WorldModelConfig) -> torch.nn.Module:
    from lucidgym.world_models.registry import make_world_model

    name, width_field = _BACKEND_CONFIG[config.backend]
    obs_space = gym.spaces.Box(-np.inf, np.inf, (config.obs_dim,), np.float32)
    kwargs: dict[str, Any] = {width_field: config.hidden_dim}
    if config.backend is TransitionBackend.ENSEMBLE:
        kwargs["num_members"] = config.ensemble_size
    torch.manual_seed(config.seed)
    return make_world_model(name, obs_space, gym.spaces.Discrete(config.action_dim), **kwargs)


class AsyncWorldModel:
    """The :class:`WorldModelService` API over a learned backend.

    Args:
        config: the service options; the backend is built from them unless given.
        model: a ready backend to serve instead (its spaces must match ``config``).
        metrics: Prometheus metrics to update, or ``None``.
    """

    def __init__(
        self,
        config: WorldModelConfig | None = None,
        model: torch.nn.Module | None = None,
        metrics: WorldModelMetrics | None = None,
    ) -> None:
        self.config = config or WorldModelConfig()
        self.model = _make_backend(self.config) if model is None else model
        self.metrics = metrics
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.learning_rate)
        self._buffer: deque[tuple[np.ndarray, int, np.ndarray, float, bool]] = deque(
            maxlen=self.config.max_buffer_size
        )
        self._rng = random.Random(self.config.seed)
        self._lock = asyncio.Lock()
        self._step_count = 0
        self._last_error = 0.0

    @property
    def buffer_size(self) -> int:
        """Transitions held for replay."""
        return len(self._buffer)

    def _check(self, observation: Sequence[float], what: str) -> np.ndarray:
        obs = np.asarray(observation, dtype=np.float32)
        if obs.shape != (self.config.obs_dim,):
            raise ValueError(
                f"{what} has {obs.size} values, expected obs_dim={self.config.obs_dim}"
            )
        if not np.all(np.isfinite(obs)):
            raise ValueError(f"{what} contains NaN or infinity")
        return obs

    def _check_action(self, action: int) -> int:
        if not 0 <= int(action) < self.config.action_dim or int(action) != action:
            raise ValueError(
                f"action {action!r} is not an integer in [0, {self.config.action_dim})"
            )
        return int(action)

    # -- torch work (runs in a worker thread, under the lock) -------------------------

    @torch.no_grad()
    def _dream(self, obs: np.ndarray, actions: list[int], stop_on_done: bool) -> list[ModelOutput]:
        model: Any = self.model
        model.eval()
        state, _ = model.observe(model.initial_state(1), None, torch.as_tensor(obs)[None])
        steps = []
        for action in actions:
            state, pred = model.imagine(state, torch.tensor([action]))
            done = bool(pred.done[0] > 0.5)
            steps.append(
                ModelOutput(
                    next_observation=tuple(float(x) for x in pred.obs[0].reshape(-1)),
                    predicted_reward=float(pred.reward[0]),
                    predicted_done=done,
                    prediction_error=self._last_error,
                )
            )
            if done and stop_on_done:
                break
        return steps

    def _train_step(self) -> float:
        model: Any = self.model
        model.train()
        newest = self._buffer[-1]
        others = self._rng.sample(
            range(len(self._buffer)), min(len(self._buffer), self.config.batch_size) - 1
        )
        rows = [newest, *(self._buffer[i] for i in others)]
        n = self._step_count
        if 32 <= n <= 4096 and n & (n - 1) == 0:
            # Refit the input statistics while the buffer is young (at 32, 64, ... 4096
            # updates); before 32 transitions the space's defaults are steadier.
            model.fit_normalization(_as_batch(list(self._buffer)[-4096:]))
        terms = train_step(model, self.optimizer, _as_batch(rows), grad_clip=10.0)
        model.eval()
        return terms["loss/total"]

    # -- the API -----------------------------------------------------------------------

    async def predict(self, inp: ModelInput) -> ModelOutput:
        """One-step forward pass: ``(obs, action)`` -> the predicted next step."""
        obs = self._check(inp.observation, "observation")
        action = self._check_action(inp.action)
        async with self._lock:
            steps = await asyncio.to_thread(self._dream, obs, [action], False)
        return steps[0]

    async def dream_rollout(
        self, initial_obs: tuple[float, ...], action_sequence: Sequence[int] | None = None
    ) -> DreamRollout:
        """Imagine a trajectory; it stops after the first step predicted done.

        Args:
            initial_obs: the starting observation.
            action_sequence: the actions (default: action 0 for ``rollout_horizon`` steps).
        """
        obs = self._check(initial_obs, "initial_obs")
        if action_sequence is None:
            action_sequence = [0] * self.config.rollout_horizon
        actions = [self._check_action(a) for a in action_sequence]
        async with self._lock:
            steps = await asyncio.to_thread(self._dream, obs, actions, True)
        if self.metrics is not None:
            self.metrics.rollout_steps_total.inc(len(steps))
        return DreamRollout(
            steps=tuple(steps),
            total_imagined_reward=float(sum(s.predicted_reward for s in steps)),
            surprise_score=float(sum(s.prediction_error for s in steps) / max(len(steps), 1)),
        )

    async def update(
        self,
        inp: ModelInput,
        actual_next_obs: tuple[float, ...],
        actual_reward: float,
        actual_done: bool,
    ) -> float:
        """Store a real transition and take one gradient step on a replayed batch."""
        obs = self._check(inp.observation, "observation")
        nxt = self._check(actual_next_obs, "actual_next_obs")
        action = self._check_action(inp.action)
        if not np.isfinite(actual_reward):
            raise ValueError(f"actual_reward must be finite, got {actual_reward!r}")
        async with self._lock:
            self._buffer.append((obs, action, nxt, float(actual_reward), bool(actual_done)))
            self._step_count += 1
            loss = await asyncio.to_thread(self._train_step)
        if self.metrics is not None:
            self.metrics.update_total.inc()
            self.metrics.train_loss.set(loss)
            self.metrics.buffer_size.set(len(self._buffer))
        return loss

    async def surprise(self, inp: ModelInput, actual_next_obs: tuple[float, ...]) -> float:
        """Mean squared error between the predicted and the actual next observation."""
        actual = self._check(actual_next_obs, "actual_next_obs")
        out = await self.predict(inp)
        error = float(np.mean((np.asarray(out.next_observation) - actual) ** 2))
        self._last_error = error
        if self.metrics is not None:
            self.metrics.surprise_score.set(error)
        return error

    def is_surprised(self, score: float) -> bool:
        """Whether ``score`` exceeds ``config.surprise_threshold``."""
        return score > self.config.surprise_threshold

    async def snapshot(self) -> dict[str, Any]:
        """Config, update count, buffer size and a SHA-256 digest of the weights."""
        async with self._lock:
            digest = hashlib.sha256()
            for key, value in sorted(self.model.state_dict().items()):
                digest.update(key.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
            config = {
                k: (v.name if isinstance(v, Enum) else v) for k, v in asdict(self.config).items()
            }
            return {
                "config": config,
                "backend": getattr(self.model, "name", type(self.model).__name__),
                "step_count": self._step_count,
                "buffer_size": len(self._buffer),
                "weights_digest": digest.hexdigest(),
            }


def _as_batch(rows: list[tuple[np.ndarray, int, np.ndarray, float, bool]]) -> SequenceBatch:
    """Transitions as ``B`` sequences of two rows (``obs``, then ``next_obs`` not valid)."""

    def first_row(values: list[Any], dtype: torch.dtype) -> torch.Tensor:
        column = torch.tensor(values, dtype=dtype)
        return torch.stack([column, torch.zeros_like(column)], 1)

    obs = torch.as_tensor(np.stack([np.stack([r[0], r[2]]) for r in rows]))
    starts = [True] * len(rows)
    return SequenceBatch(
        obs,
        first_row([r[1] for r in rows], torch.int64),
        first_row([r[3] for r in rows], torch.float32),
        first_row([float(r[4]) for r in rows], torch.float32),
        first_row(starts, torch.bool),
        first_row(starts, torch.bool),
    )


def build_world_model(
    config: WorldModelConfig | None = None, metrics: WorldModelMetrics | None = None
) -> AsyncWorldModel:
    """An :class:`AsyncWorldModel` with the backend ``config`` names."""
    return AsyncWorldModel(config or WorldModelConfig(), metrics=metrics)
