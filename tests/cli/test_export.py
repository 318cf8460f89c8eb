"""``lucidgym export --format sb3-zip``: SB3's own zip of a trained agent."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3 import DQN, PPO  # noqa: E402

from lucidgym.agents.sb3.agent import SB3Agent, make_sb3_agent  # noqa: E402
from lucidgym.agents.sb3.export import export_sb3_zip  # noqa: E402
from lucidgym.cli import main  # noqa: E402


def _trained(tmp_path: Path, algo: str = "PPO", env_id: str = "Tutoring-v0", **kwargs) -> Path:
    env = gym.make(env_id)
    agent = make_sb3_agent(algo, env, seed=0, **kwargs)
    agent.learn(env, 128, seed=0)
    folder = tmp_path / algo.lower()
    agent.save(folder)
    return folder


def _observations(env_id: str, n: int = 64) -> np.ndarray:
    space = gym.make(env_id).observation_space
    space.seed(0)
    return np.stack([space.sample() for _ in range(n)])


@pytest.mark.parametrize(
    ("algo", "loader", "kwargs"),
    [
        (PPO, "PPO", {"n_steps": 64, "batch_size": 64}),
        (DQN, "DQN", {"learning_starts": 16, "buffer_size": 200}),
    ],
)
def test_sb3_load_of_the_zip_acts_as_the_agent(tmp_path, capsys, algo, loader, kwargs):
    folder = _trained(tmp_path, loader, **kwargs)
    out = tmp_path / "agent.zip"
    assert main(["export", str(folder), "--format", "sb3-zip", "--out", str(out)]) == 0
    assert "only from a source you trust" in capsys.readouterr().out
    model = algo.load(out, device="cpu")
    agent = SB3Agent.load(folder)
    obs = _observations("Tutoring-v0")
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.tolist() == [agent.act(o) for o in obs]
    assert model.num_timesteps == agent.model.num_timesteps == 128  # SB3 can go on from it


def test_an_existing_file_is_kept_without_force(tmp_path, capsys):
    folder = _trained(tmp_path, n_steps=64, batch_size=64)
    out = tmp_path / "agent.zip"
    out.write_bytes(b"someone's work")
    argv = ["export", str(folder), "--format", "sb3-zip", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err
    assert out.read_bytes() == b"someone's work"
    assert main([*argv, "--force"]) == 0
    assert PPO.load(out).num_timesteps == 128
    with pytest.raises(FileExistsError, match="already exists"):
        export_sb3_zip(folder, out)
    assert export_sb3_zip(folder, out, overwrite=True) == out


@pytest.mark.parametrize(
    ("make_argv", "message"),
    [
        (lambda t: [str(t / "ppo"), "--format", "sb3-zip", "--out", str(t / "a.pkl")], ".zip"),
        (lambda t: [str(t / "ppo"), "--format", "sb3-zip", "--out", str(t / "d.zip")], "folder"),
        (lambda t: [str(t / "none"), "--format", "sb3-zip", "--out", str(t / "a.zip")], "none"),
        (lambda t: [str(t / "model"), "--format", "sb3-zip", "--out", str(t / "a.zip")], "SB3"),
    ],
    ids=["not-a-zip", "out-is-a-folder", "no-such-folder", "not-an-sb3-agent"],
)
def test_bad_arguments_get_one_line_and_write_nothing(tmp_path, capsys, make_argv, message):
    from lucidgym.world_models.checkpoint import save_world_model
    from lucidgym.world_models.registry import make_world_model

    _trained(tmp_path, n_steps=64, batch_size=64)
    (tmp_path / "d.zip").mkdir()
    env = gym.make("PatternEcho-v0")
    save_world_model(
        make_world_model("mlp", env.observation_space, env.action_space), tmp_path / "model"
    )
    assert main(["export", *make_argv(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "a.zip").exists()


def test_format_is_required_and_help_states_the_pickle_caveat(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["export", str(tmp_path), "--out", str(tmp_path / "a.zip")])
    assert "--format" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "pickled objects" in shown and "only from a source you trust" in shown
