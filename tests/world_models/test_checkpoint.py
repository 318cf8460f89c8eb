import json
import os

import gymnasium as gym
import numpy as np
import pytest
import torch

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


def test_mismatched_config_is_refused(saved):
    _, path = saved
    config = json.loads((path / CONFIG_FILE).read_text())
    config["config"]["hidden_size"] = 32
    (path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"model\.safetensors.*does not fit.*shape"):
        load_world_model(path)


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


def test_no_pickle_in_the_weights(saved):
    _, path = saved
    header_len = int.from_bytes((path / WEIGHTS_FILE).read_bytes()[:8], "little")
    header = json.loads((path / WEIGHTS_FILE).read_bytes()[8 : 8 + header_len])
    assert all("dtype" in v for k, v in header.items() if k != "__metadata__")
