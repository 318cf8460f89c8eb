"""SmallCNN: shapes at the sizes lucidgym uses, bad spaces, and PPO learning with it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

import lucidgym  # noqa: E402, F401
from lucidgym.agents.sb3_extractors import SmallCNN  # noqa: E402


@pytest.mark.parametrize("side", [8, 32, 64])
def test_small_cnn_shapes(side: int) -> None:
    space = gym.spaces.Box(0, 255, (1, side, side), np.uint8)
    net = SmallCNN(space, features_dim=40)
    out = net(torch.rand(5, 1, side, side))
    assert out.shape == (5, 40) and net.features_dim == 40
    rgb = SmallCNN(gym.spaces.Box(0, 255, (3, side, side + 4), np.uint8), features_dim=8)
    assert rgb(torch.rand(2, 3, side, side + 4)).shape == (2, 8)


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Box(0, 255, (1, 6, 32), np.uint8),
        gym.spaces.Box(0, 1, (10,), np.float32),
        gym.spaces.Discrete(3),
    ],
)
def test_small_cnn_refuses_unusable_spaces(space: gym.spaces.Space) -> None:
    with pytest.raises(ValueError, match="SmallCNN"):
        SmallCNN(space)  # type: ignore[arg-type]


def test_small_cnn_refuses_bad_sizes() -> None:
    space = gym.spaces.Box(0, 255, (1, 32, 32), np.uint8)
    with pytest.raises(ValueError, match="SmallCNN"):
        SmallCNN(space, features_dim=0)
    with pytest.raises(ValueError, match="SmallCNN"):
        SmallCNN(space, channels=(16,))


def test_ppo_cnn_policy_trains_with_small_cnn() -> None:
    """PPO's CnnPolicy accepts SmallCNN on 32x32 frames and runs updates end to end."""
    venv = make_vec_env("MovingDotDiscrete-v0", n_envs=2, seed=0)
    model = PPO(
        "CnnPolicy",
        venv,
        policy_kwargs={
            "features_extractor_class": SmallCNN,
            "features_extractor_kwargs": {"features_dim": 32},
        },
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        seed=0,
        device="cpu",
    )
    before = [p.detach().clone() for p in model.policy.features_extractor.parameters()]
    model.learn(128)
    after = list(model.policy.features_extractor.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    obs = venv.reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (2,) and np.all((actions >= 0) & (actions < 5))
