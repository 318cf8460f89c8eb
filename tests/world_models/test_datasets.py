import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.world_models.datasets import dataset_id, load_dataset, load_episodes, record_dataset


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
