"""Episodes as pictures: play one, dream it with a world model, compose and write frames.

With a world model, each frame shows the real observation beside the model's open-loop
dream of it (the model sees the first observation, then only the real actions), and a
gauge of their normalized absolute error (the divergence). Image observations are
drawn as images; vector observations as paired bars, real (blue) over dreamed (orange).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym
import numpy as np

from lucidgym.envs.rendering import draw_bar, draw_text, fill_rect

if TYPE_CHECKING:  # the agents import torch, which playing a random policy never needs
    from lucidgym.agents.protocol import Transition

REAL_COLOR = (80, 150, 255)
DREAM_COLOR = (255, 160, 60)
ERROR_COLOR = (230, 70, 70)
BACKGROUND = (20, 20, 28)


class PlayedEpisode(NamedTuple):
    """One episode as played: ``T`` steps."""

    frames: list[np.ndarray]
    """``T + 1`` rendered ``[H, W, 3]`` uint8 frames (empty without ``rgb_array``)."""
    obs: np.ndarray
    """``[T + 1, *O]`` observations."""
    actions: np.ndarray
    """``[T]`` or ``[T, A]`` actions."""
    rewards: np.ndarray
    """``[T]`` rewards."""


class _Observed(gym.Wrapper[Any, Any, Any, Any]):
    """``env``, handing each step's :class:`Transition` to ``observe``."""

    def __init__(self, env: gym.Env[Any, Any], observe: Callable[[Transition], None]) -> None:
        from lucidgym.agents.protocol import Transition

        super().__init__(env)
        self._transition = Transition
        self._observe = observe
        self._last: Any = None

    def reset(self, **kwargs: Any) -> Any:
        obs, info = self.env.reset(**kwargs)
        self._last = obs
        return obs, info

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._observe(
            self._transition(self._last, action, float(reward), obs, terminated, truncated, info)
        )
        self._last = obs
        return obs, reward, terminated, truncated, info


def play_episode(
    env: gym.Env[Any, Any],
    act: Any,
    seed: int,
    max_steps: int | None = None,
    *,
    observe: Callable[[Transition], None] | None = None,
) -> PlayedEpisode:
    """Play one episode of ``env`` (made with ``render_mode="rgb_array"`` for frames).

    Args:
        env: the env.
        act: a callable ``obs -> action``.
        seed: the reset seed.
        max_steps: stop after this many steps even if the episode goes on.
        observe: called with each step's transition (an agent's ``observe``).
    """
    from lucidgym.world_models.collect import play_episode as run_episode

    if observe is not None:
        env = _Observed(env, observe)
    obs, _ = env.reset(seed=seed)
    frames: list[np.ndarray] = []
    render = None
    if env.render_mode == "rgb_array":
        frames.append(np.asarray(env.render()))
        render = lambda: frames.append(np.asarray(env.render()))  # noqa: E731
    episode = run_episode(env, act, obs, render, max_steps)
    return PlayedEpisode(frames, episode.obs, episode.action, episode.reward)


def dream_episode(model: Any, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The model's open-loop dream ``[T, *O]`` of ``obs[1:]`` from ``obs[0]`` and ``actions``."""
    import torch

    device = next(model.parameters()).device if hasattr(model, "parameters") else "cpu"
    if hasattr(model, "eval"):
        model.eval()
    with torch.no_grad():
        first = torch.as_tensor(obs[:1], dtype=torch.float32, device=device)
        state, _ = model.observe(model.initial_state(1), None, first)
        rollout = model.rollout(state, torch.as_tensor(actions[None], device=device))
    return rollout.obs[0].cpu().numpy()


def dream_clip(
    model: Any, env: gym.Env[Any, Any], seed: int, max_steps: int = 64
) -> list[np.ndarray] | None:
    """One episode of uniform random actions, each real observation beside its dream.

    The frames of :func:`compose_dream_frames` for the model's open-loop dream of an
    episode of ``env`` (reset with ``seed``, at most ``max_steps`` steps); ``None``
    where the observations are not images (``[C, H, W]`` or ``[H, W]``).
    """
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) < 2:
        return None
    from lucidgym.world_models.collect import resolve_policy

    act = resolve_policy("random", env.action_space, seed, "dream_clip")
    played = play_episode(env, act, seed, max_steps)
    return compose_dream_frames(played, dream_episode(model, played.obs, played.actions), space)


def normalized_errors(
    real: np.ndarray, dream: np.ndarray, space: gym.spaces.Space[Any]
) -> np.ndarray:
    """``[T]`` mean absolute error per step, each element scaled by its range in ``space``."""
    low, span = _scale(space, real)
    diff = np.abs(dream.astype(np.float64) - real.astype(np.float64)) / span
    return diff.reshape(diff.shape[0], -1).mean(axis=1)


def _scale(space: gym.spaces.Space[Any], data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"render --model needs a Box observation space, got {space}")
    low = np.where(np.isfinite(space.low), space.low, data.min(axis=0)).astype(np.float64)
    high = np.where(np.isfinite(space.high), space.high, data.max(axis=0)).astype(np.float64)
    span = high - low
    return low, np.where(span > 0, span, 1.0)


def _image_panel(obs: np.ndarray, low: np.ndarray, span: np.ndarray, size: int) -> np.ndarray:
    """``[C, H, W]`` (C = 1 or 3) or ``[H, W]`` as an RGB ``[size, size * W / H, 3]`` image."""
    scaled = np.clip((obs.astype(np.float64) - low) / span, 0.0, 1.0)
    image = scaled if scaled.ndim == 2 else np.moveaxis(scaled, 0, -1)
    if image.ndim == 2 or image.shape[-1] == 1:
        image = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=-1)
    image = image[..., :3]
    factor = max(1, size // image.shape[0])
    return (np.kron(image, np.ones((factor, factor, 1))) * 255).astype(np.uint8)


def _vector_panel(
    real: np.ndarray, dream: np.ndarray, low: np.ndarray, span: np.ndarray
) -> np.ndarray:
    """Paired bars per element: real above dreamed, both scaled to the element's range."""
    r = ((real.astype(np.float64) - low) / span).reshape(-1)
    d = ((dream.astype(np.float64) - low) / span).reshape(-1)
    row, width = 14, 240
    canvas = np.zeros((row * r.size + 4, width + 30, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    for i in range(r.size):
        y = 2 + i * row
        draw_text(canvas, str(i), 2, y + 3, scale=1)
        draw_bar(canvas, 26, y, width, 5, float(r[i]), REAL_COLOR)
        draw_bar(canvas, 26, y + 6, width, 5, float(d[i]), DREAM_COLOR)
    return canvas


def compose_dream_frames(
    played: PlayedEpisode, dream: np.ndarray, space: gym.spaces.Space[Any]
) -> list[np.ndarray]:
    """One frame per step: real beside dreamed observation, and the error gauge.

    Args:
        played: the real episode (``T`` steps).
        dream: ``[T, *O]`` the model's dream of ``played.obs[1:]``.
        space: the observation space (for scaling).
    """
    real = played.obs[1:]
    if dream.shape != real.shape:
        raise ValueError(f"the model dreams observations of shape {dream.shape[1:]}, the env "
                         f"gives {real.shape[1:]}; was the model trained on this env?")  # fmt: skip
    low, span = _scale(space, played.obs)
    errors = normalized_errors(real, dream, space)
    scale_max = max(float(errors.max()), 1e-6)
    image = real.ndim >= 3
    frames = []
    for t in range(real.shape[0]):
        if image:
            left = _image_panel(real[t], low, span, 160)
            right = _image_panel(dream[t], low, span, 160)
        else:
            left = right = _vector_panel(real[t], dream[t], low, span)
        gap = np.zeros((left.shape[0], 8, 3), dtype=np.uint8)
        body = np.concatenate([left, gap, right] if image else [left], axis=1)
        header = np.zeros((40, body.shape[1], 3), dtype=np.uint8)
        header[:] = BACKGROUND
        titles = "REAL   DREAM" if image else "REAL (BLUE) DREAM (ORANGE)"
        draw_text(header, f"STEP {t + 1} {titles}", 4, 4, scale=1)
        draw_text(header, f"ERROR {errors[t]:.3f}", 4, 16, ERROR_COLOR, scale=1)
        draw_bar(header, 4, 28, body.shape[1] - 8, 8, errors[t] / scale_max, ERROR_COLOR)
        frame = np.concatenate([header, body], axis=0)
        fill_rect(frame, 0, 39, frame.shape[1], 1, (90, 90, 90))
        frames.append(frame)
    return frames


def write_frames(frames: list[np.ndarray], out: str | Path, fps: int) -> Path:
    """Write frames as ``.gif``, ``.mp4`` (needs imageio-ffmpeg), or PNGs into a folder."""
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("no frames to write: the env returned no rgb_array frames")
    path = Path(out)
    height = max(f.shape[0] for f in frames)
    width = max(f.shape[1] for f in frames)
    padded = [_pad(np.asarray(f, dtype=np.uint8), height, width) for f in frames]
    suffix = path.suffix.lower()
    if suffix == ".gif":
        path.parent.mkdir(parents=True, exist_ok=True)
        imageio.mimsave(
            path,
            padded,  # type: ignore[arg-type]
            duration=1000.0 / fps,
            loop=0,
        )
    elif suffix == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError as err:
            raise ValueError(
                "writing .mp4 needs imageio-ffmpeg: pip install imageio-ffmpeg"
            ) from err
        path.parent.mkdir(parents=True, exist_ok=True)
        even = [_pad(f, height + height % 2, width + width % 2) for f in padded]
        imageio.mimsave(
            path,
            even,  # type: ignore[arg-type]
            fps=fps,
            macro_block_size=1,
        )
    elif suffix:
        raise ValueError(
            f"--out {str(path)!r}: use a .gif or .mp4 file, or a folder for PNG frames"
        )
    else:
        path.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(padded):
            imageio.imwrite(path / f"frame_{i:05d}.png", frame)
    return path


def _pad(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    out[: frame.shape[0], : frame.shape[1]] = frame[..., :3]
    return out
