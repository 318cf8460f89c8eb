import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.world_models.collect import collect_episodes
from lucidgym.world_models.datasets import (
    _write_dataset,
    dataset_id,
    load_dataset,
    load_episodes,
    record_dataset,
)


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))


def test_record_and_load_round_trip(tmp_path):
    pytest.importorskip("h5py")
    name = record_dataset("Tutoring-v0", 6, name="lucidgym/test-tutoring", seed=3, progress=False)
    assert name == "lucidgym/test-tutoring-v0"
    assert (tmp_path / "minari" / "lucidgym" / "test-tutoring-v0").is_dir()
    episodes, obs_space, act_space = load_episodes(name)
    assert len(episodes) == 6 and obs_space.shape == (20,) and act_space.n == 8
    for ep in episodes:
        assert ep.obs.shape == (len(ep) + 1, 20)
        # Terminated episodes end with a terminal step; the rest hit the time limit.
        assert ep.terminal[-1] or len(ep) == 80
        assert not ep.terminal[:-1].any()
    buffer = load_dataset(name)
    assert buffer.num_transitions == sum(len(ep) for ep in episodes)
    assert np.array_equal(buffer.episodes()[2].obs, episodes[2].obs)
    with pytest.raises(ValueError, match="exists already"):
        record_dataset("Tutoring-v0", 2, name="lucidgym/test-tutoring", progress=False)


def test_missing_dataset_is_named():
    with pytest.raises(FileNotFoundError, match="lucidgym/none-v0"):
        load_dataset("lucidgym/none")


def test_dataset_names():
    assert dataset_id("lucidgym/tutoring/random") == "lucidgym/tutoring/random-v0"
    assert dataset_id("abc-v3") == "abc-v3"
    with pytest.raises(ValueError, match="not valid"):
        dataset_id("bad name!")


def _poison(tmp_path, name: str, field: str, value: float, episode: int = 1, step: int = 4):
    """Overwrite one value of a recorded dataset's HDF5 file, as an edit or a bug would."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "minari" / name / "data" / "main_data.hdf5"
    with h5py.File(path, "r+") as f:
        data = f[f"episode_{episode}/{field}"]
        values = data[()]
        if field == "observations":
            values[step, 3] = value
        else:
            values[step] = value
        del f[f"episode_{episode}/{field}"]
        f[f"episode_{episode}/{field}"] = values


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("observations", 1e30, r"obs\[3\] is 1e\+30 \(beyond 1e\+06 in magnitude: implausible"),
        ("observations", np.inf, r"obs\[3\] is inf"),
        ("rewards", np.inf, "reward is inf"),
        ("actions", 99, r"action 99 is outside the action space Discrete\(8\)"),
        ("actions", -3, "action -3 is outside"),
    ],
)
def test_a_dataset_with_a_bad_value_is_refused_naming_episode_and_step(
    tmp_path, field, value, shown
):
    name = record_dataset("Tutoring-v0", 3, name="lucidgym/poisoned", seed=0, progress=False)
    _poison(tmp_path, name, field, value)
    where = r"dataset 'lucidgym/poisoned-v0', episode 1, step 4: "
    with pytest.raises(ValueError, match=where + shown):
        load_dataset(name)
    with pytest.raises(ValueError, match=where + shown):
        load_episodes(name)


def test_recording_checks_the_episodes_before_writing(tmp_path):
    pytest.importorskip("h5py")
    good = collect_episodes(gym.make("Tutoring-v0"), 2, seed=0)
    bad = good[1].obs.copy()
    bad[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"recording Tutoring-v0: episode 1, step 2: obs\[0\]"):
        _write_dataset("lucidgym/bad-v0", "Tutoring-v0", [good[0], good[1]._replace(obs=bad)],
                       "random", "bad")  # fmt: skip
    assert not (tmp_path / "minari" / "lucidgym" / "bad-v0").exists()
