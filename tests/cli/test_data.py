import pytest

from lucidgym.cli import main


def test_data_records_a_tiny_minari_dataset(tmp_path, monkeypatch, capsys):
    pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    name = "lucidgym/echo/random-v0"
    argv = ["data", "--env", "PatternEcho-v0", "--episodes", "2", "--out", name]
    assert main(argv) == 0
    import minari

    dataset = minari.load_dataset(name)
    assert dataset.total_episodes == 2
    assert main(["data", "--env", "PatternEcho-v0", "--episodes", "2", "--policy", "psychic",
                 "--out", "x/y/z-v0"]) == 2  # fmt: skip


def test_data_reactive_uses_the_envs_expert_rules(tmp_path, monkeypatch):
    pytest.importorskip("minari")
    import gymnasium as gym
    import numpy as np

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    echo = type(gym.make("PatternEcho-v0").unwrapped)
    rules = []

    def rules_of(obs):
        rules.append(obs.shape)
        return np.argmax(obs[:, :8], axis=1)

    def expert_policy(self):
        return rules_of

    monkeypatch.setattr(echo, "expert_policy", expert_policy, raising=False)
    name = "lucidgym/echo/expert-v0"
    argv = ["data", "--env", "PatternEcho-v0", "--episodes", "3", "--policy", "reactive"]
    assert main([*argv, "--out", name]) == 0
    import minari

    episodes = list(minari.load_dataset(name).iterate_episodes())
    assert len(episodes) == 3 and rules and len(rules[0]) == 2
    for episode in episodes:
        shown = np.argmax(episode.observations[:-1, :8], axis=1)
        assert np.array_equal(episode.actions, shown) and episode.rewards.sum() == 32


def test_a_bad_data_format_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    argv = ["data", "--env", "Tutoring-v0", "--episodes", "2", "--out", "lucidgym/x"]
    assert main([*argv, "--data-format", "parquet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--data-format: unknown data format 'parquet'; use one of hdf5, arrow" in err
    assert not (tmp_path / "lucidgym").exists()


def test_arrow_without_pyarrow_names_the_install(tmp_path, monkeypatch, capsys):
    pytest.importorskip("minari")
    import importlib.util

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyarrow" else find_spec(name, *a),
    )
    argv = ["data", "--env", "Tutoring-v0", "--episodes", "2", "--out", "lucidgym/x"]
    assert main([*argv, "--data-format", "arrow"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "minari[arrow]"' in err


def test_data_writes_arrow_with_the_chosen_infos(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    from lucidgym.world_models.datasets import load_infos

    argv = ["data", "--env", "Tutoring-v0", "--episodes", "3", "--data-format", "arrow"]
    assert main([*argv, "--infos", "quit,true_mastery", "--out", "lucidgym/tq"]) == 0
    assert (tmp_path / "lucidgym" / "tq-v0" / "data" / "2").is_dir()
    assert [list(infos) for infos in load_infos("lucidgym/tq")] == [["quit", "true_mastery"]] * 3
    assert main([*argv, "--infos", "none", "--out", "lucidgym/none"]) == 0
    assert load_infos("lucidgym/none") == [{}] * 3
