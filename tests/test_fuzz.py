"""Random bad values thrown at every boundary a user feeds (hypothesis).

Each test asserts the two things a user relies on: the call either refuses the input
with a ``ValueError``/``TypeError`` whose message names the problem, or gives a finite
result; and no model weight ever becomes non-finite. Example counts are small, so the
module runs in seconds.
"""

from __future__ import annotations

import asyncio

import gymnasium as gym
import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lucidgym  # noqa: E402, F401
from lucidgym.envs.registration import env_ids  # noqa: E402
from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer  # noqa: E402
from lucidgym.world_models.protocol import SequenceBatch  # noqa: E402
from lucidgym.world_models.registry import make_world_model  # noqa: E402

FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NASTY = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([1e30, -1e30, 1e7, -3.0, 99.0, 2.7]),
    st.integers(min_value=-(2**63), max_value=2**64),
)
"""Values a careless pipeline produces: NaN, infinities, huge, negative, fractional."""


def _refused_or_finite(call, finite=None) -> None:
    try:
        out = call()
    except (ValueError, TypeError) as err:
        assert str(err).strip(), "an error must say what is wrong"
        return
    for value in finite(out) if finite is not None else ():
        assert np.all(np.isfinite(np.asarray(value, dtype=np.float64)))


def _all_finite(model: torch.nn.Module) -> bool:
    return all(
        bool(torch.isfinite(p).all()) for p in model.state_dict().values() if p.is_floating_point()
    )


@pytest.mark.parametrize("env_id", env_ids())
@FAST
@given(value=NASTY)
def test_env_step_refuses_or_steps(env_id, value):
    env = gym.make(env_id)
    env.reset(seed=0)
    space = env.action_space
    action = value if isinstance(space, gym.spaces.Discrete) else np.full(space.shape, value)
    _refused_or_finite(lambda: env.step(action), lambda out: [out[0], out[1]])


@pytest.mark.parametrize("env_id", env_ids())
@FAST
@given(value=NASTY, field=st.integers(min_value=0, max_value=20), row=st.integers(0, 30))
def test_set_state_refuses_or_keeps_a_valid_episode(env_id, value, field, row):
    env = gym.make(env_id)
    env.reset(seed=0)
    base = env.unwrapped
    state = base.get_state()
    fields = [np.array(f, copy=True) for f in state]
    target = fields[field % len(fields)]
    flat = target.reshape(-1)
    if flat.size == 0:
        return
    try:
        flat[row % flat.size] = value
    except (OverflowError, ValueError):
        return  # the value does not fit the field's dtype: nothing to hand over
    bad = type(state)(*fields)
    try:
        base.set_state(bad)
    except (ValueError, TypeError) as err:
        assert str(err).strip()
        return
    obs, reward, *_ = env.step(env.action_space.sample())
    assert np.all(np.isfinite(np.asarray(obs, dtype=np.float64))) and np.isfinite(reward)


@pytest.mark.parametrize("backend", ["mlp", "lstm", "ensemble", "rssm"])
@FAST
@given(value=NASTY, shape=st.sampled_from([(2, 4), (2, 1, 4), (3,), (2, 5)]))
def test_world_model_calls_refuse_or_stay_finite(backend, value, shape):
    obs_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    model = make_world_model(backend, obs_space, gym.spaces.Discrete(3), hidden_size=16)
    with np.errstate(over="ignore"):
        obs = torch.full(shape, float(np.float32(value)))
    state = model.initial_state(2)
    _refused_or_finite(lambda: model.observe(state, None, obs))
    _refused_or_finite(lambda: model.imagine(state, torch.full((2,), 1, dtype=torch.int64)))
    obs_rows = torch.zeros(2, 6, 4)
    obs_rows[:, 2] = float(value)
    batch = SequenceBatch(
        obs=obs_rows,
        action=torch.zeros(2, 6, dtype=torch.int64),
        reward=torch.zeros(2, 6),
        terminal=torch.zeros(2, 6),
        is_first=torch.zeros(2, 6, dtype=torch.bool).index_fill_(1, torch.tensor([0]), True),
        valid=torch.ones(2, 6, dtype=torch.bool).index_fill_(1, torch.tensor([5]), False),
    )
    _refused_or_finite(lambda: model.loss(batch)[0].detach())
    assert _all_finite(model)


@FAST
@given(obs=NASTY, action=NASTY, reward=NASTY, where=st.integers(0, 4))
def test_dataset_episodes_are_refused_or_loaded_clean(obs, action, reward, where):
    obs_space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
    act_space = gym.spaces.Discrete(4)
    episode = Episode(
        obs=np.full((6, 3), 0.5, dtype=np.float64),
        action=np.zeros(5, dtype=np.float64),
        reward=np.zeros(5, dtype=np.float64),
        terminal=np.zeros(5, dtype=bool),
    )
    with np.errstate(all="ignore"):
        episode.obs[where, 0] = obs
        episode.action[where] = action
        episode.reward[where] = reward
    try:
        buffer = SequenceReplayBuffer.from_episodes([episode], obs_space, act_space)
    except (ValueError, TypeError) as err:
        assert "step" in str(err) or "episode" in str(err), str(err)
        return
    (kept,) = buffer.episodes()
    assert np.all(np.isfinite(kept.obs)) and np.all(np.isfinite(kept.reward))
    assert set(np.unique(kept.action)) <= set(range(4))


@pytest.fixture(scope="module")
def service():
    from lucidgym.world_models.service import AsyncWorldModel, WorldModelConfig

    config = WorldModelConfig(obs_dim=4, action_dim=3, hidden_dim=16, batch_size=4, ensemble_size=2)
    return AsyncWorldModel(config)


@FAST
@given(obs=NASTY, nxt=NASTY, reward=NASTY, action=st.one_of(st.integers(-5, 9), NASTY))
def test_service_update_and_predict_refuse_or_stay_finite(service, obs, nxt, reward, action):
    from lucidgym.world_models.service import ModelInput

    def update():
        inp = ModelInput(observation=(float(obs), 0.1, 0.2, 0.3), action=action)
        return asyncio.run(service.update(inp, (float(nxt), 0.0, 0.0, 0.0), reward, False))

    _refused_or_finite(update, lambda loss: [loss])
    predict = ModelInput(observation=(0.1, 0.2, 0.3, 0.4), action=1)
    out = asyncio.run(service.predict(predict))
    assert np.all(np.isfinite(out.next_observation))
    model = getattr(service, "model", None)
    if isinstance(model, torch.nn.Module):
        assert _all_finite(model)
