"""Pixel RSSM on MovingDot: the dreamed dot stays on its true track, occluders included."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from lucidgym.benchmarks.dot_tracking import (
    dot_position,
    evaluate_pixel_tracking,
    fit_sequences,
)
from lucidgym.envs.moving_dot import generate_sequences
from lucidgym.world_models import make_world_model

SIZE = 16
# The pixel dynamics of MovingDot-v0 at its default 32x32 (0.5 px/step^2 at full
# action) on a 16x16 grid: the dot moves about 3 px in 10 steps.
ACCELERATION = 0.5


def test_dot_position_reads_real_frames() -> None:
    data = generate_sequences(32, 20, seed=3, size=SIZE, acceleration=ACCELERATION)
    xy, found = dot_position(data.observations)
    assert xy.shape == (32, 20, 2) and found.shape == (32, 20)
    # A dot is drawn exactly where its centre is not hidden.
    np.testing.assert_array_equal(found, ~data.occluded)
    assert data.occluded.any()
    assert np.isnan(xy[~found]).all()
    # Drawn at the rounded position: off by at most half a pixel per axis (plus a rim
    # clipped by an occluder).
    err = np.linalg.norm(xy[found] - data.states[found][:, :2], axis=-1)
    assert err.max() < 1.0 and err.mean() < 0.45


def test_dot_position_survives_blur_and_ignores_scenery() -> None:
    scenery = np.zeros((SIZE, SIZE), np.float32)
    scenery[2, 2:7] = 160.0  # a goal-marker edge
    scenery[9:13, 9:13] = 80.0  # an occluder
    yy, xx = np.mgrid[:SIZE, :SIZE]

    def blurred(x: float, y: float) -> np.ndarray:
        # A dim, blurred dot: its peak is well below 255.
        return scenery + 230.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 3.0)

    xy, found = dot_position(torch.as_tensor(blurred(5.0, 11.0))[None, None])
    assert bool(found[0])
    np.testing.assert_allclose(xy[0], [5.0, 11.0], atol=1e-6)
    xy, found = dot_position(blurred(5.3, 11.6))
    assert bool(found) and np.linalg.norm(xy - [5.3, 11.6]) < 0.75
    xy, found = dot_position(np.minimum(blurred(5.0, 11.0), 170.0))
    assert not bool(found) and np.isnan(xy).all()
    with pytest.raises(ValueError, match="frames has shape"):
        dot_position(np.zeros(5))


def test_pixel_rssm_tracks_the_dot_through_occlusion() -> None:
    torch.manual_seed(0)
    train = generate_sequences(1024, 24, seed=1, size=SIZE, acceleration=ACCELERATION)
    held_out = generate_sequences(64, 30, seed=2, size=SIZE, acceleration=ACCELERATION)
    model = make_world_model(
        "rssm",
        gym.spaces.Box(0, 255, (1, SIZE, SIZE), np.uint8),
        gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
        cnn_depth=8,
        kl_scale=0.1,
        rollout_horizon=10,
    )
    before = evaluate_pixel_tracking(model, held_out, context=8, horizon=10)
    fit_sequences(model, train, steps=300, seed=0)
    after = evaluate_pixel_tracking(model, held_out, context=8, horizon=10)

    # The dreams go through occlusion: the dot hides in some of the dreamed steps,
    # and some windows see it reappear at the last one.
    assert after.windows == 256 and after.occluded_windows >= 20
    assert after.through_count >= 10
    # Untrained, the dreams are noise: worse than persistence.
    assert before.model[-1] > before.persistence[-1]
    # Trained, the dot is drawn and stays on track: well under persistence at h10.
    assert after.found[-1] > 0.8
    assert after.model[-1] < 0.5 * after.persistence[-1], after.metrics()
    assert after.through_model < after.through_persistence, after.metrics()
