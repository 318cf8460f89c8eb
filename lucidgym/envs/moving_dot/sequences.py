"""Batches of moving-dot sequences for training pixel world models (e.g. an RSSM)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lucidgym.envs.moving_dot.kernel import (
    _DISCRETE_ACCELERATION,
    Action,
    MovingDotConfig,
    MovingDotKernel,
)

POLICIES = ("random", "seek")
"""Names :func:`generate_sequences` accepts for ``policy``."""


class MovingDotSequences(NamedTuple):
    """``N`` sequences of ``T`` steps; row ``t`` holds ``obs_t`` and the action after it."""

    observations: np.ndarray
    """``[N, T, 1, H, W]`` uint8 frames."""
    actions: np.ndarray
    """``[N, T, 2]`` float32 accelerations (continuous) or ``[N, T]`` int64 (discrete):
    the action taken after ``observations[:, t]``."""
    states: np.ndarray
    """``[N, T, 4]`` float32 true ``(x, y, vx, vy)`` at ``observations[:, t]``, pixels."""
    occluded: np.ndarray
    """``[N, T]`` bool: the dot is hidden in ``observations[:, t]``."""
    goals: np.ndarray
    """``[N, 2]`` float32 goal ``(x, y)`` of each sequence, pixels."""


def generate_sequences(
    n: int,
    seq_len: int,
    policy: str = "random",
    seed: int | None = 0,
    size: int = 32,
    occlusion: bool = True,
    continuous: bool = True,
    **config: object,
) -> MovingDotSequences:
    """Roll out ``n`` moving-dot episodes of ``seq_len`` steps at once on the array kernel.

    Sequences do not stop at the goal: the dot keeps moving for all ``seq_len`` steps,
    so every row is a real frame (reaching the goal matters to agents, not to a model
    of motion). Everything is drawn from one generator seeded by ``seed``.

    Args:
        n: number of sequences ``N``.
        seq_len: frames per sequence ``T``.
        policy: ``"random"`` (uniform actions) or ``"seek"`` (accelerate towards the
            goal, braking near it, with noise: sequences that show arrivals).
        seed: seed of the generator (``None`` for fresh entropy).
        size: grid side ``H = W``.
        occlusion: draw occluders (0 to 2 per sequence by default).
        continuous: ``[N, T, 2]`` float accelerations if true, else ``[N, T]``
            :class:`~lucidgym.envs.moving_dot.Action` ints.
        **config: further :class:`~lucidgym.envs.moving_dot.MovingDotConfig` fields
            (``max_occluders``, ``occluder_size``, ``damping``, ``acceleration``).

    Returns:
        A :class:`MovingDotSequences`.

    Raises:
        ValueError: for a non-positive ``n`` or ``seq_len``, an unknown policy, or a
            bad environment argument.

    Example:
        >>> data = generate_sequences(4, 10, seed=0)
        >>> data.observations.shape, data.actions.shape, data.states.shape
        ((4, 10, 1, 32, 32), (4, 10, 2), (4, 10, 4))
    """
    if n < 1 or seq_len < 1:
        raise ValueError(f"generate_sequences: n and seq_len must be positive, got {n}, {seq_len}")
    if policy not in POLICIES:
        raise ValueError(f"generate_sequences: unknown policy {policy!r}; valid: {POLICIES}")
    try:
        cfg = MovingDotConfig(
            size=size,
            continuous=continuous,
            occlusion=occlusion,
            **config,  # type: ignore[arg-type]
        )
    except TypeError as err:
        raise ValueError(f"generate_sequences: bad environment argument: {err}") from err
    kernel = MovingDotKernel(cfg)
    rng = np.random.default_rng(seed)
    state = kernel.initial(rng, n)
    obs = np.empty((n, seq_len, 1, size, size), dtype=np.uint8)
    actions = np.empty((n, seq_len, 2) if continuous else (n, seq_len), dtype=np.float32)
    if not continuous:
        actions = actions.astype(np.int64)
    states = np.empty((n, seq_len, 4), dtype=np.float32)
    occluded = np.empty((n, seq_len), dtype=bool)
    for t in range(seq_len):
        obs[:, t] = kernel.observe(state)
        seen = kernel.describe(state)
        states[:, t] = seen["state"]
        occluded[:, t] = seen["occluded"]
        action = _act(policy, kernel, state.dot, state.goal, rng)
        actions[:, t] = action
        state, _, _, _ = kernel.transition(state, action, rng)
    return MovingDotSequences(obs, actions, states, occluded, state.goal.astype(np.float32))


def _act(
    policy: str,
    kernel: MovingDotKernel,
    dot: np.ndarray,
    goal: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    n, continuous = dot.shape[0], kernel.config.continuous
    if policy == "random":
        if continuous:
            return rng.uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
        return np.asarray(rng.integers(0, len(Action), size=n))
    # A damped proportional controller towards the goal, with noise so that it wanders.
    want = (0.04 * (goal - dot[:, :2]) - 0.4 * dot[:, 2:]) / kernel.config.accel
    want = np.clip(want + rng.normal(0.0, 0.3, size=want.shape), -1.0, 1.0)
    if continuous:
        return want.astype(np.float32)
    # The discrete action best aligned with the wanted push; none when it is weak.
    scores = want @ _DISCRETE_ACCELERATION.T
    scores[:, Action.NONE] = 0.2
    return np.argmax(scores, axis=1).astype(np.int64)
