"""The belief oracle: the env's true simulator behind a particle filter.

``model="oracle"`` plans from the env's true hidden state, which no agent that learns
from observations can know. ``model="belief"`` plans with the same true simulator, but
from a belief over the hidden state inferred from what the agent sees: observations
and its own actions. On an env with hidden state it is the practical ceiling for a
learned model (a perfect model of the dynamics can still only filter the history),
where the oracle is an unreachable one.

The filter is a bootstrap particle filter (Gordon, Salmond & Smith, 1993) with a
Gaussian kernel on observations, as approximate Bayesian computation does where the
observation likelihood has no closed form: particles start as the env's own episode
starts (its population, not its student), each real step moves every particle through
the true simulator with the action taken, and a particle is weighed by
``exp(-|o_particle - o_real|^2 / (2 bandwidth^2))`` over the observation's dims. When
the effective sample size falls below half the particles they are resampled
(systematic resampling). Particles that end an episode the real one goes on with are
dropped; if none is left, the filter starts afresh from the prior, weighed by the
current observation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lucidgym.batched import batch_take


class ParticleBelief:
    """A particle filter over the hidden states of a batched true simulator.

    Args:
        dynamics: the env's true dynamics (``env.unwrapped.get_dynamics(seed)``); it must
            offer ``kernel.initial(rng, n)`` (episode starts), ``step`` and ``observe``.
        particles: how many particles.
        bandwidth: the observation kernel's standard deviation (observation units).
        seed: seeds the filter's draws (resampling, the fresh starts).

    Raises:
        ValueError: dynamics that cannot draw episode starts or show observations.
    """

    def __init__(self, dynamics: Any, particles: int, bandwidth: float, seed: int) -> None:
        kernel = getattr(dynamics, "kernel", None)
        if not hasattr(kernel, "initial") or not hasattr(dynamics, "observe"):
            raise ValueError(
                f"model='belief' needs a simulator that draws episode starts and shows "
                f"observations; {type(dynamics).__name__} does not"
            )
        if particles < 1 or not bandwidth > 0:
            raise ValueError(
                f"particles must be positive and bandwidth > 0, got {particles}, {bandwidth}"
            )
        self.dynamics = dynamics
        self.kernel: Any = kernel
        self.size = int(particles)
        self.bandwidth = float(bandwidth)
        self.rng = np.random.default_rng(seed)
        self.states: Any = None
        """The particles: a batch of ``size`` hidden states (``None`` before :meth:`start`)."""
        self.log_weights = np.zeros(self.size)
        """Unnormalised log-weights of the particles."""
        self.restarts = 0
        """How often every particle was dropped and the filter started from the prior."""

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has seen the episode's first observation."""
        return self.states is not None

    def start(self, obs: np.ndarray) -> None:
        """Particles from the env's episode starts, weighed by the first observation."""
        self.states = self.kernel.initial(self.rng, self.size)
        self.log_weights = self._log_likelihood(obs)
        self._maybe_resample()

    def update(self, action: Any, obs: np.ndarray, terminated: bool) -> None:
        """Move every particle by the real ``action`` and weigh it by the real ``obs``."""
        if self.states is None:
            raise RuntimeError("ParticleBelief.update before start")
        actions = np.repeat(np.asarray(action)[None], self.size, axis=0)
        self.states, _, done = self.dynamics.step(self.states, actions)
        self.log_weights = self.log_weights + self._log_likelihood(obs)
        if not terminated:
            self.log_weights[np.asarray(done, dtype=bool)] = -np.inf
        if not np.isfinite(self.log_weights).any():
            self.restarts += 1
            self.start(obs)
            return
        self._maybe_resample()

    def weights(self) -> np.ndarray:
        """``[size]`` normalised weights."""
        w = np.exp(self.log_weights - self.log_weights.max())
        return w / w.sum()

    def effective_size(self) -> float:
        """Kish's effective sample size of the weights."""
        w = self.weights()
        return float(1.0 / np.square(w).sum())

    def sample(self, n: int) -> Any:
        """``n`` states drawn from the belief (systematic draws by weight)."""
        if self.states is None:
            raise RuntimeError("ParticleBelief.sample before start")
        return batch_take(self.states, self._systematic(n))

    def mean(self, values: np.ndarray) -> np.ndarray:
        """The belief's mean of per-particle ``values`` (``[size, ...]``)."""
        w = self.weights()
        return np.tensordot(w, np.asarray(values, dtype=np.float64), axes=1)

    def _log_likelihood(self, obs: np.ndarray) -> np.ndarray:
        predicted = np.asarray(self.dynamics.observe(self.states), dtype=np.float64)
        real = np.asarray(obs, dtype=np.float64)[None]
        gap = (predicted - real).reshape(self.size, -1)
        return -0.5 * np.square(gap / self.bandwidth).sum(axis=1)

    def _systematic(self, n: int) -> np.ndarray:
        edges = np.cumsum(self.weights())
        edges[-1] = 1.0
        points = (self.rng.random() + np.arange(n)) / n
        return np.searchsorted(edges, points, side="right").clip(0, self.size - 1)

    def _maybe_resample(self) -> None:
        if self.effective_size() < self.size / 2:
            self.states = batch_take(self.states, self._systematic(self.size))
            self.log_weights = np.zeros(self.size)
