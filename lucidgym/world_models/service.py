"""An asyncio facade over any world-model backend, for services and cognitive loops.

Plain-Python values in and out (tuples of floats, ints, frozen dataclasses), one model
whose torch work runs in a worker thread so the event loop stays responsive. Optional
Prometheus metrics (install ``lucidgym[metrics]``)::

    service = build_world_model(WorldModelConfig(obs_dim=20, action_dim=8))
    out = await service.predict(ModelInput(observation=obs, action=3))
    loss = await service.update(ModelInput(obs, 3), next_obs, reward, done)

Calls take turns on the model in the order they were made. One service may be used
from several event loops (``asyncio.run`` called more than once, as scripts and
notebooks do). A call cancelled while its torch work runs (``asyncio.wait_for`` timing
out) lets that work finish before the next call starts, and then raises
``CancelledError``: a cancelled :meth:`~AsyncWorldModel.update` has still learned its
transition. An update whose gradient step fails, or would leave a weight non-finite,
keeps neither the transition nor a changed weight, and raises ``ValueError``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict
from enum import Enum
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import torch

from lucidgym.world_models.layers import MAX_MAGNITUDE, magnitude_limit
from lucidgym.world_models.protocol import SequenceBatch
from lucidgym.world_models.restore_point import RestorePoint
from lucidgym.world_models.service_api import (
    DreamRollout,
    ModelInput,
    ModelOutput,
    PredictionTarget,
    TransitionBackend,
    WorldModelConfig,
    WorldModelService,
)
from lucidgym.world_models.trainer import train_step

__all__ = [
    "AsyncWorldModel",
    "DreamRollout",
    "ModelInput",
    "ModelOutput",
    "PredictionTarget",
    "TransitionBackend",
    "WorldModelConfig",
    "WorldModelMetrics",
    "WorldModelService",
    "build_world_model",
]

R = TypeVar("R")

Transition = tuple[np.ndarray, int, np.ndarray, float, bool]
"""``(obs, action, next_obs, reward, done)`` as the replay buffer holds it."""


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
        self._buffer: deque[Transition] = deque(maxlen=self.config.max_buffer_size)
        self._rng = random.Random(self.config.seed)
        # An asyncio.Lock belongs to the loop it first waits in, so each loop gets its
        # own (calls in one loop keep their order); the threading lock is what keeps
        # torch work from two loops, or from a call cancelled mid-step, apart.
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._loop_locks = weakref.WeakKeyDictionary()
        self._model_lock = threading.Lock()
        self._obs_limit = magnitude_limit(getattr(self.model, "observation_space", None))
        self._step_count = 0
        self._last_error = 0.0

    @property
    def buffer_size(self) -> int:
        """Transitions held for replay."""
        return len(self._buffer)

    def _check(self, observation: Sequence[float], what: str, limit: float) -> np.ndarray:
        obs = np.asarray(observation, dtype=np.float32)
        if obs.shape != (self.config.obs_dim,):
            raise ValueError(
                f"{what} has {obs.size} values, expected obs_dim={self.config.obs_dim}"
            )
        _refuse_bad_values(what, obs, limit)
        return obs

    def _check_action(self, action: int) -> int:
        n = self.config.action_dim
        try:
            ok = 0 <= int(action) < n and int(action) == action
        except (TypeError, ValueError, OverflowError):  # None, NaN, infinity
            ok = False
        if not ok:
            raise ValueError(f"action {action!r} is not an integer in [0, {n})")
        return int(action)

    async def _in_worker(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` in a worker thread, after every earlier call of this loop.

        A cancelled caller waits for the work to finish before it passes the
        cancellation on, so the next call never meets a model in mid-step.
        """
        lock = self._loop_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        async with lock:
            work = asyncio.ensure_future(asyncio.to_thread(self._locked, fn, *args))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                while not work.done():
                    try:
                        await asyncio.wait([work])
                    except asyncio.CancelledError:
                        continue
                raise

    def _locked(self, fn: Callable[..., R], *args: Any) -> R:
        with self._model_lock:
            return fn(*args)

    # -- torch work (runs in a worker thread, under the model lock) --------------------

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

    def _learn(self, row: Transition) -> float:
        """Keep ``row`` and take one gradient step; undo both if the step goes wrong."""
        point = RestorePoint(self.model)
        full = len(self._buffer) == self._buffer.maxlen
        evicted = self._buffer[0] if full else None
        rng_state = self._rng.getstate()
        self._buffer.append(row)
        self._step_count += 1
        try:
            loss = self._train_step()
            point.check_finite()
        except Exception as error:
            point.restore()
            self._buffer.pop()
            if evicted is not None:
                self._buffer.appendleft(evicted)
            self._rng.setstate(rng_state)
            self._step_count -= 1
            self.model.eval()
            if isinstance(error, (FloatingPointError, ValueError)):
                raise ValueError(
                    f"update: the gradient step on this transition failed ({error}); "
                    "the transition was not kept and the model is as it was"
                ) from error
            raise
        if self.metrics is not None:
            self.metrics.update_total.inc()
            self.metrics.train_loss.set(loss)
            self.metrics.buffer_size.set(len(self._buffer))
        return loss

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

    def _snapshot(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for key, value in sorted(self.model.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        config = {k: (v.name if isinstance(v, Enum) else v) for k, v in asdict(self.config).items()}
        return {
            "config": config,
            "backend": getattr(self.model, "name", type(self.model).__name__),
            "step_count": self._step_count,
            "buffer_size": len(self._buffer),
            "weights_digest": digest.hexdigest(),
        }

    # -- the API -----------------------------------------------------------------------

    async def predict(self, inp: ModelInput) -> ModelOutput:
        """One-step forward pass: ``(obs, action)`` -> the predicted next step."""
        obs = self._check(inp.observation, "observation", math.inf)
        action = self._check_action(inp.action)
        steps = await self._in_worker(self._dream, obs, [action], False)
        return steps[0]

    async def dream_rollout(
        self, initial_obs: tuple[float, ...], action_sequence: Sequence[int] | None = None
    ) -> DreamRollout:
        """Imagine a trajectory; it stops after the first step predicted done.

        Args:
            initial_obs: the starting observation.
            action_sequence: the actions (default: action 0 for ``rollout_horizon`` steps).
        """
        obs = self._check(initial_obs, "initial_obs", math.inf)
        if action_sequence is None:
            action_sequence = [0] * self.config.rollout_horizon
        actions = [self._check_action(a) for a in action_sequence]
        steps = await self._in_worker(self._dream, obs, actions, True)
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
        """Store a real transition and take one gradient step on a replayed batch.

        Raises:
            ValueError: an input is malformed, not finite or beyond the replay buffer's
                plausible magnitude (:func:`~lucidgym.world_models.layers.magnitude_limit`),
                or the gradient step failed or would have left a weight non-finite; the
                transition is then not kept, the weights, buffers and replay sampling are
                as they were, and so is the optimizer unless the step itself went through.
            asyncio.CancelledError: the call was cancelled; once the step had started it
                was finished (and kept) first.
        """
        # The replay buffer's rule for training data, so that no value the model's
        # normalization would refuse (or be ruined by) is ever kept.
        obs = self._check(inp.observation, "update: observation", self._obs_limit)
        nxt = self._check(actual_next_obs, "update: actual_next_obs", self._obs_limit)
        action = self._check_action(inp.action)
        _refuse_bad_values("update: actual_reward", np.float64(actual_reward), MAX_MAGNITUDE)
        row = (obs, action, nxt, float(actual_reward), bool(actual_done))
        return await self._in_worker(self._learn, row)

    async def surprise(self, inp: ModelInput, actual_next_obs: tuple[float, ...]) -> float:
        """Mean squared error between the predicted and the actual next observation."""
        actual = self._check(actual_next_obs, "actual_next_obs", math.inf)
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
        return await self._in_worker(self._snapshot)


def _refuse_bad_values(what: str, values: np.ndarray, limit: float) -> None:
    """Refuse NaN, infinity and magnitudes beyond ``limit``, naming the first such entry."""
    ok = np.isfinite(values) & (np.abs(values) <= limit)
    if ok.all():
        return
    index = int(np.flatnonzero(~ok)[0])
    value = float(np.ravel(values)[index])
    name = f"{what}[{index}]" if values.ndim else what
    why = (
        "NaN and infinity are refused"
        if not math.isfinite(value)
        else f"beyond {limit:g} in magnitude: implausible, and one such value would ruin "
        "the model's normalization statistics"
    )
    raise ValueError(f"{name} is {value:g} ({why})")


def _as_batch(rows: list[Transition]) -> SequenceBatch:
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
