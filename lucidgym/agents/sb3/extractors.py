"""Features extractors for Stable-Baselines3 policies on small images.

SB3's default ``NatureCNN`` needs at least 36x36 pixels (its first layer is an 8x8
convolution of stride 4); lucidgym's pixel environments are 32x32 by default.
:class:`SmallCNN` works from 8x8 upwards. This module imports Stable-Baselines3 and is
meant for users of it only.

Example:
    >>> import gymnasium as gym
    >>> import lucidgym  # noqa: F401
    >>> from stable_baselines3 import PPO
    >>> from lucidgym.agents.sb3.extractors import SmallCNN
    >>> model = PPO(
    ...     "CnnPolicy",
    ...     gym.make("MovingDotDiscrete-v0"),
    ...     policy_kwargs={"features_extractor_class": SmallCNN,
    ...                    "features_extractor_kwargs": {"features_dim": 128}},
    ...     n_steps=64,
    ... )
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class SmallCNN(BaseFeaturesExtractor):
    """A small convolutional features extractor for channel-first images of 8x8 and up.

    Two 3x3 convolutions of stride 2 with ReLUs (32x32 becomes 8x8, 64x64 becomes
    16x16), flattened, then a linear layer to ``features_dim`` and a ReLU. Keeping a
    quarter of the resolution keeps where things are, which is what the moving-dot
    tasks turn on; padding keeps any side of at least 8 working. SB3 scales ``uint8``
    images to ``[0, 1]`` before they reach the extractor (``normalize_images=True``).

    Input ``[B, C, H, W]``; output ``[B, features_dim]``.

    Args:
        observation_space: a channel-first ``Box`` of shape ``(C, H, W)``.
        features_dim: width of the output features.
        channels: output channels of the two convolutions.

    Raises:
        ValueError: for an observation space that is not a ``(C, H, W)`` Box with
            ``H, W >= 8``, or a non-positive ``features_dim`` or channel count.
    """

    def __init__(
        self,
        observation_space: gym.spaces.Box,
        features_dim: int = 128,
        channels: Sequence[int] = (16, 32),
    ) -> None:
        shape = getattr(observation_space, "shape", None)
        if not isinstance(observation_space, gym.spaces.Box) or shape is None or len(shape) != 3:
            raise ValueError(
                f"SmallCNN: observation space must be a channel-first Box (C, H, W), "
                f"got {observation_space}"
            )
        if min(shape[1:]) < 8:
            raise ValueError(f"SmallCNN: images must be at least 8x8, got shape {shape}")
        if features_dim < 1 or len(channels) != 2 or min(channels) < 1:
            raise ValueError(
                f"SmallCNN: features_dim and two channel counts must be positive, "
                f"got {features_dim} and {tuple(channels)}"
            )
        super().__init__(observation_space, features_dim)
        c1, c2 = (int(c) for c in channels)
        self.cnn = nn.Sequential(
            nn.Conv2d(shape[0], c1, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.cnn(torch.zeros(1, *shape)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat, features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` float images -> ``[B, features_dim]`` features."""
        return self.linear(self.cnn(observations))  # type: ignore[no-any-return]
