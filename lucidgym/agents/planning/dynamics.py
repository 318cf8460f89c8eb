"""The two kinds of :class:`~lucidgym.types.Dynamics` planners search over.

- :class:`WorldModelDynamics` adapts any learned :class:`~lucidgym.world_models.protocol.WorldModel`
  (its states are the model's latent states, kept as torch tensors);
- :func:`oracle_dynamics` takes an environment's true simulator (its states are the
  env's hidden states), the upper bound learned models are compared with.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from lucidgym.batched import batch_take
from lucidgym.world_models.protocol import WorldModel


class LatentState(NamedTuple):
    """A batch of ``B`` planning states of a learned model."""

    model: Any
    """The backend's own state (a ``NamedTuple`` of ``[B, ...]`` tensors)."""
    obs: torch.Tensor
    """``[B, *O]`` the last real or predicted observation (what a base policy sees)."""


class WorldModelDynamics:
    """A learned world model as a batched :class:`~lucidgym.types.Dynamics`.

    States are :class:`LatentState` batches: the model's state plus the observation the
    model expects there, so that a policy of observations can act inside the dream
    (:meth:`observe`). Rewards are the model's predicted rewards, less
    ``uncertainty_penalty`` times its uncertainty where the backend reports one
    (pessimism where the model is unsure, as in MOPO: Yu et al., 2020); a step is
    ``done`` where the predicted termination probability exceeds 0.5. Everything runs
    under ``torch.no_grad`` and comes back as NumPy arrays; states stay on the model's
    device.

    Args:
        model: any backend implementing the world-model protocol.
        action_space: the space of one action (default: ``model.action_space``).
        uncertainty_penalty: weight of the uncertainty subtracted from each reward.
    """

    def __init__(
        self,
        model: WorldModel,
        action_space: gym.spaces.Space[Any] | None = None,
        uncertainty_penalty: float = 0.0,
    ) -> None:
        space = action_space if action_space is not None else getattr(model, "action_space", None)
        if space is None:
            raise ValueError("WorldModelDynamics: the model has no action_space; pass one")
        if uncertainty_penalty < 0:
            raise ValueError(f"uncertainty_penalty must be >= 0, got {uncertainty_penalty}")
        self.uncertainty_penalty = float(uncertainty_penalty)
        self.model = model
        self.action_space: gym.spaces.Space[Any] = space
        self.device: torch.device = getattr(model, "device", torch.device("cpu"))
        self.step_calls = 0
        """``step`` calls made so far."""
        self.rollout_calls = 0
        """``rollout`` calls made so far."""

    def action_tensor(self, actions: np.ndarray) -> torch.Tensor:
        """``actions [B]`` (int64) or ``[B, A]`` (float32) as a tensor on the model's device."""
        if isinstance(self.action_space, gym.spaces.Discrete):
            return torch.as_tensor(np.asarray(actions, dtype=np.int64), device=self.device)
        return torch.as_tensor(np.asarray(actions, dtype=np.float32), device=self.device)

    def root(self, model_state: Any, obs: Any) -> LatentState:
        """The planning state of a filtered model state and the real ``obs [B, *O]``."""
        return LatentState(model_state, torch.as_tensor(obs, device=self.device).float())

    def step(
        self, states: LatentState, actions: np.ndarray
    ) -> tuple[LatentState, np.ndarray, np.ndarray]:
        """Advance ``B`` states by ``actions [B]`` (or ``[B, A]``).

        Returns:
            ``(states, rewards [B] float32, dones [B] bool)``.
        """
        self.step_calls += 1
        with torch.no_grad():
            model_state, pred = self.model.imagine(states.model, self.action_tensor(actions))
        reward = self._penalized(pred.reward, pred.uncertainty).cpu().numpy()
        done = (pred.done > 0.5).cpu().numpy()
        return LatentState(model_state, pred.obs), reward, done

    def _penalized(self, reward: torch.Tensor, uncertainty: torch.Tensor | None) -> torch.Tensor:
        reward = reward.float()
        if self.uncertainty_penalty > 0 and uncertainty is not None:
            reward = reward - self.uncertainty_penalty * uncertainty.float()
        return reward

    def rollout(
        self, states: LatentState, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, LatentState]:
        """Dream ``actions [B, H]`` (or ``[B, H, A]``, ``H >= 1``) in one model call.

        Returns:
            ``(rewards [B, H], dones [B, H], final states)``.
        """
        self.rollout_calls += 1
        with torch.no_grad():
            out = self.model.rollout(states.model, self.action_tensor(actions))
        final = LatentState(out.state, out.obs[:, -1])
        reward = self._penalized(out.reward, out.uncertainty).cpu().numpy()
        return reward, (out.done > 0.5).cpu().numpy(), final

    def take(self, states: LatentState, index: np.ndarray) -> LatentState:
        """Rows ``index`` (``[K]``, repeats allowed) of a batch of latent states."""
        rows = torch.as_tensor(np.asarray(index), device=self.device)
        return LatentState(batch_take(states.model, rows), states.obs[rows])

    def observe(self, states: LatentState) -> np.ndarray:
        """``[B, *O]`` the observations the model expects in ``states``."""
        return states.obs.cpu().numpy()


def oracle_dynamics(env: gym.Env[Any, Any], seed: int | None = None) -> Any:
    """The true dynamics of ``env`` (through its wrappers) with their own generator.

    Raises:
        ValueError: when the environment exposes no ``get_state``/``get_dynamics``.
    """
    base = env.unwrapped
    if not (hasattr(base, "get_state") and hasattr(base, "get_dynamics")):
        name = env.spec.id if env.spec is not None else type(base).__name__
        raise ValueError(
            f"{name} has no true simulator to plan with (no get_state/get_dynamics); "
            "use a learned model instead, e.g. model='mlp'"
        )
    return base.get_dynamics(seed)
