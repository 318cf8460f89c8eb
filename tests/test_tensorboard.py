"""Live TensorBoard logs: the writer, the learners that report to it, SB3's own logger."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import lucidgym  # noqa: F401
from lucidgym.agents import make_agent
from lucidgym.agents.protocol import ScalarLogger
from lucidgym.tensorboard import EpisodeLogging, TensorBoardLogger

pytest.importorskip("tensorboard")


def read_events(folder: Path) -> Any:
    """Every event file in ``folder`` read back (scalars and images, none left out)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def scalar_tags(folder: Path) -> set[str]:
    tags: set[str] = set()
    for events_file in folder.glob("events.out.tfevents.*"):
        # One accumulator per file: a folder with two writers' files is one run.
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(events_file), size_guidance={"scalars": 0})
        events.Reload()
        tags |= set(events.Tags()["scalars"])
    return tags


class RecordingLogger:
    """Keeps every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, float], int]] = []

    def log(self, scalars: Any, step: int) -> None:
        self.calls.append((dict(scalars), step))

    def steps_of(self, tag: str) -> list[int]:
        return [step for scalars, step in self.calls if tag in scalars]


def test_logged_points_are_on_disk_before_the_writer_closes(tmp_path):
    logger = TensorBoardLogger(tmp_path, flush_secs=0)
    assert isinstance(logger, ScalarLogger) and not list(tmp_path.iterdir())  # lazy
    logger.log({"charts/episode_return": 1.5, "loss/policy": 0.25}, step=32)
    logger.log({"charts/episode_return": 3.0}, step=64)
    events = read_events(tmp_path)  # still open: what a watching TensorBoard sees
    points = [(e.step, e.value) for e in events.Scalars("charts/episode_return")]
    assert points == [(32, 1.5), (64, 3.0)]
    assert [e.value for e in events.Scalars("loss/policy")] == [0.25]
    assert logger.points == 3
    logger.close()


def test_the_first_point_is_on_disk_at_once_whatever_flush_secs(tmp_path):
    with TensorBoardLogger(tmp_path, flush_secs=3600) as logger:
        logger.log({"charts/sps": 10.0}, step=1)
        assert [e.step for e in read_events(tmp_path).Scalars("charts/sps")] == [1]
        logger.log({"charts/sps": 20.0}, step=2)
    assert [e.step for e in read_events(tmp_path).Scalars("charts/sps")] == [1, 2]
    with pytest.raises(ValueError, match="flush_secs"):
        TensorBoardLogger(tmp_path, flush_secs=-1)


def test_add_video_writes_an_animated_clip(tmp_path):
    import imageio.v3 as iio

    frames = [np.full((12, 20, 3), 40 * i, dtype=np.uint8) for i in range(5)]
    with TensorBoardLogger(tmp_path) as logger:
        logger.add_video("dream/video", frames, fps=5)
        with pytest.raises(ValueError, match="no frames"):
            logger.add_video("dream/video", [])
    (image,) = read_events(tmp_path).Images("dream/video")
    assert (image.width, image.height) == (20, 12)
    clip = iio.imread(io.BytesIO(image.encoded_image_string), index=None, extension=".gif")
    assert clip.shape == (5, 12, 20, 3)
    assert clip[0].max() == 0 and clip[-1].min() >= 150


def test_episode_logging_reports_each_episode_as_it_ends():
    logger = RecordingLogger()
    env = EpisodeLogging(gym.make("PatternEcho-v0"), logger)
    env.reset(seed=0)
    for _ in range(70):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    assert logger.steps_of("charts/episode_return") == [32, 64]
    assert all(0 <= s["charts/success_rate"] <= 1 for s, _ in logger.calls)
    assert env.curves["env_steps"] == [32.0, 64.0]


def test_baby_reports_while_it_learns_and_the_same_curves_without_a_logger():
    import torch

    env = gym.make("PatternEcho-v0")
    logger = RecordingLogger()
    torch.manual_seed(0)
    curves = make_agent("baby", env, num_envs=4).learn(env, 256, seed=0, logger=logger)
    episodes = logger.steps_of("charts/episode_return")
    assert len(episodes) == len(curves["episode_return"]) > 1
    assert episodes == sorted(episodes) and episodes[-1] > episodes[0]
    updates = logger.steps_of("loss/policy")
    assert len(updates) > 1 and updates == sorted(updates)
    # Episodes are reported as they end, between updates, not all at the end.
    tags = [scalars for scalars, _ in logger.calls]
    first_update = next(i for i, s in enumerate(tags) if "loss/policy" in s)
    last_episode = max(i for i, s in enumerate(tags) if "charts/episode_return" in s)
    assert first_update < last_episode
    torch.manual_seed(0)
    plain = make_agent("baby", env, num_envs=4).learn(env, 256, seed=0)
    assert plain["episode_return"] == curves["episode_return"]


def test_dyna_reports_its_losses_against_env_steps():
    env = gym.make("PatternEcho-v0")
    agent = make_agent(
        "dyna", env, num_envs=4, prefill_steps=64, pretrain_updates=2, model_updates=1,
        actor_updates=1, batch_size=4, seq_len=4, horizon=3, hidden=16,
        model_config={"deter_size": 16, "stoch_size": 4, "hidden_size": 16},
    )  # fmt: skip
    logger = RecordingLogger()
    agent.learn(env, 192, seed=0, logger=logger)
    for tag in ("loss/actor", "loss/critic", "loss/recon", "charts/episode_return"):
        steps = logger.steps_of(tag)
        assert len(steps) > 1 and steps == sorted(steps) and steps[-1] <= 192, tag


def test_sb3_writes_its_own_logs_into_the_loggers_folder(tmp_path):
    pytest.importorskip("stable_baselines3")
    env = gym.make("CartPole-v1")
    agent = make_agent("sb3:PPO", env, n_steps=64, batch_size=32, n_epochs=1)
    with TensorBoardLogger(tmp_path / "tb", flush_secs=0) as logger:
        agent.learn(env, 192, seed=0, logger=logger)
    tags = scalar_tags(tmp_path / "tb")
    assert {"charts/episode_return", "rollout/ep_rew_mean", "train/value_loss"} <= tags
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 2
    # Learning on without a logger writes nowhere new and still works.
    curves = agent.learn(env, 64, seed=1)
    assert curves["env_steps"] and len(list((tmp_path / "tb").iterdir())) == 2
