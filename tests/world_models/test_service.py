import asyncio
import dataclasses
import threading
import time
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


# -- bad data, failed steps ----------------------------------------------------------


def _finite(service: AsyncWorldModel) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in service.model.state_dict().values())


@pytest.mark.parametrize(
    ("obs", "nxt", "reward", "message"),
    [
        ((1e30, 0.2, 0.3, 0.4), OBS, 0.0, r"update: observation\[0\] is 1e\+30 \(beyond 1e\+06"),
        (OBS, (0.1, float("inf"), 0.3, 0.4), 0.0, r"actual_next_obs\[1\] is inf"),
        (OBS, (0.1, 0.2, float("nan"), 0.4), 0.0, r"actual_next_obs\[2\] is nan"),
        (OBS, OBS, 1e30, r"update: actual_reward is 1e\+30 \(beyond 1e\+06"),
        (OBS, OBS, float("-inf"), "actual_reward is -inf"),
    ],
)
def test_update_refuses_values_that_would_ruin_the_model(obs, nxt, reward, message):
    service = _mlp_service()
    asyncio.run(service.update(ModelInput(OBS, 1), OBS, 0.0, False))
    before = asyncio.run(service.snapshot())
    with pytest.raises(ValueError, match=message):
        asyncio.run(service.update(ModelInput(obs, 1), nxt, reward, False))
    assert asyncio.run(service.snapshot()) == before
    assert _finite(service)


def test_actions_that_are_no_integers_in_range_are_refused():
    service = _service()
    for action in (float("inf"), float("nan"), None, 1.5, -1, 3):
        with pytest.raises(ValueError, match=r"is not an integer in \[0, 3\)"):
            asyncio.run(service.predict(ModelInput(OBS, action)))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"is not an integer in \[0, 3\)"):
            asyncio.run(service.update(ModelInput(OBS, action), OBS, 0.0, False))  # type: ignore[arg-type]
    assert service.buffer_size == 0


class PoisonableModel(StepModel):
    """While ``poisoned``, a step with a finite loss would ruin the model.

    ``"gradient"``: the gradient turns NaN (the shared step refuses it before moving a
    weight); ``"buffer"``: the loss writes NaN into a buffer, as a target network gone
    wrong would, and the step itself succeeds.
    """

    poisoned: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("target", torch.zeros(OBS_DIM))

    def loss(self, batch: SequenceBatch):
        shift = self.shift + 0.0
        if self.poisoned == "gradient":
            shift.register_hook(lambda grad: grad * float("nan"))
        if self.poisoned == "buffer":
            self.target.fill_(float("nan"))
        loss = ((batch.obs[:, 0] + shift - batch.obs[:, 1]) ** 2).mean()
        return loss, {"loss/recon": float(loss.detach())}


def _poisonable_service() -> AsyncWorldModel:
    cfg = WorldModelConfig(obs_dim=OBS_DIM, action_dim=3, learning_rate=0.1, batch_size=4)
    return AsyncWorldModel(cfg, model=PoisonableModel())


STEPS = [(tuple(o + 0.1 * i for o in OBS), i % 3) for i in range(8)]


async def _updates(service: AsyncWorldModel, poison_at: int | None, poison: str) -> list[float]:
    losses = []
    for i, (obs, action) in enumerate(STEPS):
        if i == poison_at:
            service.model.poisoned = poison
            before = await service.snapshot()
            with pytest.raises(ValueError, match="non-finite.*the model is as it was"):
                await service.update(ModelInput(obs, action), OBS, 1.0, False)
            assert _finite(service) and await service.snapshot() == before
            service.model.poisoned = None
        losses.append(await service.update(ModelInput(obs, action), OBS, 1.0, False))
    return losses


@pytest.mark.parametrize("poison", ["gradient", "buffer"])
def test_a_step_that_would_leave_non_finite_weights_changes_no_weight(poison):
    service = _poisonable_service()
    losses = asyncio.run(_updates(service, 5, poison))
    assert np.all(np.isfinite(losses)) and _finite(service)
    assert service.buffer_size == len(STEPS)


def test_a_refused_step_leaves_what_follows_as_if_it_never_came():
    # Refused before any weight moved: the buffer, the replay draws and Adam's moments
    # are as they were, so what follows is what a service that never saw it computes.
    poisoned, clean = _poisonable_service(), _poisonable_service()
    assert asyncio.run(_updates(poisoned, 5, "gradient")) == asyncio.run(
        _updates(clean, None, "gradient")
    )
    assert asyncio.run(poisoned.snapshot()) == asyncio.run(clean.snapshot())


# -- cancellation and event loops ----------------------------------------------------


class SlowModel(StepModel):
    """A step that takes ``delay`` seconds and counts the steps running at once."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.running = 0
        self.most_at_once = 0
        self.finished = 0
        self._count = threading.Lock()

    def loss(self, batch: SequenceBatch):
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.delay)
        try:
            return super().loss(batch)
        finally:
            with self._count:
                self.running -= 1
                self.finished += 1


def _slow_service(delay: float = 0.3) -> tuple[AsyncWorldModel, SlowModel]:
    model = SlowModel(delay)
    return AsyncWorldModel(WorldModelConfig(obs_dim=OBS_DIM, action_dim=3), model=model), model


def test_a_cancelled_update_finishes_before_the_next_call_starts():
    service, model = _slow_service()

    async def run() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(service.update(ModelInput(OBS, 0), OBS, 0.0, False), 0.05)
        # The step that had started is done by the time the cancellation arrives.
        assert model.running == 0 and model.finished == 1
        await service.update(ModelInput(OBS, 1), OBS, 0.0, False)

    asyncio.run(run())
    assert model.most_at_once == 1
    assert service.buffer_size == 2 and asyncio.run(service.snapshot())["step_count"] == 2


def test_an_update_cancelled_while_it_waits_never_starts():
    service, model = _slow_service()

    async def run() -> None:
        first = asyncio.create_task(service.update(ModelInput(OBS, 0), OBS, 0.0, False))
        waiting = asyncio.create_task(service.update(ModelInput(OBS, 1), OBS, 0.0, False))
        await asyncio.sleep(0.05)
        waiting.cancel()
        await first
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(run())
    assert model.finished == 1 and service.buffer_size == 1


def test_one_service_serves_several_event_loops():
    service = _mlp_service()

    async def busy() -> list[ModelOutput]:
        # Calls that contend for the model (the case that bound a lock to its loop).
        update = service.update(ModelInput(OBS, 1), OBS, 0.5, False)
        outs = await asyncio.gather(update, *(service.predict(ModelInput(OBS, a)) for a in (0, 2)))
        return outs[1:]

    for _ in range(3):
        assert len(asyncio.run(busy())) == 2
    assert asyncio.run(service.snapshot())["step_count"] == 3


def test_loops_in_two_threads_never_step_the_model_at_once():
    service, model = _slow_service(delay=0.05)

    def loop_in_thread(action: int) -> None:
        async def run() -> None:
            for _ in range(3):
                await service.update(ModelInput(OBS, action), OBS, 0.0, False)

        asyncio.run(run())

    # Daemon threads with a bounded join: a deadlock fails the test instead of hanging it.
    threads = [threading.Thread(target=loop_in_thread, args=(a,), daemon=True) for a in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "the two loops deadlocked"
    assert model.finished == 6 and model.most_at_once == 1
    assert service.buffer_size == 6


# -- config ----------------------------------------------------------------------------

BAD_VALUES = {
    "obs_dim": [0, -1],
    "action_dim": [0],
    "hidden_dim": [0],
    "ensemble_size": [0],
    "rollout_horizon": [0],
    "max_buffer_size": [0, -5],
    "batch_size": [0],
    "learning_rate": [0.0, -1e-3, float("nan"), float("inf")],
    "surprise_threshold": [-0.1, float("nan")],
    "seed": [2**64],
}


@pytest.mark.parametrize(
    ("field", "value"), [(f, v) for f, values in BAD_VALUES.items() for v in values]
)
def test_config_refuses_out_of_range_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"WorldModelConfig\.{field} must be"):
        WorldModelConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("obs_dim", 2.5), ("batch_size", True), ("max_buffer_size", "10"), ("learning_rate", "1")],
)
def test_config_refuses_values_of_the_wrong_type(field, value):
    with pytest.raises(TypeError, match=rf"WorldModelConfig\.{field} must be"):
        WorldModelConfig(**{field: value})
    with pytest.raises(TypeError, match="backend must be a TransitionBackend"):
        WorldModelConfig(backend="MLP")  # type: ignore[arg-type]


def test_every_config_field_is_checked():
    # A field added without a check would slip through: each has a value it refuses.
    checked = {*BAD_VALUES, "backend"}
    assert checked == {f.name for f in dataclasses.fields(WorldModelConfig)}
    WorldModelConfig(max_buffer_size=1, batch_size=1, obs_dim=1, action_dim=1, seed=-1)


def test_the_smallest_buffer_and_batch_work():
    cfg = WorldModelConfig(obs_dim=OBS_DIM, action_dim=3, hidden_dim=8, max_buffer_size=1)
    service = AsyncWorldModel(dataclasses.replace(cfg, batch_size=1))
    for _ in range(3):
        assert np.isfinite(asyncio.run(service.update(ModelInput(OBS, 1), OBS, 0.0, False)))
    assert service.buffer_size == 1
