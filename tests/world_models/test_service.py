import asyncio
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

from lucidgym.world_models.protocol import Prediction, SequenceBatch
from lucidgym.world_models.service import (
    AsyncWorldModel,
    DreamRollout,
    ModelInput,
    ModelOutput,
    TransitionBackend,
    WorldModelConfig,
    WorldModelMetrics,
    WorldModelService,
    build_world_model,
)

OBS_DIM = 4


class _State(NamedTuple):
    obs: torch.Tensor
    t: torch.Tensor


class StepModel(nn.Module):
    """next_obs = obs + shift; reward = action + 0.5; done once ``done_at`` steps are dreamed."""

    name = "step"

    def __init__(self, done_at: int = 1000) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(OBS_DIM))
        self.done_at = done_at

    def initial_state(self, batch_size: int) -> _State:
        return _State(torch.zeros(batch_size, OBS_DIM), torch.zeros(batch_size))

    def _predict(self, state: _State, action: torch.Tensor) -> tuple[_State, Prediction]:
        obs = state.obs + self.shift
        t = state.t + 1
        done = (t >= self.done_at).float()
        return _State(obs, t), Prediction(obs, action.float() + 0.5, done)

    def observe(self, state, action, obs):
        return _State(obs, torch.zeros(obs.shape[0])), Prediction(obs, state.t, state.t)

    def imagine(self, state, action):
        return self._predict(state, action)

    def fit_normalization(self, batch: SequenceBatch) -> None:
        pass

    def loss(self, batch: SequenceBatch):
        pred = batch.obs[:, 0] + self.shift
        loss = ((pred - batch.obs[:, 1]) ** 2).mean()
        return loss, {"loss/recon": float(loss.detach())}


def _service(done_at: int = 1000, **config) -> AsyncWorldModel:
    cfg = WorldModelConfig(obs_dim=OBS_DIM, action_dim=3, learning_rate=0.1, **config)
    return AsyncWorldModel(cfg, model=StepModel(done_at))


def _mlp_service() -> AsyncWorldModel:
    return build_world_model(WorldModelConfig(obs_dim=OBS_DIM, action_dim=3, hidden_dim=32))


OBS = (0.1, 0.2, 0.3, 0.4)


def test_predict_returns_model_output():
    out = asyncio.run(_mlp_service().predict(ModelInput(OBS, 1)))
    assert isinstance(out, ModelOutput)
    assert all(isinstance(x, float) for x in out.next_observation)
    assert isinstance(out.predicted_reward, float)
    assert isinstance(out.predicted_done, bool)
    assert out.prediction_error == 0.0


def test_predict_obs_dim_preserved():
    out = asyncio.run(_mlp_service().predict(ModelInput(OBS, 2)))
    assert len(out.next_observation) == OBS_DIM
    with pytest.raises(ValueError, match="obs_dim"):
        asyncio.run(_mlp_service().predict(ModelInput((0.0, 1.0), 2)))
    with pytest.raises(ValueError, match="action"):
        asyncio.run(_mlp_service().predict(ModelInput(OBS, 3)))


def test_dream_rollout_length():
    rollout = asyncio.run(_service().dream_rollout(OBS, [0, 1, 2, 0, 1]))
    assert isinstance(rollout, DreamRollout)
    assert len(rollout.steps) == 5
    default = asyncio.run(_service(rollout_horizon=7).dream_rollout(OBS))
    assert len(default.steps) == 7


def test_dream_rollout_terminates_on_done():
    rollout = asyncio.run(_service(done_at=3).dream_rollout(OBS, [0] * 10))
    assert len(rollout.steps) == 3
    assert rollout.steps[-1].predicted_done
    assert not any(s.predicted_done for s in rollout.steps[:-1])


def test_update_returns_scalar_loss():
    service = _mlp_service()
    nxt = tuple(o + 0.1 for o in OBS)
    first = asyncio.run(service.update(ModelInput(OBS, 1), nxt, 1.0, False))
    assert isinstance(first, float) and np.isfinite(first)
    for _ in range(60):
        last = asyncio.run(service.update(ModelInput(OBS, 1), nxt, 1.0, False))
    # Real gradient steps: the loss on a repeated transition falls by a wide margin.
    assert last < 0.3 * first


def test_update_increments_buffer():
    service = _service(max_buffer_size=3)
    for i in range(5):
        asyncio.run(service.update(ModelInput(OBS, 0), OBS, 0.0, False))
        assert service.buffer_size == min(i + 1, 3)


def test_surprise_zero_on_perfect_prediction():
    service = _mlp_service()
    inp = ModelInput(OBS, 1)
    predicted = asyncio.run(service.predict(inp)).next_observation
    assert asyncio.run(service.surprise(inp, predicted)) == pytest.approx(0.0, abs=1e-10)


def test_surprise_high_on_bad_prediction():
    service = _service()
    inp = ModelInput(OBS, 1)
    bad = tuple(o + 10.0 for o in OBS)
    score = asyncio.run(service.surprise(inp, bad))
    assert score == pytest.approx(100.0)
    assert service.is_surprised(score)
    # The measured error is what later predictions report.
    assert asyncio.run(service.predict(inp)).prediction_error == pytest.approx(100.0)


def test_snapshot_keys():
    service = _mlp_service()
    before = asyncio.run(service.snapshot())
    asyncio.run(service.update(ModelInput(OBS, 1), OBS, 0.0, False))
    after = asyncio.run(service.snapshot())
    assert {"config", "step_count", "buffer_size", "weights_digest"} <= set(after)
    assert after["step_count"] == 1 and after["buffer_size"] == 1
    assert after["config"]["backend"] == "MLP"
    assert before["weights_digest"] != after["weights_digest"]
    import json

    json.dumps(after)


def test_build_world_model_returns_protocol():
    service = build_world_model(WorldModelConfig(obs_dim=OBS_DIM, action_dim=3, hidden_dim=16))
    assert isinstance(service, WorldModelService)
    assert TransitionBackend.RSSM in TransitionBackend


def test_concurrent_predict_safe():
    service = _mlp_service()

    async def run():
        inputs = [ModelInput(tuple(float(i) * x for x in OBS), i % 3) for i in range(50)]
        outs = await asyncio.gather(*(service.predict(inp) for inp in inputs))
        alone = [await service.predict(inp) for inp in inputs]
        return outs, alone

    outs, alone = asyncio.run(run())
    assert len(outs) == 50
    assert outs == alone


def test_dream_rollout_accumulates_reward():
    actions = [0, 2, 1, 2]
    rollout = asyncio.run(_service().dream_rollout(OBS, actions))
    assert rollout.total_imagined_reward == pytest.approx(sum(a + 0.5 for a in actions))
    assert rollout.total_imagined_reward == pytest.approx(
        sum(s.predicted_reward for s in rollout.steps)
    )


def test_prometheus_metrics():
    pytest.importorskip("prometheus_client")
    metrics = WorldModelMetrics()
    service = AsyncWorldModel(
        WorldModelConfig(obs_dim=OBS_DIM, action_dim=3), model=StepModel(), metrics=metrics
    )
    asyncio.run(service.update(ModelInput(OBS, 0), OBS, 0.0, False))
    asyncio.run(service.dream_rollout(OBS, [0, 1]))
    asyncio.run(service.surprise(ModelInput(OBS, 0), tuple(o + 1 for o in OBS)))
    value = metrics.registry.get_sample_value
    assert value("wm_update_total") == 1
    assert value("wm_buffer_size") == 1
    assert value("wm_rollout_steps_total") == 2
    assert value("wm_surprise_score") == pytest.approx(1.0)
    assert value("wm_train_loss") is not None
