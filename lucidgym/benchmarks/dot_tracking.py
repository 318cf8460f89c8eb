"""Does a pixel world model keep the moving dot on its true track, occluders included?

A pixel model of :mod:`lucidgym.envs.moving_dot` is judged by where its dreamed frames
put the dot, not by pixel error: a model that blurs the dot away scores well on mean
squared error and tells a planner nothing. :func:`dot_position` reads the dot off a
frame; :func:`evaluate_pixel_tracking` filters ``K`` real frames, dreams ``H`` steps
open loop with the real actions, reads the dot off every dreamed frame and compares it
with the true ``(x, y)`` of :func:`~lucidgym.envs.moving_dot.generate_sequences`,
beside persistence (the position at the last real frame, held).

Example:
    >>> from lucidgym.envs.moving_dot import generate_sequences
    >>> data = generate_sequences(4, 24, seed=0, size=16)
    >>> xy, found = dot_position(data.observations)
    >>> xy.shape, found.shape
    ((4, 24, 2), (4, 24))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lucidgym.envs.moving_dot import DOT, GOAL, MovingDotSequences
from lucidgym.world_models.protocol import SequenceBatch

DOT_THRESHOLD = (DOT + GOAL) / 2
"""Pixels above this value (halfway between goal marker and dot) count as dot."""


def dot_position(frames: Any, threshold: float = DOT_THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """The dot's centre ``(x, y)`` in each frame, and whether a dot is drawn at all.

    The centre is the centroid of the pixels brighter than ``threshold``, each weighted
    by how far it lies above it: a decoded dot that is blurred or dimmed still gives its
    middle (to within its brightest pixel), and the goal marker (160) and occluders
    (80) never count.

    Args:
        frames: ``[..., 1, H, W]`` or ``[..., H, W]`` frames on the ``0..255`` scale
            (NumPy array or tensor).
        threshold: pixel value above which a pixel is part of the dot.

    Returns:
        ``(xy [..., 2], found [...])``: ``xy`` in pixels (column, row), NaN where
        ``found`` is false (no pixel above ``threshold``: an occluded or undrawn dot).
    """
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim < 2:
        raise ValueError(f"frames has shape {frames.shape}, expected (..., H, W)")
    if frames.ndim >= 3 and frames.shape[-3] == 1:
        frames = frames[..., 0, :, :]
    height, width = frames.shape[-2:]
    weight = np.clip(frames - threshold, 0.0, None)
    mass = weight.sum(axis=(-2, -1))
    found = mass > 0
    safe = np.where(found, mass, 1.0)
    x = (weight.sum(axis=-2) * np.arange(width)).sum(-1) / safe
    y = (weight.sum(axis=-1) * np.arange(height)).sum(-1) / safe
    xy = np.stack([x, y], axis=-1)
    xy[~found] = np.nan
    return xy, found


@dataclass
class TrackingErrors:
    """Dot position errors (pixels) of open-loop dreams at horizons ``1..H`` (index ``h - 1``).

    A horizon's errors average over the windows whose true dot is visible there (a
    hidden dot has no drawn position to read); ``counts`` says how many those are.
    """

    model: np.ndarray
    """``[H]`` mean distance between the dot read off the dream and the true dot."""
    persistence: np.ndarray
    """``[H]`` the same for the true position at the last real frame, held."""
    found: np.ndarray
    """``[H]`` share of those windows where the dream draws a dot at all."""
    counts: np.ndarray
    """``[H]`` windows with a visible true dot at each horizon."""
    windows: int
    """Windows evaluated."""
    occluded_windows: int
    """Windows whose true dot is hidden during at least one dreamed step."""
    through_model: float
    """Model error at ``H`` over the windows that were hidden before ``H``, visible at it."""
    through_persistence: float
    """Persistence error on those same windows."""
    through_count: int
    """How many such windows there are (the errors above are NaN if none)."""

    @property
    def horizon(self) -> int:
        """``H``."""
        return int(self.model.shape[0])

    def metrics(self) -> dict[str, float | int]:
        """The figures at ``H`` by name (``error``, ``persistence``, ``ratio``, ...).

        ``through_*`` are those of the windows whose dot reappears at ``H`` after hiding.
        """
        return {
            "horizon": self.horizon,
            "error": float(self.model[-1]),
            "persistence": float(self.persistence[-1]),
            "ratio": float(self.model[-1] / self.persistence[-1]),
            "found": float(self.found[-1]),
            "windows": self.windows,
            "occluded_windows": self.occluded_windows,
            "through_error": self.through_model,
            "through_persistence": self.through_persistence,
            "through_count": self.through_count,
        }


def sequences_to_batch(data: MovingDotSequences) -> SequenceBatch:
    """Moving-dot sequences as one episode per row of a :class:`SequenceBatch`.

    Each sequence is an episode (``is_first`` at row 0; the last row has no transition,
    ``valid = False``); rewards and terminations are zero (the dot never stops).

    Returns:
        ``SequenceBatch`` of ``[N, T, ...]`` tensors.
    """
    n, t = data.observations.shape[:2]
    is_first = torch.zeros(n, t, dtype=torch.bool)
    is_first[:, 0] = True
    valid = torch.ones(n, t, dtype=torch.bool)
    valid[:, -1] = False
    return SequenceBatch(
        obs=torch.as_tensor(data.observations).float(),
        action=torch.as_tensor(data.actions),
        reward=torch.zeros(n, t),
        terminal=torch.zeros(n, t),
        is_first=is_first,
        valid=valid,
    )


def fit_sequences(
    model: Any,
    data: MovingDotSequences,
    steps: int,
    batch_size: int = 16,
    lr: float = 3e-3,
    final_lr: float = 3e-4,
    grad_clip: float = 10.0,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` on whole moving-dot sequences with Adam and a cosine learning rate.

    The rate falls from ``lr`` to ``final_lr`` over the ``steps``: a short run needs a
    high rate to learn the dot at all, and a low one to place it to the pixel.

    Args:
        model: a world model (``loss``, ``fit_normalization``, ``parameters``).
        data: training sequences from :func:`~lucidgym.envs.moving_dot.generate_sequences`.
        steps: gradient steps.
        batch_size: sequences per step (``B``), drawn without replacement each step.
        lr: initial Adam learning rate.
        final_lr: learning rate of the last step.
        grad_clip: global gradient-norm clip.
        seed: seeds the batch draws.

    Returns:
        The total loss of every step.
    """
    if steps < 1 or batch_size < 1 or lr <= 0 or final_lr <= 0:
        raise ValueError("fit_sequences: steps, batch_size, lr and final_lr must be positive")
    batch = sequences_to_batch(data)
    n = batch.obs.shape[0]
    if batch_size > n:
        raise ValueError(f"fit_sequences: batch_size {batch_size} exceeds the {n} sequences")
    model.fit_normalization(batch)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    model.train()
    for step in range(steps):
        rows = torch.as_tensor(rng.choice(n, batch_size, replace=False))
        total, _ = model.loss(type(batch)(*(field[rows] for field in batch)))
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        progress = step / max(steps - 1, 1)
        rate = final_lr + (lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        for group in optimizer.param_groups:
            group["lr"] = rate
        optimizer.step()
        losses.append(float(total.detach()))
    model.eval()
    return losses


@torch.no_grad()
def dream_frames(
    model: Any, observations: Any, actions: Any, context: int, horizon: int
) -> torch.Tensor:
    """Filter the first ``context`` frames, then dream ``horizon`` frames open loop.

    Args:
        model: a world model (``initial_state``, ``observe``, ``rollout``).
        observations: ``[B, T, *O]`` real frames, ``T >= context``.
        actions: ``[B, T, ...]`` actions, row ``t`` taken after frame ``t``;
            ``T >= context + horizon - 1``.
        context: real frames the model sees (``K >= 1``).
        horizon: dreamed steps (``H``).

    Returns:
        ``[B, H, *O]`` dreamed frames ``context .. context + H - 1`` (environment scale).
    """
    obs = torch.as_tensor(observations)
    act = torch.as_tensor(actions)
    if context < 1 or horizon < 1:
        raise ValueError(f"context and horizon must be positive, got {context}, {horizon}")
    if obs.shape[1] < context or act.shape[1] < context + horizon - 1:
        raise ValueError(
            f"{obs.shape[1]} frames and {act.shape[1]} actions are too few for "
            f"context {context} and horizon {horizon}"
        )
    state, _ = model.observe(model.initial_state(obs.shape[0]), None, obs[:, 0])
    for j in range(1, context):
        state, _ = model.observe(state, act[:, j - 1], obs[:, j])
    return model.rollout(state, act[:, context - 1 : context - 1 + horizon]).obs


def evaluate_pixel_tracking(
    model: Any,
    data: MovingDotSequences,
    context: int = 8,
    horizon: int = 10,
    stride: int = 4,
    threshold: float = DOT_THRESHOLD,
    batch_size: int = 256,
) -> TrackingErrors:
    """Open-loop dot tracking of ``model`` on held-out moving-dot sequences.

    Every sequence yields windows starting at ``0, stride, 2 * stride, ...``: the model
    observes ``context`` real frames, then dreams ``horizon`` steps with the real
    actions. Where a dreamed frame shows no dot, the estimate holds its previous value
    (starting from the persistence guess), so a model that draws no dot scores
    exactly as persistence; :attr:`TrackingErrors.found` tells how often that happens.
    Persistence holds the true position at the last real frame (even if the dot is
    hidden there: the strongest "nothing moves" guess).

    Args:
        model: a world model over ``[1, size, size]`` uint8 frames and the sequences'
            actions.
        data: sequences from :func:`~lucidgym.envs.moving_dot.generate_sequences`
            (``T >= context + horizon``).
        context: real frames each window starts with (``K``).
        horizon: dreamed steps (``H``).
        stride: steps between window starts within a sequence.
        threshold: see :func:`dot_position`.
        batch_size: windows dreamed at once.

    Returns:
        The :class:`TrackingErrors` of the model and persistence.
    """
    n, t = data.observations.shape[:2]
    span = context + horizon
    if stride < 1 or t < span:
        raise ValueError(
            f"need stride >= 1 and sequences of at least context + horizon = {span} steps, "
            f"got stride {stride} and {t} steps"
        )
    starts = np.arange(0, t - span + 1, stride)
    seq = np.repeat(np.arange(n), starts.size)
    first = np.tile(starts, n)
    rows = first[:, None] + np.arange(span)[None, :]
    truth = data.states[seq[:, None], rows[:, context:], :2].astype(np.float64)
    hidden = data.occluded[seq[:, None], rows[:, context:]]
    held = data.states[seq, first + context - 1, :2].astype(np.float64)
    dreamed = np.empty((seq.size, horizon, 2))
    drawn = np.empty((seq.size, horizon), dtype=bool)
    for lo in range(0, seq.size, batch_size):
        idx = slice(lo, lo + batch_size)
        frames = dream_frames(
            model,
            data.observations[seq[idx, None], rows[idx, :context]],
            data.actions[seq[idx, None], rows[idx, : span - 1]],
            context,
            horizon,
        )
        dreamed[idx], drawn[idx] = dot_position(frames, threshold)
    estimate = held.copy()
    for h in range(horizon):
        estimate = np.where(drawn[:, h, None], dreamed[:, h], estimate)
        dreamed[:, h] = estimate
    model_err = np.linalg.norm(dreamed - truth, axis=-1)
    held_err = np.linalg.norm(held[:, None, :] - truth, axis=-1)
    seen = ~hidden
    counts = seen.sum(0)
    denom = np.maximum(counts, 1)
    through = hidden[:, :-1].any(1) & seen[:, -1]
    return TrackingErrors(
        model=(model_err * seen).sum(0) / denom,
        persistence=(held_err * seen).sum(0) / denom,
        found=(drawn & seen).sum(0) / denom,
        counts=counts,
        windows=int(seq.size),
        occluded_windows=int(hidden.any(1).sum()),
        through_model=float(model_err[through, -1].mean()) if through.any() else float("nan"),
        through_persistence=float(held_err[through, -1].mean()) if through.any() else float("nan"),
        through_count=int(through.sum()),
    )
