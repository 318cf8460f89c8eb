"""Nothing written is lost: every command that writes a folder or file refuses to overwrite it."""

import json

import pytest

from lucidgym.cli import main
from lucidgym.cli.options import CLIError, check_extra

WORLD_MODEL = [
    "train", "world-model", "--env", "PatternEcho-v0", "--steps", "5", "--episodes", "4",
    "--eval-episodes", "2", "--horizon", "2", "--threads", "1", "--no-progress",
]  # fmt: skip


def test_train_world_model_refuses_a_folder_with_a_model_unless_forced(tmp_path, capsys):
    out = tmp_path / "wm"
    assert main([*WORLD_MODEL, "--backend", "mlp", "--out", str(out)]) == 0
    before = (out / "model.safetensors").read_bytes()
    assert main([*WORLD_MODEL, "--backend", "lstm", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "model.safetensors" in err and "--force" in err
    assert (out / "model.safetensors").read_bytes() == before  # the mlp is still there
    (out / "notes.txt").write_text("an older file")
    assert main([*WORLD_MODEL, "--backend", "lstm", "--out", str(out), "--force"]) == 0
    assert json.loads((out / "config.json").read_text())["backend"] == "lstm"
    assert not (out / "notes.txt").exists()  # replaced whole: nothing of the old one mixed in
    assert [p.name for p in tmp_path.iterdir()] == ["wm"]  # no temporary folder left


def test_a_failed_training_leaves_the_old_folder_whole(tmp_path, monkeypatch):
    out = tmp_path / "wm"
    assert main([*WORLD_MODEL, "--backend", "mlp", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("lucidgym.world_models.checkpoint.save_tensors", crash)
    assert main([*WORLD_MODEL, "--backend", "lstm", "--out", str(out), "--force"]) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["wm"]


def test_train_agent_refuses_a_folder_holding_a_world_model(tmp_path, toy_agents, capsys):
    out = tmp_path / "wm"
    assert main([*WORLD_MODEL, "--backend", "mlp", "--out", str(out)]) == 0
    argv = ["train", "agent", "--env", "PatternEcho-v0", "--agent", "counter", "--steps", "32"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "model.safetensors" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["backend"] == "mlp"
    assert main([*argv, "--out", str(out), "--force"]) == 0
    assert (out / "curves.json").is_file() and not (out / "metrics.json").exists()


def test_out_that_is_a_file_is_one_line(tmp_path, toy_agents, capsys):
    path = tmp_path / "taken"
    path.write_text("x")
    for argv in (
        [*WORLD_MODEL, "--backend", "mlp"],
        ["train", "agent", "--env", "PatternEcho-v0", "--agent", "counter"],
        ["bench", "--env", "PatternEcho-v0", "--agent", "echo", "--no-progress"],
    ):
        assert main([*argv, "--out", str(path)]) == 2, argv
        err = capsys.readouterr().err
        assert "is a file" in err and err.count("\n") == 1 and "Traceback" not in err
    assert path.read_text() == "x"


def test_render_refuses_an_existing_file_unless_forced(tmp_path, capsys):
    out = tmp_path / "tutoring.gif"
    argv = ["render", "--env", "Tutoring-v0", "--max-steps", "2", "--out", str(out)]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_a_bench_that_fails_before_its_first_run_writes_nothing(tmp_path, capsys):
    out = tmp_path / "b"
    argv = ["bench", "--env", "CartPole-v1", "--agent", "random", "--agent", "sb3:WIZARD"]
    assert main([*argv, "--no-progress", "--out", str(out)]) == 2
    assert "WIZARD" in capsys.readouterr().err and not out.exists()


def test_an_empty_results_file_does_not_block_a_rerun(tmp_path, toy_agents):
    out = tmp_path / "b"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"suite": "custom", "runs": [], "summary": []}))
    argv = ["bench", "--env", "PatternEcho-v0", "--agent", "echo", "--seeds", "1"]
    assert main([*argv, "--episodes", "1", "--no-progress", "--out", str(out)]) == 0
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 1


def test_a_missing_extra_is_named_in_one_line():
    check_extra("json", "data", "x")  # installed: nothing to say
    with pytest.raises(
        CLIError, match=r'lucidgym data needs no_such_mod.*pip install "lucidgym\[data\]"'
    ):
        check_extra("no_such_mod", "data", "lucidgym data")
