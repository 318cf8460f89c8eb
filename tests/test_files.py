"""Safetensors folders: digests over weights and config, refusals, interrupted writes."""

from __future__ import annotations

import json
import os

import gymnasium as gym
import pytest
import torch

from lucidgym.files import (
    CONFIG_FILE,
    DIGEST_KEY,
    PREVIOUS_WEIGHTS_FILE,
    WEIGHTS_DIGEST_KEY,
    WEIGHTS_FILE,
    checkpoint_digest,
    load_tensors,
    read_config,
    save_tensors,
    space_from_json,
    space_to_json,
)

META = {"agent": "baby", "config": {"lr": 1e-3, "sizes": (2, 3)}, "space": {"n": 4}}


def _tensors(offset: float = 0.0) -> dict[str, torch.Tensor]:
    return {"w": torch.arange(6.0).reshape(2, 3) + offset, "steps": torch.tensor([3])}


def _config(path) -> dict:
    return json.loads((path / CONFIG_FILE).read_text())


def _rewrite(path, config: dict) -> None:
    (path / CONFIG_FILE).write_text(json.dumps(config))


def test_round_trip_with_extra_files_and_both_digests(tmp_path):
    save_tensors(tmp_path, _tensors(), META, extra_json={"curves.json": {"loss": [1.0]}})
    tensors, config = load_tensors(tmp_path, ("agent",))
    assert torch.equal(tensors["w"], _tensors()["w"]) and config["config"]["sizes"] == [2, 3]
    data = (tmp_path / WEIGHTS_FILE).read_bytes()
    assert config[DIGEST_KEY] == checkpoint_digest(data, config)
    assert len(config[WEIGHTS_DIGEST_KEY]) == 64
    assert json.loads((tmp_path / "curves.json").read_text()) == {"loss": [1.0]}
    # Saving a config read back (digests and all) gives a checkpoint that loads.
    save_tensors(tmp_path, _tensors(1.0), config)
    assert torch.equal(load_tensors(tmp_path)[0]["w"], _tensors(1.0)["w"])


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c.update(agent="dyna"),
        lambda c: c["config"].update(lr=1.0),
        lambda c: c["space"].update(n=5),
        lambda c: c.update(extra=1),
        lambda c: c.update(weights_sha256="0" * 64),
    ],
)
def test_any_edit_of_the_config_is_refused(tmp_path, edit):
    save_tensors(tmp_path, _tensors(), META)
    config = _config(tmp_path)
    edit(config)
    _rewrite(tmp_path, config)
    with pytest.raises(ValueError, match=rf"{CONFIG_FILE}|{WEIGHTS_FILE}") as error:
        load_tensors(tmp_path)
    assert "edited" in str(error.value) or "SHA-256" in str(error.value)


def test_the_previous_format_loads_when_its_weights_match(tmp_path):
    save_tensors(tmp_path, _tensors(), META)
    config = _config(tmp_path)
    del config[DIGEST_KEY]
    _rewrite(tmp_path, {**config, "agent": "edited"})
    assert load_tensors(tmp_path)[1]["agent"] == "edited"
    (tmp_path / WEIGHTS_FILE).write_bytes((tmp_path / WEIGHTS_FILE).read_bytes()[:-4])
    with pytest.raises(ValueError, match=r"model\.safetensors: SHA-256 does not match"):
        load_tensors(tmp_path)
    del config[WEIGHTS_DIGEST_KEY]
    _rewrite(tmp_path, config)
    with pytest.raises(ValueError, match=r"config\.json: missing keys \['sha256'\]"):
        load_tensors(tmp_path)


@pytest.mark.parametrize("text", ["[1, 2]", '"abc"', "3"])
def test_a_config_that_is_no_json_object_is_refused(tmp_path, text):
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(ValueError, match=r"config\.json: holds a JSON \w+, not an object"):
        read_config(tmp_path, ("agent",))


@pytest.mark.parametrize("name", [CONFIG_FILE, WEIGHTS_FILE, "sub/metrics.json"])
def test_extra_files_cannot_replace_the_checkpoint_s_own(tmp_path, name):
    with pytest.raises(ValueError, match="cannot be an extra file of a checkpoint"):
        save_tensors(tmp_path, _tensors(), META, extra_json={name: {}})


def test_non_finite_tensors_are_never_written(tmp_path):
    bad = {"w": torch.tensor([1.0, float("inf")]), "b": torch.tensor([float("nan")])}
    with pytest.raises(ValueError, match=r"refusing to save non-finite weights .*\['w', 'b'\]"):
        save_tensors(tmp_path / "ck", bad, META)
    assert not (tmp_path / "ck").exists()


@pytest.mark.parametrize(
    "space",
    [
        {"type": "Discrete", "n": "x", "start": 0},
        {"type": "Discrete", "n": True, "start": 0},
        {"type": "Discrete", "n": 4, "start": 1.5},
        {"type": "Box", "shape": ["2"], "dtype": "float32", "low": 0, "high": 1},
        {"type": "Box", "shape": [2], "dtype": "float32", "low": "abc", "high": 1},
        "Discrete(4)",
        {"type": "Tuple"},
    ],
)
def test_malformed_spaces_are_a_value_error(space):
    with pytest.raises(ValueError, match="space"):
        space_from_json(space)


def test_valid_spaces_still_round_trip():
    space = gym.spaces.Discrete(4, start=-1)
    assert space_from_json(json.loads(json.dumps(space_to_json(space)))) == space


def test_without_hard_links_the_previous_weights_are_copied(tmp_path, monkeypatch):
    save_tensors(tmp_path, _tensors(), META)
    real = os.replace

    def no_link(src, dst):
        raise OSError("hard links not supported")

    def crash_on_config(src, dst):
        if os.path.basename(dst) == CONFIG_FILE:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(os, "replace", crash_on_config)
    with pytest.raises(OSError, match="disk full"):
        save_tensors(tmp_path, _tensors(5.0), META)
    monkeypatch.undo()
    assert (tmp_path / PREVIOUS_WEIGHTS_FILE).is_file()
    assert torch.equal(load_tensors(tmp_path)[0]["w"], _tensors()["w"])
    save_tensors(tmp_path, _tensors(5.0), META)
    assert sorted(os.listdir(tmp_path)) == [CONFIG_FILE, WEIGHTS_FILE]
