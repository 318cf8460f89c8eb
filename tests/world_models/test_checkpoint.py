import json
import os

import gymnasium as gym
import numpy as np
import pytest
import torch

from lucidgym.files import DIGEST_KEY
from lucidgym.world_models.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    load_world_model,
    save_world_model,
    space_from_json,
    space_to_json,
)
from lucidgym.world_models.registry import make_world_model

OBS = gym.spaces.Box(0.0, 1.0, (5,), np.float32)
ACT = gym.spaces.Discrete(3)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = make_world_model("mlp", OBS, ACT, hidden_size=16)
    save_world_model(model, tmp_path / "ck", metrics={"nmae": 0.5}, env_id="PatternEcho-v0")
    return model, tmp_path / "ck"


def _predict(model):
    obs = torch.linspace(0, 1, 10).reshape(2, 5)
    state, _ = model.observe(model.initial_state(2), None, obs)
    return model.rollout(state, torch.tensor([[0, 1, 2], [2, 1, 0]])).obs


def test_round_trip(saved):
    model, path = saved
    again = load_world_model(path)
    assert torch.equal(_predict(model), _predict(again))
    config = json.loads((path / CONFIG_FILE).read_text())
    assert config["backend"] == "mlp" and config["config"]["hidden_size"] == 16
    assert config["env_id"] == "PatternEcho-v0" and len(config["weights_sha256"]) == 64
    assert len(config[DIGEST_KEY]) == 64
    assert json.loads((path / "metrics.json").read_text()) == {"nmae": 0.5}
    assert sorted(os.listdir(path)) == [CONFIG_FILE, "metrics.json", WEIGHTS_FILE]


def test_spaces_round_trip_through_json():
    spaces = [
        gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
        gym.spaces.Box(np.array([0.0, -1.0]), np.array([1.0, 2.0]), (2,), np.float64),
        gym.spaces.Box(0, 255, (1, 4, 4), np.uint8),
        gym.spaces.Discrete(5, start=1),
    ]
    for space in spaces:
        data = json.loads(json.dumps(space_to_json(space), allow_nan=False))
        assert space_from_json(data) == space


def test_truncated_weights_are_refused(saved):
    _, path = saved
    data = (path / WEIGHTS_FILE).read_bytes()
    (path / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"model\.safetensors.*truncated"):
        load_world_model(path)


def test_tampered_weights_are_refused(saved):
    _, path = saved
    data = bytearray((path / WEIGHTS_FILE).read_bytes())
    data[-3] ^= 0xFF
    (path / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.safetensors.*SHA-256"):
        load_world_model(path)


def _edit(path, change, legacy=False):
    """Apply ``change`` to the saved config (``legacy``: as the previous format had it)."""
    config = json.loads((path / CONFIG_FILE).read_text())
    if legacy:
        del config[DIGEST_KEY]
    change(config)
    (path / CONFIG_FILE).write_text(json.dumps(config))


def _set_start(config):
    config["action_space"]["start"] = 5


@pytest.mark.parametrize(
    "change",
    [
        _set_start,  # keeps every tensor's shape
        lambda c: c.update(env_id="CartPole-v1"),
        lambda c: c.update(config="abc"),
        lambda c: c["config"].update(hidden_size=32),
    ],
)
def test_an_edited_config_is_refused(saved, change):
    _, path = saved
    _edit(path, change)
    with pytest.raises(ValueError, match=r"config\.json: does not match its 'sha256' digest"):
        load_world_model(path)


def test_a_checkpoint_of_the_previous_format_loads_when_its_weights_match(saved):
    model, path = saved
    _edit(path, lambda c: None, legacy=True)
    assert torch.equal(_predict(model), _predict(load_world_model(path)))
    _edit(path, lambda c: c["config"].update(hidden_size=32))
    with pytest.raises(ValueError, match=r"model\.safetensors.*does not fit.*shape"):
        load_world_model(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(config="abc"), "field 'config' must be a JSON object, got str"),
        (lambda c: c.update(config=[1]), "field 'config' must be a JSON object, got list"),
        (lambda c: c["action_space"].update(n="x"), "field 'action_space'.*n must be an integer"),
        (lambda c: c["action_space"].update(start=1.5), "field 'action_space'.*start must be"),
        (lambda c: c.update(observation_space="box"), "field 'observation_space'.*JSON object"),
        (lambda c: c.update(backend=3), "field 'backend' must name a world model"),
        (lambda c: c["config"].update(hidden_size="x"), "field 'config' does not build.*'mlp'"),
        (lambda c: c["config"].update(bogus=1), r"field 'config'.*unknown config keys \['bogus'\]"),
    ],
)  # fmt: skip
def test_config_values_of_the_wrong_type_name_the_field_and_the_file(saved, change, message):
    _, path = saved
    _edit(path, change, legacy=True)
    with pytest.raises(ValueError, match=rf"^\S*ck/config\.json: {message}") as error:
        load_world_model(path)
    assert "\n" not in str(error.value)


def test_a_model_with_a_non_finite_weight_is_never_written(saved):
    model, path = saved
    before = {name: (path / name).read_bytes() for name in os.listdir(path)}
    with torch.no_grad():
        next(model.parameters())[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"refusing to save non-finite weights.*diverged"):
        save_world_model(model, path, metrics={"nmae": 0.1})
    with pytest.raises(ValueError, match="non-finite"):
        save_world_model(model, path.parent / "new")
    assert not (path.parent / "new").exists()
    assert {name: (path / name).read_bytes() for name in os.listdir(path)} == before


def test_broken_config_is_refused(saved):
    _, path = saved
    text = (path / CONFIG_FILE).read_text()
    (path / CONFIG_FILE).write_text(text[:40])
    with pytest.raises(ValueError, match=r"config\.json.*not valid JSON"):
        load_world_model(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_world_model(path / "nowhere")


def test_a_crash_mid_write_keeps_the_previous_files(saved, monkeypatch):
    model, path = saved
    before = (path / WEIGHTS_FILE).read_bytes()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_world_model(model, path)
    monkeypatch.undo()
    assert (path / WEIGHTS_FILE).read_bytes() == before
    assert sorted(os.listdir(path)) == [CONFIG_FILE, "metrics.json", WEIGHTS_FILE]
    load_world_model(path)


def _crash_on(monkeypatch, target: str):
    """Make the rename onto ``target`` raise, as an interrupt or a full disk would."""
    real = os.replace

    def replace(src, dst):
        if os.path.basename(dst) == target:
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def _perturbed(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    return model


def test_an_interrupt_before_the_config_is_renamed_keeps_the_old_checkpoint(saved, monkeypatch):
    model, path = saved
    old = _predict(model)
    (path / "agent.json").write_text("{}")
    _crash_on(monkeypatch, CONFIG_FILE)
    with pytest.raises(KeyboardInterrupt):
        save_world_model(_perturbed(model), path, metrics={"nmae": 0.4})
    # The new weights are in place, but the config is the old one's: it loads, whole.
    assert torch.equal(_predict(load_world_model(path)), old)
    # A second interrupted save does not lose it either.
    with pytest.raises(KeyboardInterrupt):
        save_world_model(_perturbed(model), path)
    assert torch.equal(_predict(load_world_model(path)), old)
    monkeypatch.undo()
    save_world_model(model, path)
    assert torch.equal(_predict(load_world_model(path)), _predict(model))
    assert sorted(os.listdir(path)) == sorted(
        [CONFIG_FILE, "agent.json", "metrics.json", WEIGHTS_FILE]
    )


def test_an_interrupt_while_the_weights_are_written_leaves_the_folder_as_it_was(saved, monkeypatch):
    model, path = saved
    before = {name: (path / name).read_bytes() for name in os.listdir(path)}

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_world_model(_perturbed(model), path, metrics={"nmae": 0.1})
    monkeypatch.undo()
    assert {name: (path / name).read_bytes() for name in os.listdir(path)} == before


def test_files_the_checkpoint_does_not_own_are_kept(saved):
    model, path = saved
    (path / "curves.json").write_text('{"loss": [1.0]}')
    (path / "tensorboard").mkdir()
    (path / "tensorboard" / "events.out").write_bytes(b"log")
    save_world_model(_perturbed(model), path)
    assert (path / "curves.json").read_text() == '{"loss": [1.0]}'
    assert (path / "tensorboard" / "events.out").read_bytes() == b"log"
    assert json.loads((path / "metrics.json").read_text()) == {"nmae": 0.5}
    assert torch.equal(_predict(load_world_model(path)), _predict(model))


def test_no_pickle_in_the_weights(saved):
    _, path = saved
    header_len = int.from_bytes((path / WEIGHTS_FILE).read_bytes()[:8], "little")
    header = json.loads((path / WEIGHTS_FILE).read_bytes()[8 : 8 + header_len])
    assert all("dtype" in v for k, v in header.items() if k != "__metadata__")
