"""Shape checks at the protocol boundary: every backend names the shape it expects.

A wrong shape into ``observe``, ``imagine``, ``rollout`` or ``loss`` is a ``ValueError``
whose message names the method, the argument, the expected shape and the given one,
and the call changes nothing; never a raw torch error one call later, nor a state that
silently carries an extra axis.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from lucidgym.world_models import WORLD_MODELS, SequenceBatch, make_world_model
from tests.world_models.conftest import DISCRETE, OBS_SPACE, SMALL, linear_system_data

BOX = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
IMAGE = gym.spaces.Box(0, 255, (1, 16, 16), np.uint8)

NAMES = sorted(WORLD_MODELS)


def _model(name: str, obs_space: Any = OBS_SPACE, action_space: Any = DISCRETE) -> Any:
    torch.manual_seed(0)
    config = dict(SMALL[name], **({"cnn_depth": 4} if name == "rssm" else {}))
    return make_world_model(name, obs_space, action_space, **config).eval()


def _raises(message: str) -> Any:
    return pytest.raises(ValueError, match=re.escape(message))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "shape", [(4, 1, 4), (4, 3, 4), (4,), (1, 4, 4)], ids=["extra-1", "extra-T", "flat", "lead-1"]
)
def test_observe_refuses_obs_with_extra_or_missing_axes(name: str, shape: tuple[int, ...]) -> None:
    model = _model(name)
    state = model.initial_state(4)
    got = ", ".join(map(str, shape))
    with _raises(f"observe: obs must be [B, 4] for this model, got [{got}]"):
        model.observe(state, None, torch.zeros(shape))
    with _raises(f"observe: obs must be [B, 4] for this model, got [{got}]"):
        model.observe(state, torch.zeros(4, dtype=torch.long), torch.zeros(shape))


@pytest.mark.parametrize("name", NAMES)
def test_image_observations_are_checked_like_vectors(name: str) -> None:
    model = _model(name, IMAGE)
    state = model.initial_state(2)
    for shape in [(2, 1, 1, 16, 16), (2, 3, 1, 16, 16), (2, 256), (2, 16, 16)]:
        got = ", ".join(map(str, shape))
        with _raises(f"observe: obs must be [B, 1, 16, 16] for this model, got [{got}]"):
            model.observe(state, None, torch.zeros(shape, dtype=torch.uint8))
    # The valid shape still works, and the state it gives dreams on.
    with torch.no_grad():
        state, _ = model.observe(state, None, torch.zeros(2, 1, 16, 16, dtype=torch.uint8))
        dream = model.rollout(state, torch.zeros(2, 2, dtype=torch.long))
    assert dream.obs.shape == (2, 2, 1, 16, 16)


@pytest.mark.parametrize("name", NAMES)
def test_actions_with_a_wrong_shape_name_the_expected_one(name: str) -> None:
    model, boxed = _model(name), _model(name, OBS_SPACE, BOX)
    state, box_state = model.initial_state(4), boxed.initial_state(4)
    obs = torch.zeros(4, 4)
    with _raises("observe: action must be [B] for this model (B=4), got [4, 1]"):
        model.observe(state, torch.zeros(4, 1, dtype=torch.long), obs)
    with _raises("imagine: action must be [B] for this model (B=4), got [4, 1]"):
        model.imagine(state, torch.zeros(4, 1, dtype=torch.long))
    with _raises("imagine: action must be [B] for this model (B=4), got [3]"):
        model.imagine(state, torch.zeros(3, dtype=torch.long))
    with _raises("rollout: actions must be [B, H] for this model (B=4), got [4, 3, 1]"):
        model.rollout(state, torch.zeros(4, 3, 1, dtype=torch.long))
    with _raises("rollout: actions must be [B, H] for this model (B=4), got [3]"):
        model.rollout(state, torch.zeros(3, dtype=torch.long))
    with _raises("imagine: action must be [B, 2] for this model (B=4), got [4, 3]"):
        boxed.imagine(box_state, torch.zeros(4, 3))
    with _raises("imagine: action must be [B, 2] for this model (B=4), got [4]"):
        boxed.imagine(box_state, torch.zeros(4))
    with _raises("rollout: actions must be [B, H, 2] for this model (B=4), got [4, 5]"):
        boxed.rollout(box_state, torch.zeros(4, 5))
    with _raises("imagine: discrete actions must lie in [0, 3)"):
        model.imagine(state, torch.full((4,), 3))


def _batch_cases(box: bool) -> list[tuple[str, Any, str]]:
    data = linear_system_data(2, seed=0, box=box)
    t = data.obs.shape[1]
    given = f"(B=2, T={t} from batch.obs)"
    a = ", 2" if box else ""
    return [
        (
            "action one row short",
            data._replace(action=data.action[:, :-1]),
            f"loss: batch.action must be [B, T{a}] for this model {given}, got [2, {t - 1}{a}]",
        ),
        (
            "action with an extra axis",
            data._replace(action=data.action[..., None]),
            f"loss: batch.action must be [B, T{a}] for this model {given}, got [2, {t}{a}, 1]",
        ),
        (
            "reward one row short",
            data._replace(reward=data.reward[:, :-1]),
            f"loss: batch.reward must be [B, T] for this model {given}, got [2, {t - 1}]",
        ),
        (
            "valid of another batch",
            data._replace(valid=data.valid[:1]),
            f"loss: batch.valid must be [B, T] for this model {given}, got [1, {t}]",
        ),
        (
            "obs without a time axis",
            data._replace(obs=data.obs[:, 0]),
            "loss: batch.obs must be [B, T, 4] for this model, got [2, 4]",
        ),
    ]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("box", [False, True], ids=["discrete", "box"])
def test_loss_refuses_mismatched_batches(name: str, box: bool) -> None:
    model = _model(name, OBS_SPACE, BOX if box else DISCRETE)
    for _, batch, message in _batch_cases(box):
        with _raises(message):
            model.loss(batch)
    with _raises("fit_normalization: batch.action must be"):
        model.fit_normalization(_batch_cases(box)[0][1])


def test_a_refused_batch_moves_no_weight() -> None:
    # The rssm's EMA target encoder steps inside loss(): a refused batch must not move it.
    model = make_world_model("rssm", OBS_SPACE, DISCRETE, **SMALL["rssm"], ema_target=True)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bad = _batch_cases(False)[0][1]
    with pytest.raises(ValueError, match="batch.action must be"):
        model.loss(bad)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def _poisoned(data: SequenceBatch, field: str, value: float) -> SequenceBatch:
    values = getattr(data, field).clone()
    values[1, 2] = value
    return data._replace(**{field: values})


@pytest.mark.parametrize("name", NAMES)
def test_infinite_and_implausibly_huge_values_are_refused(name: str) -> None:
    # The replay buffer's rule (finite, within 1e6 or the space's wider bounds) holds at
    # the protocol boundary too: such a value would give NaN predictions or losses.
    model, boxed = _model(name), _model(name, OBS_SPACE, BOX)
    why = "(NaN, infinity and magnitudes beyond 1e+06 are refused as implausible)"
    for value, shown in [(float("inf"), "inf"), (float("nan"), "nan"), (-1e30, "-1e+30")]:
        obs = torch.zeros(2, 4)
        obs[1, 3] = value
        with _raises(f"observe: obs contains {shown} {why}"):
            model.observe(model.initial_state(2), None, obs)
        data, box_data = linear_system_data(2, seed=0), linear_system_data(2, seed=0, box=True)
        for field in ("obs", "reward"):
            with _raises(f"loss: batch.{field} contains {shown} {why}"):
                model.loss(_poisoned(data, field, value))
            with _raises(f"fit_normalization: batch.{field} contains {shown} {why}"):
                model.fit_normalization(_poisoned(data, field, value))
        with _raises(f"loss: batch.action contains {shown} {why}"):
            boxed.loss(_poisoned(box_data, "action", value))
    # Up to the limit is valid, and the loss stays finite there.
    with torch.no_grad():
        loss, _ = model.loss(_poisoned(linear_system_data(2, seed=0), "obs", -1e6))
    assert bool(torch.isfinite(loss))
    wide = _model(name, gym.spaces.Box(-1e9, 1e9, (4,), np.float32))
    with torch.no_grad():
        wide.observe(wide.initial_state(1), None, torch.full((1, 4), 5e8))


@pytest.mark.parametrize("name", NAMES)
def test_valid_inputs_pass_every_check_unchanged(name: str) -> None:
    # Lists and arrays are as good as tensors, and the checked batch is what the
    # backend's loss reads: the checks only refuse, they never alter valid input.
    model = _model(name)
    data = linear_system_data(3, seed=1)
    checked = model.check_batch(data)
    assert isinstance(checked, SequenceBatch)
    for given, kept in zip(data, checked, strict=True):
        assert torch.equal(given.to(kept.dtype), kept)
    with torch.no_grad():
        from_list, _ = model.observe(model.initial_state(1), None, [[0.1, 0.2, 0.3, 0.4]])
        from_array, _ = model.observe(
            model.initial_state(1), None, np.array([[0.1, 0.2, 0.3, 0.4]], np.float32)
        )
        for a, b in zip(from_list, from_array, strict=True):
            assert torch.equal(a, b)
        assert model.rollout(from_list, [[0, 1, 2]]).obs.shape == (1, 3, 4)
