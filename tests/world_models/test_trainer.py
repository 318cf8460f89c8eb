import copy

import numpy as np
import pytest
import torch

import lucidgym  # noqa: F401
from lucidgym.world_models.checkpoint import save_world_model
from lucidgym.world_models.collect import collect_to_buffer, make_collection_env
from lucidgym.world_models.registry import make_world_model
from lucidgym.world_models.trainer import (
    NonFiniteLossError,
    Trainer,
    TrainerConfig,
    resolve_device,
    train_step,
)
from tests.world_models.conftest import DISCRETE, OBS_SPACE, linear_system_data


@pytest.fixture(scope="module")
def buffer():
    return collect_to_buffer(make_collection_env("Tutoring-v0", 16), 40, seed=0)


def _model(buffer, seed=0):
    torch.manual_seed(seed)
    return make_world_model("mlp", buffer.observation_space, buffer.action_space, hidden_size=64)


def test_training_lowers_the_eval_loss(buffer, tmp_path):
    config = TrainerConfig(
        steps=300, eval_interval=50, progress=False, log_dir=str(tmp_path / "tb"), threads=1
    )
    history = Trainer(_model(buffer), config).fit(buffer)
    assert history.steps_done == 300 and history.eval_steps == [50, 100, 150, 200, 250, 300]
    assert history.eval_loss[-1] < 0.8 * history.eval_loss[0]
    assert {"loss/total", "loss/recon", "loss/reward", "loss/done"} <= set(history.train[-1])
    assert history.best_eval_loss == min(history.eval_loss)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert {"loss/recon", "eval/loss", "charts/sps"} <= set(events.Tags()["scalars"])


def test_best_weights_are_kept(buffer):
    config = TrainerConfig(steps=120, eval_interval=40, progress=False, lr=3e-2, seed=1, threads=1)
    trainer = Trainer(_model(buffer), config)
    history = trainer.fit(buffer)
    train, held = buffer.split(config.eval_fraction, seed=config.seed)
    rng = np.random.default_rng(config.seed + 1)
    batches = [held.sample(config.batch_size, config.seq_len, rng) for _ in range(8)]
    # The restored weights are those of the best evaluation, not the last step's.
    assert trainer._eval_loss(batches) == pytest.approx(history.best_eval_loss, rel=1e-5)


def test_early_stopping(buffer):
    config = TrainerConfig(
        steps=1000, eval_interval=10, patience=2, lr=0.0, progress=False, threads=1
    )
    history = Trainer(_model(buffer), config).fit(buffer)
    assert history.stopped_early
    assert history.steps_done == 30 and len(history.eval_loss) == 3


def test_threads_are_set_and_restored(buffer, monkeypatch):
    model = _model(buffer)
    seen = []
    loss = model.loss

    def recording_loss(batch):
        seen.append(torch.get_num_threads())
        return loss(batch)

    monkeypatch.setattr(model, "loss", recording_loss)
    before = torch.get_num_threads()
    Trainer(model, TrainerConfig(steps=3, progress=False, threads=1, eval_fraction=0.0)).fit(buffer)
    assert set(seen) == {1}
    assert torch.get_num_threads() == before


def test_bad_config_is_refused(buffer):
    with pytest.raises(ValueError, match="eval_fraction"):
        Trainer(_model(buffer), TrainerConfig(eval_fraction=1.5))
    with pytest.raises(ValueError, match="device"):
        Trainer(_model(buffer), TrainerConfig(device="tpu"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            Trainer(_model(buffer), TrainerConfig(device="cuda"))


def _tiny_mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return make_world_model("mlp", OBS_SPACE, DISCRETE, hidden_size=16, num_layers=1)


@pytest.mark.parametrize("lr", [1e-2, 0.0])
def test_train_step_lowers_the_loss_on_a_fixed_batch(lr):
    model, batch = _tiny_mlp(), linear_system_data(8, seed=0)
    model.fit_normalization(batch)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = [train_step(model, optimizer, batch) for _ in range(8)]
    assert list(steps[0]) == ["loss/total", "loss/recon", "loss/reward", "loss/done"]
    losses = [terms["loss/total"] for terms in steps]
    if lr > 0:
        assert losses[-1] < 0.9 * losses[0], losses
    else:
        assert len(set(losses)) == 1
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [v.detach().clone() for v in model.state_dict().values()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_train_step_clips_the_gradient_norm():
    model, batch = _tiny_mlp(), linear_system_data(8, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_step(model, optimizer, batch, grad_clip=1e-3)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert float(norm) <= 1e-3 * (1 + 1e-4)


@pytest.mark.parametrize("grad_clip", [10.0, None])
def test_train_step_refuses_a_non_finite_loss_or_gradient_and_moves_nothing(grad_clip, monkeypatch):
    model, batch = _tiny_mlp(), linear_system_data(8, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_step(model, optimizer, batch, grad_clip=grad_clip)
    before, moments = _weights(model), copy.deepcopy(optimizer.state_dict())
    # A finite loss whose gradient is NaN (as from sqrt at 0, or a bad custom loss).
    hook = next(model.parameters()).register_hook(lambda g: g * float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"gradients are non-finite \(global norm nan"):
        train_step(model, optimizer, batch, grad_clip=grad_clip)
    hook.remove()
    loss = model.loss
    monkeypatch.setattr(model, "loss", lambda b: (loss(b)[0] * float("inf"), {}))
    with pytest.raises(ValueError, match="world-model loss became inf"):
        train_step(model, optimizer, batch, grad_clip=grad_clip)
    assert _same(before, _weights(model))
    assert str(optimizer.state_dict()) == str(moments)
    assert issubclass(NonFiniteLossError, FloatingPointError)


def test_trainer_names_the_step_of_a_non_finite_loss(buffer, monkeypatch):
    model = _model(buffer)
    monkeypatch.setattr(model, "loss", lambda batch: (torch.tensor(float("nan")), {}))
    config = TrainerConfig(steps=3, progress=False, eval_fraction=0.0)
    with pytest.raises(NonFiniteLossError, match="loss became nan at step 1") as error:
        Trainer(model, config).fit(buffer)
    assert error.value.step == 1


def test_a_huge_learning_rate_stops_training_and_restores_the_starting_weights(buffer, tmp_path):
    model = _model(buffer)
    trainer = Trainer(model, TrainerConfig(steps=20, lr=1e30, progress=False, eval_fraction=0.0))
    with pytest.raises(ValueError, match=r"at step 2; .*weights from before training.*lr=1e\+30"):
        trainer.fit(buffer)
    # The parameters are the untrained ones (beside the fitted normalization): savable.
    untrained = [p.detach() for p in _model(buffer).parameters()]
    assert _same([p.detach() for p in model.parameters()], untrained)
    save_world_model(model, tmp_path / "ck")
    assert trainer.optimizer.state == {}


def test_a_run_that_diverges_after_an_evaluation_keeps_the_best_weights(buffer, monkeypatch):
    model = _model(buffer)
    config = TrainerConfig(steps=60, eval_interval=20, progress=False, threads=1)
    trainer = Trainer(model, config)
    loss, calls, kept = model.loss, [0], {}
    load = model.load_state_dict

    def diverging(batch):
        calls[0] += model.training
        total, terms = loss(batch)
        return (total * float("nan") if calls[0] > 45 else total), terms

    def recording_load(state, *args, **kwargs):
        kept["state"] = {k: v.clone() for k, v in state.items()}
        return load(state, *args, **kwargs)

    monkeypatch.setattr(model, "loss", diverging)
    monkeypatch.setattr(model, "load_state_dict", recording_load)
    with pytest.raises(NonFiniteLossError, match=r"at step 46; .*weights of step (20|40)"):
        trainer.fit(buffer)
    assert all(torch.equal(kept["state"][k], v) for k, v in model.state_dict().items())
    assert all(bool(torch.isfinite(v).all()) for v in model.state_dict().values())


@pytest.mark.parametrize(
    ("field", "value"),
    [("lr", float("nan")), ("lr", float("inf")), ("lr", -1.0), ("weight_decay", float("inf")),
     ("grad_clip", 0.0), ("grad_clip", float("nan")), ("lr", "big")],
)  # fmt: skip
def test_non_finite_or_negative_optimizer_settings_are_refused(buffer, field, value):
    with pytest.raises(ValueError, match=f"TrainerConfig: {field} must be a finite number"):
        Trainer(_model(buffer), TrainerConfig(**{field: value}))


def test_resolve_device_checks_the_name_and_the_machine():
    assert resolve_device("cpu") == torch.device("cpu")
    for name in ("tpu", "CPU", "cuda:", "cuda:x", "cuda0", " cpu"):
        with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
            resolve_device(name)
    if torch.cuda.is_available():
        assert resolve_device("cuda:0") == torch.device("cuda:0")
        with pytest.raises(ValueError, match="CUDA devices"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        for name in ("cuda", "cuda:0"):
            with pytest.raises(ValueError, match="CUDA is not available"):
                resolve_device(name)
