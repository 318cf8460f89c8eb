"""TensorBoard logs of ``train agent``, ``train world-model`` and ``bench``, read back."""

from __future__ import annotations

import io
import json

import pytest

from lucidgym import tensorboard
from lucidgym.cli import main
from tests.benchmarks.conftest import TOY_AGENTS
from tests.test_tensorboard import read_events, scalar_tags

pytest.importorskip("tensorboard")

COUNTER = ["train", "agent", "--env", "PatternEcho-v0", "--agent", "counter", "--steps", "96"]


def _probe(monkeypatch, when):
    """Run ``when(logger)`` after every ``TensorBoardLogger.log`` call; returns what it gave."""
    seen = []
    original = tensorboard.TensorBoardLogger.log

    def log(self, scalars, step):
        original(self, scalars, step)
        seen.append(when(self))

    monkeypatch.setattr(tensorboard.TensorBoardLogger, "log", log)
    return seen


def test_train_agent_logs_into_out_while_it_trains(tmp_path, monkeypatch):
    out = tmp_path / "agent"

    def look(logger):  # what `tensorboard --logdir OUT` would find at this moment
        return logger.log_dir, scalar_tags(out / "tensorboard"), (out / "curves.json").exists()

    seen = _probe(monkeypatch, look)
    argv = ["train", "agent", "--env", "PatternEcho-v0", "--agent", "baby", "--steps", "256",
            "--set", "num_envs=4", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    log_dir, tags_midway, finished = seen[len(seen) // 2]
    assert log_dir == out / "tensorboard" and not finished
    assert {"loss/policy", "charts/episode_return"} <= tags_midway
    events = read_events(out / "tensorboard")
    steps = [e.step for e in events.Scalars("charts/episode_return")]
    assert len(steps) > 1 and steps == sorted(steps) and steps[-1] <= 256
    assert {"charts/sps", "loss/policy", "loss/value", "loss/world_model"} <= set(
        events.Tags()["scalars"]
    )
    curves = json.loads((out / "curves.json").read_text())
    assert [float(s) for s in steps] == curves["env_steps"]  # curves.json as before
    assert [p.name for p in tmp_path.iterdir()] == ["agent"]  # no work folder left behind


def test_a_learner_without_a_logger_is_logged_through_its_env(tmp_path, toy_agents):
    out = tmp_path / "agent"
    assert main([*COUNTER, "--out", str(out)]) == 0
    events = read_events(out / "tensorboard")
    assert [e.step for e in events.Scalars("charts/episode_return")] == [32, 64, 96]
    assert "charts/sps" in events.Tags()["scalars"]


def test_a_planning_agent_logs_its_model_fits(tmp_path):
    out = tmp_path / "greedy"
    learning = '{"train_steps": 4, "refit_steps": 4, "chunks": 1, "seq_len": 4, "batch_size": 4}'
    argv = ["train", "agent", "--env", "PatternEcho-v0", "--agent", "greedy", "--steps", "64",
            "--set", "model=mlp", "--set", "model_config={\"hidden_size\": 16}",
            "--set", f"learning={learning}", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    events = read_events(out / "tensorboard")
    assert [e.step for e in events.Scalars("loss/model")] == [32, 64]
    assert [e.step for e in events.Scalars("charts/episode_return")] == [32, 64]


def test_training_that_stops_leaves_no_out_behind(tmp_path, toy_agents, monkeypatch):
    out = tmp_path / "agent"

    def learn(self, env, total_steps, *, seed=None):
        env.reset(seed=seed)
        for _ in range(32):  # one episode reported, then Ctrl-C
            env.step(0)
        log_dir = env.logger.log_dir
        assert log_dir.name == "tensorboard" and log_dir.parent.parent == tmp_path
        assert scalar_tags(log_dir) >= {"charts/episode_return"}
        raise KeyboardInterrupt

    monkeypatch.setattr(TOY_AGENTS["counter"], "learn", learn)
    assert main([*COUNTER, "--out", str(out)]) == 130
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "empty").mkdir()  # a folder the user made stays, empty as it was
    assert main([*COUNTER, "--out", str(tmp_path / "empty")]) == 130
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]
    assert list((tmp_path / "empty").iterdir()) == []


def test_force_keeps_the_earlier_result_whole_while_training(tmp_path, toy_agents, capsys):
    out = tmp_path / "agent"
    assert main([*COUNTER, "--out", str(out)]) == 0
    (old_events,) = (out / "tensorboard").iterdir()
    assert main([*COUNTER, "--out", str(out)]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    seen = []
    original = TOY_AGENTS["counter"].learn

    def learn(self, env, total_steps, *, seed=None):
        curves = original(self, env, total_steps, seed=seed)
        seen.append(((out / "model.safetensors").exists(), list((out / "tensorboard").iterdir())))
        return curves

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TOY_AGENTS["counter"], "learn", learn)
        assert main([*COUNTER, "--out", str(out), "--force"]) == 0
    assert seen == [(True, [old_events])]  # the old result untouched until the swap
    assert "TensorBoard logs go into" in capsys.readouterr().err
    (new_events,) = (out / "tensorboard").iterdir()
    assert new_events.name != old_events.name
    assert len(read_events(out / "tensorboard").Scalars("charts/episode_return")) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["agent"]


def test_train_world_model_logs_a_dream_clip_for_pixels(tmp_path):
    import imageio.v3 as iio

    out = tmp_path / "dot"
    argv = ["train", "world-model", "--env", "MovingDot-v0", "--backend", "mlp", "--steps", "3",
            "--episodes", "4", "--eval-episodes", "2", "--horizon", "2", "--threads", "1",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    events = read_events(out / "tensorboard")
    assert {"loss/total", "eval/loss"} <= set(events.Tags()["scalars"])
    (clip,) = events.Images("dream/video")
    frames = iio.imread(io.BytesIO(clip.encoded_image_string), index=None, extension=".gif")
    assert frames.ndim == 4 and frames.shape[0] > 10 and frames.shape[-1] == 3
    # Two image panels side by side (real, dream) under a header: wider than tall.
    assert frames.shape[2] > frames.shape[1]


def test_bench_logs_each_run_against_its_seed(tmp_path, toy_agents):
    board = tmp_path / "board"
    argv = ["bench", "--env", "PatternEcho-v0", "--agent", "echo", "--agent", "reactive",
            "--seeds", "2", "--episodes", "2", "--budget", "0", "--no-progress", "--jobs", "1",
            "--out", str(tmp_path / "b"), "--tensorboard", str(board)]  # fmt: skip
    assert main(argv) == 0
    events = read_events(board)
    echo = events.Scalars("eval/return/PatternEcho-v0/echo/none")
    assert [(e.step, e.value) for e in echo] == [(0, 32.0), (1, 32.0)]
    assert [e.value for e in events.Scalars("eval/success_rate/PatternEcho-v0/echo/none")] == [
        1.0,
        1.0,
    ]
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    stuck = {r["seed"]: sum(r["episode_returns"]) / 2 for r in results["runs"]
             if r["agent"] == "reactive"}  # fmt: skip
    logged = events.Scalars("eval/return/PatternEcho-v0/reactive/none")
    assert {e.step: e.value for e in logged} == pytest.approx(stuck)


def test_bench_tensorboard_must_be_a_folder(tmp_path, toy_agents, capsys):
    (tmp_path / "file").write_text("x")
    argv = ["bench", "--env", "PatternEcho-v0", "--agent", "echo", "--seeds", "1",
            "--out", str(tmp_path / "b"), "--tensorboard", str(tmp_path / "file")]  # fmt: skip
    assert main(argv) == 2
    assert "is a file" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
