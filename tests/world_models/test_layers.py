"""Layers: the normalization statistics refuse implausible data; actions must be finite."""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest
import torch

from lucidgym.world_models.layers import MAX_MAGNITUDE, ActionEncoder, Normalizer, magnitude_limit
from tests.world_models.conftest import OBS_SPACE, linear_system_data


def test_normalizer_refuses_one_implausible_value_and_keeps_its_statistics():
    norm = Normalizer(OBS_SPACE)
    data = linear_system_data(8, seed=0)
    norm.fit(data)
    before = {k: v.clone() for k, v in norm.state_dict().items()}
    for field, value, shown in [
        ("obs", 1e30, "an observation of 1e+30"),
        ("obs", float("inf"), "an observation of inf"),
        ("reward", 1e30, "a reward of 1e+30"),
    ]:
        poisoned = getattr(data, field).clone()
        poisoned[3, 5] = value
        with pytest.raises(ValueError, match=f"fit_normalization: {re.escape(shown)}.*implausible"):
            norm.fit(data._replace(**{field: poisoned}))
        assert all(torch.equal(before[k], v) for k, v in norm.state_dict().items())


def test_statistics_of_valid_data_stay_finite_up_to_the_limit():
    norm = Normalizer(OBS_SPACE)
    data = linear_system_data(8, seed=0)
    obs = data.obs.clone()
    obs[0, 0, 0] = -MAX_MAGNITUDE
    norm.fit(data._replace(obs=obs))
    assert all(bool(torch.isfinite(v).all()) for v in norm.state_dict().values())


def test_magnitude_limit_follows_finite_bounds_up_to_float32_safety():
    assert magnitude_limit(OBS_SPACE) == MAX_MAGNITUDE
    assert magnitude_limit(gym.spaces.Box(0, 255, (1, 8, 8), np.uint8)) == MAX_MAGNITUDE
    assert magnitude_limit(gym.spaces.Box(-1e9, 1.0, (2,), np.float64)) == 1e9
    top = np.finfo(np.float32).max  # what some envs declare for "unbounded"
    assert magnitude_limit(gym.spaces.Box(-top, top, (2,), np.float32)) == 1e15
    assert magnitude_limit(gym.spaces.Discrete(3)) == MAX_MAGNITUDE


def test_box_actions_must_be_finite():
    encoder = ActionEncoder(gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError, match="action contains NaN or infinity"):
            encoder.check(torch.tensor([[0.0, value]]), (1,), torch.device("cpu"))
    assert encoder.check(torch.tensor([[0.5, -2.0]]), (1,), torch.device("cpu")).shape == (1, 2)


def test_done_bce_weighs_terminal_steps_only():
    from lucidgym.world_models.layers import done_bce

    logit = torch.tensor([0.3, -1.2, 2.0])
    terminal = torch.tensor([1.0, 0.0, 1.0])
    plain = done_bce(logit, terminal)
    weighted = done_bce(logit, terminal, 4.0)
    torch.testing.assert_close(weighted, plain * torch.tensor([4.0, 1.0, 4.0]))
    torch.testing.assert_close(plain[0], -torch.nn.functional.logsigmoid(logit[0]))
