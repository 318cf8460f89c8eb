import numpy as np
import pytest
import torch

import lucidgym  # noqa: F401
from lucidgym.world_models.collect import collect_to_buffer, make_collection_env
from lucidgym.world_models.registry import make_world_model
from lucidgym.world_models.trainer import Trainer, TrainerConfig


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
