import numpy as np

from lucidgym.cli import main


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


def test_render_plays_the_named_agent(tmp_path, toy_agents, capsys):
    out = tmp_path / "echo.gif"
    argv = ["render", "--env", "PatternEcho-v0", "--agent", "echo", "--max-steps", "5"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "(5 steps, return 5.000)" in capsys.readouterr().out
    assert main([*argv[:3], "--agent", "wizard", "--out", str(tmp_path / "wizard.gif")]) == 2
    assert "wizard" in capsys.readouterr().err


class RecallAgent:
    """Echoes the symbol of the last observation it was handed through ``observe``.

    Only its first action reads ``act``'s argument, so it echoes well only if it is
    told every step; with ``lag=1`` it echoes the symbol of one step before (wrong).
    """

    def __init__(self, env, lag: int = 0) -> None:
        self.lag = lag

    def reset(self, *, seed=None) -> None:
        self.seen: list[int] = []

    def act(self, obs) -> int:
        if not self.seen:
            self.seen.append(int(np.argmax(obs[:8])))
        return self.seen[max(0, len(self.seen) - 1 - self.lag)]

    def observe(self, transition) -> None:
        self.seen.append(int(np.argmax(transition.next_obs[:8])))


def test_render_hands_the_agent_every_transition_and_its_config(tmp_path, monkeypatch, capsys):
    from lucidgym.benchmarks import runner

    monkeypatch.setattr(runner, "resolve_agent_maker", lambda: (make_recall_agent, ["recall"]))
    argv = ["render", "--env", "PatternEcho-v0", "--agent", "recall", "--max-steps", "8"]
    assert main([*argv, "--out", str(tmp_path / "a.gif")]) == 0
    assert "(8 steps, return 8.000)" in capsys.readouterr().out
    assert main([*argv, "--set", "lag=1", "--out", str(tmp_path / "b.gif")]) == 0
    assert "return 8.000" not in capsys.readouterr().out
    no_agent = ["render", "--env", "PatternEcho-v0", "--set", "lag=1"]
    assert main([*no_agent, "--out", str(tmp_path / "c.gif")]) == 2
    assert "--agent" in capsys.readouterr().err


def make_recall_agent(name, env, **config):
    return RecallAgent(env, **config)
