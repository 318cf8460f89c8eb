import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.world_models.collect import (
    collect_episodes,
    collect_with_infos,
    make_collection_env,
)
from lucidgym.world_models.datasets import (
    _write_dataset,
    check_data_format,
    dataset_id,
    load_dataset,
    load_episodes,
    load_infos,
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


def _stored(tmp_path, name: str, field: str) -> np.ndarray:
    """The first episode's ``field`` as the HDF5 file holds it."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "minari" / name / "data" / "main_data.hdf5", "r") as f:
        return f[f"episode_0/{field}"][()]


def test_moving_dot_frames_are_stored_and_read_as_uint8(tmp_path):
    name = record_dataset("MovingDot-v0", 4, name="lucidgym/dot", seed=2, progress=False)
    assert _stored(tmp_path, name, "observations").dtype == np.uint8
    episodes, obs_space, _ = load_episodes(name)
    assert obs_space.dtype == np.uint8
    played = collect_episodes(make_collection_env("MovingDot-v0", 4), 4, seed=2)
    for ep, want in zip(episodes, played, strict=True):
        assert ep.obs.dtype == np.uint8 and np.array_equal(ep.obs, want.obs)
    import minari

    frames = next(minari.load_dataset(name).iterate_episodes()).observations
    assert frames.dtype == np.uint8 and frames.shape[1:] == (1, 32, 32)
    # The buffer still trains on float32 frames of the same values.
    assert np.array_equal(load_dataset(name).episodes()[0].obs, played[0].obs)


def _replay_infos(env_id: str, seed: int, episodes: list) -> list[dict[str, np.ndarray]]:
    """What a single env, reset with ``seed`` once, reports for the stored actions."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    result = []
    for ep in episodes:
        assert np.array_equal(obs, ep.obs[0])
        steps = []
        for action in ep.action:
            obs, *_, info = env.step(action)
            steps.append(info)
        result.append({key: np.array([info[key] for info in steps]) for key in steps[0]})
        obs, _ = env.reset()
    return result


def test_tutoring_infos_come_back_as_the_env_reported_them():
    name = record_dataset(
        "Tutoring-v0", 5, name="lucidgym/tutor-infos", seed=4, progress=False, num_envs=1
    )
    episodes, _, _ = load_episodes(name)
    stored = load_infos(name)
    assert len(stored) == 5
    for infos, reported, ep in zip(
        stored, _replay_infos("Tutoring-v0", 4, episodes), episodes, strict=True
    ):
        # The env's metadata["dataset_infos"] names what a dataset keeps of each step.
        assert set(infos) == {"true_mastery", "quit", "mastered"} <= set(reported)
        for key, values in infos.items():
            assert values.shape[0] == len(ep) and values.dtype == reported[key].dtype
            assert np.array_equal(values, reported[key]), key
        assert infos["true_mastery"].shape == (len(ep), 4)
        assert np.array_equal(ep.terminal, infos["quit"] | infos["mastered"])


def test_vector_recorded_infos_line_up_with_each_step():
    name = record_dataset("Tutoring-v0", 40, name="lucidgym/tutor-vec", seed=1, progress=False)
    for ep, infos in zip(load_episodes(name)[0], load_infos(name), strict=True):
        assert infos["quit"].shape == (len(ep),)
        assert np.array_equal(ep.terminal, infos["quit"] | infos["mastered"])
        assert np.array_equal(infos["mastered"], (infos["true_mastery"] >= 0.9).all(axis=1))
    dot = record_dataset("MovingDot-v0", 6, name="lucidgym/dot-vec", seed=1, progress=False)
    for ep, infos in zip(load_episodes(dot)[0], load_infos(dot), strict=True):
        assert set(infos) == {"state", "occluded", "success"}
        assert infos["state"].shape == (len(ep), 4) and infos["occluded"].dtype == bool
        assert np.array_equal(infos["success"], ep.terminal)


@pytest.mark.parametrize("env_id", ["Tutoring-v0", "MovingDot-v0"])
def test_arrow_and_hdf5_give_the_same_episodes(tmp_path, env_id):
    pytest.importorskip("pyarrow")
    names = [
        record_dataset(
            env_id, 5, name=f"lucidgym/same-{fmt}", seed=6, progress=False, data_format=fmt
        )  # fmt: skip
        for fmt in ("hdf5", "arrow")
    ]
    assert (tmp_path / "minari" / names[1] / "data" / "0").is_dir()
    (hdf5, *spaces), (arrow, *arrow_spaces) = (load_episodes(name) for name in names)
    assert spaces == arrow_spaces and len(hdf5) == len(arrow) == 5
    for a, b in zip(hdf5, arrow, strict=True):
        for field in a._fields:
            x, y = getattr(a, field), getattr(b, field)
            assert x.dtype == y.dtype and np.array_equal(x, y), field
    for a, b in zip(*(load_infos(name) for name in names), strict=True):
        assert list(a) == list(b)
        assert all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def test_chosen_info_keys_only_are_stored(monkeypatch):
    name = record_dataset(
        "Tutoring-v0", 3, name="lucidgym/quit", seed=0, progress=False, info_keys=["quit"]
    )
    assert all(list(infos) == ["quit"] for infos in load_infos(name))
    tutoring = type(gym.make("Tutoring-v0").unwrapped)
    monkeypatch.setitem(tutoring.metadata, "dataset_infos", ("true_mastery", "mastered"))
    chosen = record_dataset("Tutoring-v0", 3, name="lucidgym/chosen", progress=False)
    assert all(list(infos) == ["mastered", "true_mastery"] for infos in load_infos(chosen))
    bare = record_dataset("Tutoring-v0", 3, name="lucidgym/bare", progress=False, info_keys=())
    assert load_infos(bare) == [{}, {}, {}]
    assert len(load_episodes(bare)[0]) == 3


def test_an_unknown_info_key_is_refused_naming_the_reported_ones(tmp_path):
    with pytest.raises(ValueError, match=r"recording Tutoring-v0: info key 'mood' .*'quit'"):
        record_dataset("Tutoring-v0", 2, name="lucidgym/mood", progress=False, info_keys=["mood"])
    assert not (tmp_path / "minari" / "lucidgym" / "mood-v0").exists()


def test_a_bad_data_format_is_refused_before_recording(tmp_path):
    with pytest.raises(ValueError, match="unknown data format 'parquet'; use one of hdf5, arrow"):
        record_dataset("Tutoring-v0", 2, name="lucidgym/pq", progress=False, data_format="parquet")
    assert not (tmp_path / "minari" / "lucidgym" / "pq-v0").exists()
    check_data_format("hdf5")


def test_infos_of_the_wrong_length_are_refused_naming_episode_and_key(tmp_path):
    name = record_dataset("Tutoring-v0", 2, name="lucidgym/short", seed=0, progress=False)
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "minari" / name / "data" / "main_data.hdf5", "r+") as f:
        quit_rows = f["episode_1/infos/quit"][()]
        del f["episode_1/infos/quit"]
        f["episode_1/infos/quit"] = quit_rows[:-2]
    where = r"dataset 'lucidgym/short-v0', episode 1: info 'quit' has shape"
    with pytest.raises(ValueError, match=where):
        load_infos(name)


class _Flaky(gym.Wrapper):
    """Reports ``"t"`` at every step, ``"early"`` before the third, ``"late"`` after, and
    a string and a dict at every step."""

    def reset(self, **kwargs):
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self.t += 1
        info = {"t": self.t, "name": "cart", "nested": {"a": 1}}
        if self.t >= 3:
            info["late"] = 1.0
        else:
            info["early"] = np.float32(0)
        return obs, reward, terminated, truncated, info


def test_only_numeric_keys_of_every_step_are_kept():
    env = _Flaky(gym.make("CartPole-v1"))
    eps, infos = collect_with_infos(env, 3, seed=0)
    for ep, kept in zip(eps, infos, strict=True):
        assert list(kept) == ["t"] and np.array_equal(kept["t"], np.arange(1, len(ep) + 1))
    vector = gym.vector.SyncVectorEnv([lambda: _Flaky(gym.make("CartPole-v1"))] * 2)
    eps, infos = collect_with_infos(vector, 4, seed=0)
    for ep, kept in zip(eps, infos, strict=True):
        assert list(kept) == ["t"] and np.array_equal(kept["t"], np.arange(1, len(ep) + 1))
    with pytest.raises(ValueError, match=r"info key 'late' is not reported as a number"):
        collect_with_infos(_Flaky(gym.make("CartPole-v1")), 1, seed=0, info_keys=["late"])
