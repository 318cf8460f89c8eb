import json

import numpy as np
import pytest

from lucidgym.cli import main

ECHO_SET = [
    "--env",
    "PatternEcho-v0",
    "--agent",
    "echo",
    "--agent",
    "reactive",
    "--agent",
    "random",
]


def _bench(out, *extra):
    return main(["bench", *ECHO_SET, "--seeds", "2", "--episodes", "2", "--budget", "0",
                 "--no-progress", "--threads", "1", "--jobs", "1", "--out", str(out),
                 *extra])  # fmt: skip


def _without_timings(doc):
    doc = json.loads(json.dumps(doc))
    for run in doc["runs"]:
        run.pop("wall_s")
    doc.pop("machine")
    return doc


def test_bench_custom_set_end_to_end_and_deterministic(tmp_path, toy_agents, capsys):
    assert _bench(tmp_path / "a") == 0
    printed = capsys.readouterr().out
    files = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"results.json", "summary.md", "learning_curves.json"} <= files
    assert {"returns_PatternEcho-v0.png", "improvement.png"} <= files
    doc = json.loads((tmp_path / "a" / "results.json").read_text())
    assert doc["suite"] == "custom"
    assert len(doc["runs"]) == 6
    rows = {row["agent"]: row for row in doc["summary"]}
    assert rows["echo"]["mean_return"] == 32.0 and rows["echo"]["success_rate"] == 1.0
    base = rows["reactive"]["mean_return"]
    assert 0 < base < 10 and 0 < rows["random"]["mean_return"] < 10  # right 1 time in 8
    assert rows["echo"]["improvement_vs_reactive_pct"] == pytest.approx(100 * (32 - base) / base)
    assert f"{100 * (32 - base) / base:+.1f}%" in printed
    assert _bench(tmp_path / "b") == 0
    again = json.loads((tmp_path / "b" / "results.json").read_text())
    assert _without_timings(again) == _without_timings(doc)


def test_bench_in_worker_processes_gives_the_same_numbers(tmp_path, toy_agents):
    assert _bench(tmp_path / "serial") == 0
    assert _bench(tmp_path / "parallel", "--jobs", "2") == 0
    serial = json.loads((tmp_path / "serial" / "results.json").read_text())
    parallel = json.loads((tmp_path / "parallel" / "results.json").read_text())
    assert _without_timings(parallel) == _without_timings(serial)


def test_bench_refuses_an_out_with_results_unless_forced(tmp_path, toy_agents, capsys):
    assert _bench(tmp_path) == 0
    capsys.readouterr()
    assert _bench(tmp_path) == 2
    err = capsys.readouterr().err
    assert "--force" in err and err.count("\n") == 1
    assert _bench(tmp_path, "--force") == 0


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["bench", "--suite", "huge"], "quick, full, throughput"),
        (["bench", "--env", "NoSuchEnv-v9"], "PatternEcho-v0"),
        (["bench", "--env", "PatternEcho-v0", "--agent", "wizard"], "echo"),
        (["bench", "--env", "PatternEcho-v0", "--agent", "echo", "--model", "crystal"], "oracle"),
        (["bench", "--seeds", "0"], "positive"),
    ],
)
def test_bench_bad_names_give_one_line_and_exit_2(argv, names, tmp_path, toy_agents, capsys):
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and names in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_render_gif_and_png_frames(tmp_path, capsys):
    import imageio.v2 as imageio

    gif = tmp_path / "echo.gif"
    assert main(["render", "--env", "PatternEcho-v0", "--max-steps", "5", "--out", str(gif)]) == 0
    frames = imageio.mimread(gif)
    assert len(frames) == 6  # the reset frame and one per step
    folder = tmp_path / "frames"
    assert (
        main(["render", "--env", "PatternEcho-v0", "--max-steps", "3", "--out", str(folder)]) == 0
    )
    pngs = sorted(folder.glob("frame_*.png"))
    assert [p.name for p in pngs] == [f"frame_{i:05d}.png" for i in range(4)]
    assert imageio.imread(pngs[0]).ndim == 3
    assert main(["render", "--env", "PatternEcho-v0", "--out", str(tmp_path / "x.avi")]) == 2


def test_render_model_shows_real_beside_dream(tmp_path):
    import gymnasium as gym
    import imageio.v2 as imageio

    from lucidgym.video import compose_dream_frames, play_episode
    from lucidgym.world_models.checkpoint import save_world_model
    from lucidgym.world_models.registry import make_world_model

    env = gym.make("PatternEcho-v0")
    model = make_world_model("mlp", env.observation_space, env.action_space)
    save_world_model(model, tmp_path / "model")
    out = tmp_path / "dream.gif"
    argv = ["render", "--env", "PatternEcho-v0", "--model", str(tmp_path / "model"),
            "--max-steps", "4", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert len(imageio.mimread(out)) == 4
    played = play_episode(env, lambda obs: 0, seed=0, max_steps=3)
    perfect = compose_dream_frames(played, played.obs[1:], env.observation_space)
    wrong = compose_dream_frames(played, 1.0 - played.obs[1:], env.observation_space)
    # The error gauge is the only part that differs: empty for a perfect dream.
    assert not np.array_equal(perfect[0], wrong[0])
    assert np.array_equal(perfect[0][40:], perfect[0][40:])


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


def test_bench_trains_learners_on_the_stated_budget(tmp_path, toy_agents):
    argv = ["bench", "--env", "PatternEcho-v0", "--agent", "counter", "--seeds", "2",
            "--episodes", "1", "--budget", "64", "--no-progress",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads((tmp_path / "results.json").read_text())
    assert [run["env_steps"] for run in doc["runs"]] == [64, 64]
    curves = json.loads((tmp_path / "learning_curves.json").read_text())
    assert [c["env_steps"] for c in curves] == [[32.0, 64.0], [32.0, 64.0]]
    assert (tmp_path / "learning_PatternEcho-v0.png").is_file()
