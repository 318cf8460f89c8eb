import json

import pytest

from lucidgym.cli import main


def test_train_and_eval_world_model(tmp_path, capsys):
    out = tmp_path / "wm"
    code = main(
        [
            "train", "world-model", "--env", "PatternEcho-v0", "--backend", "mlp",
            "--steps", "30", "--episodes", "12", "--eval-episodes", "3", "--horizon", "4",
            "--seed", "1", "--threads", "1", "--no-progress", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    files = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "metrics.json", "tensorboard"} <= files
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["horizon"] == 4 and metrics["env"] == "PatternEcho-v0"
    for key in ("nmae", "persistence_nmae", "oracle_nmae", "loss/recon"):
        assert isinstance(metrics[key], float), key
    assert "nmae" in capsys.readouterr().out
    assert main(["eval", "world-model", str(out), "--episodes", "2", "--horizon", "3"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["horizon"] == 3 and again["backend"] == "mlp"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "world-model", "--env", "Nope-v0", "--backend", "mlp", "--out", "x"], "Nope-v0"),
        (
            ["train", "world-model", "--env", "PatternEcho-v0", "--backend", "gru", "--out", "x"],
            "gru",
        ),
        (
            [
                "train",
                "world-model",
                "--env",
                "PatternEcho-v0",
                "--backend",
                "mlp",
                "--steps",
                "0",
                "--out",
                "x",
            ],
            "--steps",
        ),  # fmt: skip
        (
            [
                "train",
                "world-model",
                "--env",
                "PatternEcho-v0",
                "--backend",
                "mlp",
                "--device",
                "tpu",
                "--out",
                "x",
            ],
            "tpu",
        ),  # fmt: skip
        (
            [
                "train",
                "world-model",
                "--env",
                "PatternEcho-v0",
                "--backend",
                "mlp",
                "--dataset",
                "lucidgym/absent-v0",
                "--out",
                "x",
            ],
            "absent",
        ),  # fmt: skip
        (["eval", "world-model", "/nonexistent/checkpoint"], "does not exist"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv", [["train", "world-model", "--help"], ["eval", "world-model", "--help"]]
)
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "--horizon" in capsys.readouterr().out
