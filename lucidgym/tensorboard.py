"""Live TensorBoard logs: scalars while a learner learns, and clips of dreams beside reality.

:class:`TensorBoardLogger` is the :class:`~lucidgym.agents.protocol.ScalarLogger` that
``lucidgym train agent`` hands a learner: tags namespaced as CleanRL's
(``charts/episode_return``, ``charts/sps``, ``loss/<name>``, ``eval/return``) against real
env steps, flushed to disk every couple of seconds so that ``tensorboard --logdir`` shows
points while training goes on. :class:`EpisodeLogging` reports the episodes an env plays,
for learners that take no logger. The writer (torch's, and so torch) is imported only
when the first thing is written.

Example:
    >>> import tempfile
    >>> with TensorBoardLogger(tempfile.mkdtemp()) as logger:
    ...     logger.log({"charts/episode_return": 1.0}, step=32)
    >>> logger.points
    1
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from lucidgym.agents.protocol import log_episodes


class TensorBoardLogger:
    """Scalars (and clips) into TensorBoard event files in ``log_dir``.

    Args:
        log_dir: the folder of the event files (made on the first write). Another
            writer may write into the same folder (SB3's logger does): each writes its
            own file and TensorBoard shows them as one run.
        flush_secs: write what is buffered to disk at least this often (seconds; 0
            writes at every call).
    """

    def __init__(self, log_dir: str | Path, flush_secs: float = 2.0) -> None:
        if flush_secs < 0:
            raise ValueError(f"flush_secs must be zero or positive, got {flush_secs}")
        self.log_dir = Path(log_dir)
        self.flush_secs = flush_secs
        self.points = 0
        """Scalar points logged so far."""
        self._writer: Any = None
        self._flushed = -math.inf  # the first point goes to disk at once

    @property
    def writer(self) -> Any:
        """The ``torch.utils.tensorboard.SummaryWriter``, made on first use."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            # Its own thread also flushes, for points logged just before a long pause.
            seconds = max(1, round(self.flush_secs))
            self._writer = SummaryWriter(str(self.log_dir), flush_secs=seconds)
        return self._writer

    def log(self, scalars: Mapping[str, SupportsFloat], step: int) -> None:
        """Write each of ``scalars`` (by tag) at ``step``; flush if ``flush_secs`` have passed."""
        writer = self.writer
        for tag, value in scalars.items():
            writer.add_scalar(tag, float(value), int(step))
        self.points += len(scalars)
        if time.monotonic() - self._flushed >= self.flush_secs:
            self.flush()

    def add_video(
        self, tag: str, frames: Sequence[np.ndarray], fps: int = 4, step: int = 0
    ) -> None:
        """Write ``frames`` (each ``[H, W, 3]`` uint8) as an animated clip under ``tag``.

        The clip is what ``SummaryWriter.add_video`` writes (a GIF image summary, shown
        in TensorBoard's Images tab), encoded here with imageio: torch's ``add_video``
        needs ``moviepy.editor``, which moviepy 2 no longer has, and then writes nothing.

        Raises:
            ValueError: no frames, or frames of different shapes or not ``[H, W, 3]``.
        """
        import imageio.v3 as iio
        from tensorboard.compat.proto.summary_pb2 import Summary

        if not frames:
            raise ValueError(f"{tag}: no frames to write")
        clip = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
        if clip.ndim != 4 or clip.shape[-1] != 3:
            raise ValueError(f"{tag}: frames must be [H, W, 3], got {clip.shape[1:]}")
        gif = iio.imwrite("<bytes>", clip, extension=".gif", duration=1000 / fps, loop=0)
        _, height, width, channels = clip.shape
        image = Summary.Image(
            height=height, width=width, colorspace=channels, encoded_image_string=gif
        )
        summary = Summary(value=[Summary.Value(tag=tag, image=image)])
        # The file writer of the SummaryWriter: the one add_video itself writes through.
        self.writer._get_file_writer().add_summary(summary, step)
        self.flush()

    def flush(self) -> None:
        """Write what is buffered to disk."""
        if self._writer is not None:
            self._writer.flush()
        self._flushed = time.monotonic()

    def close(self) -> None:
        """Flush and close the event file (a later write opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class EpisodeLogging(gym.Wrapper[Any, Any, Any, Any]):
    """Reports each episode ``env`` plays to ``logger`` as it ends.

    For a learner that takes no logger but steps the env it is given: its episodes go
    as ``charts/episode_return`` and ``charts/sps`` (and ``charts/success_rate`` where
    the env reports ``info["success"]``) at the steps taken through this wrapper.

    Args:
        env: the env the learner is given.
        logger: a :class:`~lucidgym.agents.protocol.ScalarLogger`.
    """

    def __init__(self, env: gym.Env[Any, Any], logger: Any) -> None:
        super().__init__(env)
        self.logger = logger
        self.curves: dict[str, list[float]] = {
            "env_steps": [],
            "episode_return": [],
            "success_rate": [],
        }
        """The finished episodes, as a learner's curves."""
        self.steps = 0
        """Steps taken through the wrapper."""
        self._return, self._success, self._reported = 0.0, False, False
        self._logged, self._start = 0, time.perf_counter()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset ``env``; an episode left unfinished is not reported."""
        self._return, self._success, self._reported = 0.0, False, False
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step ``env``, reporting the episode where this step ends it."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        self._return += float(reward)
        if "success" in info:
            self._reported = True
            self._success |= bool(info["success"])
        if terminated or truncated:
            self.curves["env_steps"].append(float(self.steps))
            self.curves["episode_return"].append(self._return)
            self.curves["success_rate"].append(
                float(self._success) if self._reported else float("nan")
            )
            self._logged = log_episodes(self.logger, self.curves, self._logged, self._start)
            self._return, self._success, self._reported = 0.0, False, False
        return obs, reward, terminated, truncated, info
