"""World-model backends: registry, shapes, checks, and learning on a known system."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from lucidgym.batched import batch_take
from lucidgym.world_models import (
    WORLD_MODELS,
    SequenceBatch,
    WorldModel,
    config_from_dict,
    config_to_dict,
    make_world_model,
    stochastic_backends,
    stochastic_dream_config,
)
from tests.world_models.conftest import (
    DISCRETE,
    OBS_SPACE,
    SMALL,
    learning_check,
    linear_system_data,
    train,
)

BOX = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


@pytest.mark.parametrize("name", ["mlp", "lstm", "transformer", "ensemble"])
def test_backend_learns_and_beats_persistence(name: str) -> None:
    learning_check(name, steps=120, ratio=0.25)


def test_registry_errors_and_config_round_trip() -> None:
    with pytest.raises(ValueError, match="valid names.*'ensemble'.*'rssm'"):
        make_world_model("nope", OBS_SPACE, DISCRETE)
    with pytest.raises(ValueError, match=r"world model 'mlp': unknown config keys \['bogus'\]"):
        make_world_model("mlp", OBS_SPACE, DISCRETE, bogus=1)
    with pytest.raises(ValueError, match="preset"):
        make_world_model("rssm", OBS_SPACE, DISCRETE, preset="huge")
    with pytest.raises(ValueError, match="Box observation"):
        make_world_model("mlp", gym.spaces.Discrete(4), DISCRETE)
    with pytest.raises(ValueError, match="action spaces"):
        make_world_model("mlp", OBS_SPACE, gym.spaces.MultiBinary(3))
    for name in WORLD_MODELS:
        model = make_world_model(name, OBS_SPACE, DISCRETE, **SMALL[name])
        data = json.loads(json.dumps(config_to_dict(model.config)))
        again = make_world_model(name, OBS_SPACE, DISCRETE, **data)
        assert again.config == model.config == config_from_dict(name, data)
        again.load_state_dict(model.state_dict())
        assert model.name == name and isinstance(model, WorldModel)


@pytest.mark.parametrize("name", sorted(WORLD_MODELS))
@pytest.mark.parametrize("action_space", [DISCRETE, BOX], ids=["discrete", "box"])
def test_shapes_take_and_rollout_equals_imagine(name: str, action_space: Any) -> None:
    torch.manual_seed(0)
    model = make_world_model(name, OBS_SPACE, action_space, **SMALL[name]).eval()
    b, h = 6, 5
    box = isinstance(action_space, gym.spaces.Box)
    data = linear_system_data(b, seed=2, box=box)
    model.fit_normalization(data)
    with torch.no_grad():
        state, first = model.observe(model.initial_state(b), None, data.obs[:, 0])
        state, pred = model.observe(state, data.action[:, 0], data.obs[:, 1])
        assert pred.obs.shape == (b, 4) and first.obs.shape == (b, 4)
        assert pred.reward.shape == pred.done.shape == (b,)
        assert bool(((pred.done >= 0) & (pred.done <= 1)).all())
        actions = data.action[:, 1 : 1 + h]
        dream = model.rollout(state, actions)
        assert dream.obs.shape == (b, h, 4)
        assert dream.reward.shape == dream.done.shape == (b, h)
        if dream.uncertainty is not None:
            assert dream.uncertainty.shape == (b, h)
        stepped = state
        for i in range(h):
            stepped, step = model.imagine(stepped, actions[:, i])
            torch.testing.assert_close(step.obs, dream.obs[:, i])
            torch.testing.assert_close(step.reward, dream.reward[:, i])
        for a, c in zip(stepped, dream.state, strict=True):
            torch.testing.assert_close(a, c)
        # Planners fan states out with batch_take, by numpy or tensor index.
        for index in (np.array([2, 2, 0]), torch.tensor([2, 2, 0])):
            taken = batch_take(state, index)
            assert type(taken) is type(state) and taken[0].shape[0] == 3
            again = model.rollout(taken, actions[index])
            torch.testing.assert_close(again.obs, dream.obs[[2, 2, 0]])
        many = model.rollout(batch_take(state, np.zeros(300, int)), actions[[0] * 300])
        assert many.obs.shape == (300, h, 4)


@pytest.mark.parametrize("name", sorted(WORLD_MODELS))
def test_bad_inputs_raise_clear_errors(name: str) -> None:
    model = make_world_model(name, OBS_SPACE, DISCRETE, **SMALL[name])
    state = model.initial_state(2)
    with pytest.raises(ValueError, match=r"observe: obs must be \[B, 4\] .*, got \[2, 5\]"):
        model.observe(state, None, torch.zeros(2, 5))
    with pytest.raises(ValueError, match="NaN"):
        model.observe(state, None, torch.full((2, 4), float("nan")))
    with pytest.raises(ValueError, match="batch"):
        model.observe(state, None, torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"imagine: action must be \[B\] .* got \[3\]"):
        model.imagine(state, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="discrete actions must lie"):
        model.imagine(state, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="state must be"):
        model.imagine((torch.zeros(2, 4),), torch.tensor([0, 1]))
    wrong = state._replace(**{state._fields[-1]: torch.zeros(2, 99)})
    with pytest.raises(ValueError, match=rf"state.{state._fields[-1]} has shape \(2, 99\)"):
        model.rollout(wrong, torch.zeros(2, 3, dtype=torch.long))
    data = linear_system_data(2, seed=0)
    with pytest.raises(ValueError, match="NaN"):
        model.loss(data._replace(obs=data.obs.clone().fill_(float("nan"))))
    with pytest.raises(ValueError, match=r"loss: batch.obs must be \[B, T, 4\]"):
        model.loss(data._replace(obs=data.obs[..., :3]))
    boxed = make_world_model(name, OBS_SPACE, BOX, **SMALL[name])
    with pytest.raises(ValueError, match="action contains NaN"):
        boxed.imagine(boxed.initial_state(1), torch.full((1, 2), float("nan")))


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_memory_resets_at_episode_start(name: str) -> None:
    # Rows of the first episode are masked out; only the second episode is scored,
    # so the loss must not depend on what the first episode held.
    torch.manual_seed(0)
    model = make_world_model(name, OBS_SPACE, DISCRETE, **SMALL[name]).eval()
    data = linear_system_data(4, seed=3)
    first_ep = torch.arange(data.obs.shape[1]) < 13
    data = data._replace(valid=data.valid & ~first_ep)
    other = data._replace(obs=torch.where(first_ep[None, :, None], data.obs + 3.0, data.obs))
    with torch.no_grad():
        assert model.loss(data)[1] == pytest.approx(model.loss(other)[1], rel=1e-5)
        # Without the reset the scored rows would see the changed episode.
        leak = other._replace(is_first=torch.zeros_like(data.is_first))
        assert model.loss(leak)[1]["loss/recon"] != pytest.approx(model.loss(data)[1]["loss/recon"])


def test_normalization_is_fitted_and_saved() -> None:
    model = make_world_model("mlp", OBS_SPACE, DISCRETE)
    data = linear_system_data(32, seed=0)
    model.fit_normalization(data)
    state = model.state_dict()
    torch.testing.assert_close(state["norm.obs_loc"], data.obs.reshape(-1, 4).mean(0))
    assert float(state["norm.reward_scale"]) > 0.1
    bounded = make_world_model("mlp", gym.spaces.Box(0.0, 2.0, (3,), np.float32), DISCRETE)
    torch.testing.assert_close(bounded.norm.obs_loc, torch.ones(3))


def test_ensemble_disagreement_grows_off_distribution_and_modes() -> None:
    torch.manual_seed(0)
    data = linear_system_data(128, seed=0)
    model = make_world_model("ensemble", OBS_SPACE, DISCRETE, **SMALL["ensemble"])
    model.fit_normalization(data)
    train(model, data, 80)
    model.eval()
    with torch.no_grad():
        near = model.observe(model.initial_state(64), None, data.obs[:64, 0])[0]
        far = model.observe(model.initial_state(64), None, data.obs[:64, 0] + 25.0)[0]
        actions = data.action[:64, :3]
        u_near = model.rollout(near, actions).uncertainty
        u_far = model.rollout(far, actions).uncertainty
        assert u_near is not None and u_far is not None
        assert u_far.mean() > 3 * u_near.mean()
        model.config.imagine_mode = "random"
        one, two = model.rollout(far, actions).obs, model.rollout(far, actions).obs
        assert not torch.allclose(one, two)


@pytest.mark.parametrize("name", list(WORLD_MODELS))
def test_declared_stochastic_dreams_differ_and_the_rest_repeat(name: str) -> None:
    stochastic = stochastic_dream_config(name)
    assert (stochastic is not None) == (name in stochastic_backends())
    data = linear_system_data(4, seed=0)
    for config, differ in [({}, False), (stochastic or {}, stochastic is not None)]:
        torch.manual_seed(0)
        model = make_world_model(name, OBS_SPACE, DISCRETE, **{**SMALL[name], **config}).eval()
        with torch.no_grad():
            state, _ = model.observe(model.initial_state(4), None, data.obs[:, 0])
            one, two = (model.rollout(state, data.action[:, :3]).obs for _ in range(2))
        assert torch.equal(one, two) != differ, (name, config)


def test_stochastic_dream_facts_come_from_the_backends() -> None:
    assert stochastic_backends() == ["ensemble", "rssm"]
    assert stochastic_dream_config("ensemble") == {"imagine_mode": "random", "sample": True}
    assert stochastic_dream_config("rssm") == {"imagine_sample": True}
    assert stochastic_dream_config("mlp") is None
    # A copy: changing it leaves the backend's declaration as it was.
    stochastic_dream_config("rssm")["imagine_sample"] = False  # type: ignore[index]
    assert stochastic_dream_config("rssm") == {"imagine_sample": True}
    with pytest.raises(ValueError, match="unknown world model 'nope'"):
        stochastic_dream_config("nope")


@pytest.mark.parametrize("name", ["mlp", "lstm", "transformer", "ensemble"])
def test_image_observations_are_flattened_by_flat_backends(name: str) -> None:
    space = gym.spaces.Box(0, 255, (1, 8, 8), np.uint8)
    model = make_world_model(name, space, DISCRETE, **SMALL[name])
    frames = torch.zeros(2, 1, 8, 8, dtype=torch.uint8)
    with torch.no_grad():
        state, _ = model.observe(model.initial_state(2), None, frames)
        dream = model.rollout(state, torch.zeros(2, 3, dtype=torch.long))
    assert dream.obs.shape == (2, 3, 1, 8, 8)
    assert float(dream.obs.min()) >= 0.0 and float(dream.obs.max()) <= 255.0


def test_transformer_cached_steps_equal_the_training_pass() -> None:
    torch.manual_seed(0)
    model = make_world_model("transformer", OBS_SPACE, DISCRETE, **SMALL["transformer"]).eval()
    data = linear_system_data(3, seed=4, ep_len=14, eps_per_seq=1)
    model.fit_normalization(data)
    t = data.obs.shape[1]
    with torch.no_grad():
        tokens = torch.cat(
            [model.norm.obs(data.obs).reshape(3, t, -1), model.actions.encode(data.action)], -1
        )
        age = torch.arange(t)[:, None] - torch.arange(t)[None, :]
        allowed = ((age >= 0) & (age < model.config.window)).expand(3, t, t)
        full = (
            data.obs[:, :-1] + model._encode(tokens, allowed)[:, :-1, :4] * model.norm.delta_scale
        )
        state, _ = model.observe(model.initial_state(3), None, data.obs[:, 0])
        for i in range(t - 1):
            state, pred = model.observe(state, data.action[:, i], data.obs[:, i + 1])
            torch.testing.assert_close(pred.obs, full[:, i], atol=1e-5, rtol=1e-5)


def _with_rare_terminals(data):
    """``data`` whose valid steps are terminal at random, one in 12, whatever the state."""
    draws = torch.rand(data.valid.shape, generator=torch.Generator().manual_seed(0)) < 1 / 12
    return data._replace(terminal=(draws & data.valid).float())


@pytest.mark.parametrize("name", sorted(WORLD_MODELS))
def test_terminal_weight_scales_the_termination_loss_of_terminal_steps(name: str) -> None:
    data = _with_rare_terminals(linear_system_data(8, seed=0))
    losses = []
    for weight in (1.0, 10.0):
        torch.manual_seed(0)
        extra = {"bootstrap": False} if name == "ensemble" else {}
        model = make_world_model(
            name, OBS_SPACE, DISCRETE, terminal_weight=weight, **SMALL[name], **extra
        )
        model.fit_normalization(data)
        losses.append(model.loss(data)[1]["loss/done"])
    # At p near 0.5 every step costs about log 2; one in 12 costs 10 times more: 1.75x.
    assert losses[1] > 1.5 * losses[0]


@pytest.mark.parametrize("name", ["mlp", "ensemble"])
def test_a_weighted_done_head_learns_the_weighted_odds_of_an_unpredictable_end(name: str) -> None:
    # Nothing in the data tells a terminal step from another, so the best head predicts
    # odds w q / (1 - q) everywhere for terminal rate q = 1/12: p 0.083 unweighted, 0.65 at w 20.
    data = _with_rare_terminals(linear_system_data(64, seed=1))
    means = {}
    for weight in (1.0, 20.0):
        torch.manual_seed(0)
        model = make_world_model(name, OBS_SPACE, DISCRETE, terminal_weight=weight, **SMALL[name])
        model.fit_normalization(data)
        train(model, data, 300)
        with torch.no_grad():
            state, _ = model.observe(model.initial_state(64), None, data.obs[:, 0])
            _, pred = model.imagine(state, data.action[:, 0])
        means[weight] = float(pred.done.mean())
    assert means[1.0] < 0.2 and 0.5 < means[20.0] < 0.8


def _hidden_velocity_data(n_seq: int, seed: int, ep_len: int = 10) -> SequenceBatch:
    """Two episodes a sequence of ``x' = x + v + 0.2 [a = 1]``, ``v`` hidden per episode."""
    rng = np.random.default_rng(seed)
    rows = ep_len + 1
    t = 2 * rows
    obs = np.zeros((n_seq, t, 1), np.float32)
    act = rng.integers(0, 2, (n_seq, t))
    is_first = np.zeros((n_seq, t), bool)
    valid = np.zeros((n_seq, t), bool)
    for e in range(2):
        x = rng.uniform(-1, 1, n_seq)
        v = rng.uniform(-0.3, 0.3, n_seq)
        for k in range(rows):
            i = e * rows + k
            obs[:, i, 0], is_first[:, i], valid[:, i] = x, k == 0, k < ep_len
            x = x + v + 0.2 * (act[:, i] == 1)
    return SequenceBatch(
        torch.tensor(obs),
        torch.tensor(act),
        torch.zeros(n_seq, t),
        torch.zeros(n_seq, t),
        torch.tensor(is_first),
        torch.tensor(valid),
    )


def _one_step_error(model: Any, data: SequenceBatch) -> float:
    """Mean absolute error of the filtered one-step predictions, after each episode's start."""
    model.eval()
    errors = []
    with torch.no_grad():
        state, _ = model.observe(model.initial_state(data.obs.shape[0]), None, data.obs[:, 0])
        for t in range(1, data.obs.shape[1]):
            first = data.is_first[:, t]
            if bool(first.all()):
                state, _ = model.observe(state, None, data.obs[:, t])
                continue
            state, pred = model.observe(state, data.action[:, t - 1], data.obs[:, t])
            if t % 11 >= 2:  # rows with an earlier observation in their episode
                errors.append((pred.obs - data.obs[:, t]).abs().mean().item())
    return float(np.mean(errors))


def test_ensemble_history_infers_what_one_observation_hides() -> None:
    space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    actions = gym.spaces.Discrete(2)
    data, held_out = _hidden_velocity_data(256, seed=0), _hidden_velocity_data(64, seed=1)
    errors = {}
    for history in (1, 2):
        torch.manual_seed(0)
        model = make_world_model(
            "ensemble", space, actions, num_members=3, hidden_size=64, history=history
        )
        model.fit_normalization(data)
        if history == 2:
            errors["untrained"] = _one_step_error(model, held_out)
        train(model, data, 600, lr=1e-2, batch=64)
        errors[history] = _one_step_error(model, held_out)
    # The velocity is uniform on [-0.3, 0.3]: one observation only hints at it (through
    # how far the position has drifted), two give it exactly.
    assert errors[1] > 0.08, errors
    assert errors[2] < 0.4 * errors[1], errors
    assert errors["untrained"] > 0.4 * errors[1], errors


def test_ensemble_history_windows_in_training_match_filtering() -> None:
    model = make_world_model("ensemble", OBS_SPACE, DISCRETE, **SMALL["ensemble"], history=4)
    full = model.check_batch(linear_system_data(3, seed=0, ep_len=5))
    b, t = full.reward.shape
    # Filter every row of every sequence, restarting where an episode starts.
    state, _ = model.observe(model.initial_state(b), None, full.obs[:, 0])
    windows = [state.past]
    for step in range(1, t):
        first = full.is_first[:, step]
        cont, _ = model.observe(state, full.action[:, step - 1], full.obs[:, step])
        fresh, _ = model.observe(state, None, full.obs[:, step])
        pick = [
            torch.where(first.view(-1, *[1] * (c.dim() - 1)), f, c)
            for c, f in zip(cont, fresh, strict=True)
        ]
        state = type(state)(*pick)
        windows.append(state.past)
    online = torch.stack(windows, 1)
    for start in (0, 2):  # a sequence from an episode's start, and one from its middle
        part = SequenceBatch(*(field[:, start:] for field in full))
        encoded = model.actions.encode(part.action.reshape(-1)).view(b, t - start, -1)
        past, complete = model._batch_past(part, encoded)
        assert torch.allclose(past[complete], online[:, start:][complete])
        # Mid-episode, the first rows' windows reach before the sequence: not scored.
        assert bool(complete.all()) == (start == 0)
    assert model.initial_state(2).past.shape == (2, 3, 4 + 3 + 1)
    with pytest.raises(ValueError, match="history must be at least 1"):
        make_world_model("ensemble", OBS_SPACE, DISCRETE, history=0)
