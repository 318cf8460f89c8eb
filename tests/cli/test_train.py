import json

import pytest

from lucidgym.cli import main


def test_train_and_eval_world_model(tmp_path, capsys):
    out = tmp_path / "wm"
    code = main(
        [
            "train", "world-model", "--env", "PatternEcho-v0", "--backend", "mlp",
            "--steps", "30", "--episodes", "12", "--eval-episodes", "3", "--horizon", "4",
            "--seed", "1", "--threads", "1", "--no-progress", "--set", "hidden_size=48",
            "--out", str(out),
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
    assert json.loads((out / "config.json").read_text())["config"]["hidden_size"] == 48
    assert main(["eval", "world-model", str(out), "--episodes", "2", "--horizon", "3"]) == 0
    again = json.loads((out / "metrics.json").read_text())
    assert again["horizon"] == 3 and again["backend"] == "mlp"


TRAIN_ECHO = ["train", "world-model", "--env", "PatternEcho-v0", "--out", "x"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "world-model", "--env", "Nope-v0", "--backend", "mlp", "--out", "x"], "Nope-v0"),
        ([*TRAIN_ECHO, "--backend", "gru"], "gru"),
        ([*TRAIN_ECHO, "--backend", "mlp", "--steps", "0"], "--steps"),
        ([*TRAIN_ECHO, "--backend", "mlp", "--device", "tpu"], "tpu"),
        ([*TRAIN_ECHO, "--backend", "mlp", "--dataset", "lucidgym/absent-v0"], "absent"),
        ([*TRAIN_ECHO, "--backend", "mlp", "--set", "colour=3"], "colour"),
        ([*TRAIN_ECHO, "--backend", "mlp", "--set", "hidden_size"], "key=value"),
        ([*TRAIN_ECHO, "--backend", "rssm", "--preset", "huge"], "huge"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "world-model", "--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert "--horizon" in shown and "Adam learning rate (default: 0.001)" in shown


def test_trainer_options_come_from_the_trainer_config():
    from lucidgym.cli import build_parser
    from lucidgym.world_models.trainer import TrainerConfig

    base = ["train", "world-model", "--env", "E", "--backend", "mlp", "--out", "o"]
    args = build_parser().parse_args(base)
    assert (args.steps, args.batch_size, args.seq_len, args.lr, args.seed) == (
        TrainerConfig.steps, TrainerConfig.batch_size, TrainerConfig.seq_len,
        TrainerConfig.lr, TrainerConfig.seed,
    )  # fmt: skip
    assert args.eval_interval is None and args.progress and args.keep_best
    args = build_parser().parse_args(
        [*base, "--patience", "3", "--grad-clip", "none", "--no-keep-best", "--no-progress"]
    )
    assert (args.patience, args.grad_clip, args.keep_best, args.progress) == (3, None, False, False)


def test_train_agent_saves_a_learner_with_its_curves(tmp_path, toy_agents, capsys):
    out = tmp_path / "agent"
    argv = ["train", "agent", "--env", "PatternEcho-v0", "--agent", "counter", "--steps", "96"]
    assert main([*argv, "--out", str(out)]) == 0
    assert {"model.safetensors", "config.json", "curves.json", "tensorboard"} <= {
        p.name for p in out.iterdir()
    }
    curves = json.loads((out / "curves.json").read_text())
    assert curves["env_steps"] == [32.0, 64.0, 96.0] and len(curves["episode_return"]) == 3
    assert main(["train", "agent", "--env", "PatternEcho-v0", "--agent", "echo",
                 "--out", str(tmp_path / "x")]) == 2  # fmt: skip
    assert "does not learn" in capsys.readouterr().err


def test_train_agent_refuses_config_the_agent_does_not_take(tmp_path, toy_agents, capsys):
    argv = ["train", "agent", "--env", "PatternEcho-v0", "--agent", "counter", "--steps", "8",
            "--set", "horizon=12", "--out", str(tmp_path / "x")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "takes no config" in err
