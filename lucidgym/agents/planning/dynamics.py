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

from lucidgym.agents.planners.common import continuation
from lucidgym.agents.planning.config import check_done_mode
from lucidgym.batched import batch_size, batch_take
from lucidgym.world_models.protocol import WorldModel


class LatentState(NamedTuple):
    """A batch of ``B`` planning states of a learned model."""

    model: Any
    """The backend's own state (a ``NamedTuple`` of ``[B, ...]`` tensors)."""
    obs: torch.Tensor
    """``[B, *O]`` the last real or predicted observation (what a base policy sees)."""
    alive: torch.Tensor
    """``[B]`` the probability that the episode is still running (1 at the root; below
    1 only where ``done="expected"`` weighs the dream by the predicted continuation)."""


MIN_ALIVE = 0.01
"""``done="expected"``: a dream whose continuation probability falls below this ends."""


class WorldModelDynamics:
    """A learned world model as a batched :class:`~lucidgym.types.Dynamics`.

    States are :class:`LatentState` batches: the model's state plus the observation the
    model expects there, so that a policy of observations can act inside the dream
    (:meth:`observe`). Rewards are the model's predicted rewards, less
    ``uncertainty_penalty`` times its uncertainty where the backend reports one
    (pessimism where the model is unsure, as in MOPO: Yu et al., 2020); a step is
    ``done`` where the predicted termination probability exceeds 0.5 (``done="threshold"``).
    With ``done="expected"`` no dream ends on a coin flip of the done head: every reward
    is weighted by the probability that no earlier step ended the episode, the product
    of the predicted continuation probabilities ``1 - p`` as in Dreamer's continue head
    (Hafner et al., 2020), so that a planner maximises the expected return even where
    the head never rises above 0.5 (rare terminals, such as CartPole's, leave it
    under-confident); a state counts as ``done`` once that probability falls below 1%.
    Everything runs under ``torch.no_grad`` and comes back as NumPy arrays; states stay
    on the model's device.

    Args:
        model: any backend implementing the world-model protocol.
        action_space: the space of one action (default: ``model.action_space``).
        uncertainty_penalty: weight of the uncertainty subtracted from each reward.
        done: ``"threshold"`` or ``"expected"`` (above).
    """

    def __init__(
        self,
        model: WorldModel,
        action_space: gym.spaces.Space[Any] | None = None,
        uncertainty_penalty: float = 0.0,
        done: str = "threshold",
    ) -> None:
        check_done_mode(done)
        self.expected_done = done == "expected"
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
        obs_t = torch.as_tensor(obs, device=self.device).float()
        return LatentState(model_state, obs_t, torch.ones(obs_t.shape[0], device=self.device))

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
        reward = self._penalized(pred.reward, pred.uncertainty)
        if not self.expected_done:
            done = pred.done > 0.5
            return (
                LatentState(model_state, pred.obs, states.alive),
                reward.cpu().numpy(),
                done.cpu().numpy(),
            )
        alive = states.alive * (1.0 - pred.done.float())
        reward = reward * states.alive
        done = alive < MIN_ALIVE
        return LatentState(model_state, pred.obs, alive), reward.cpu().numpy(), done.cpu().numpy()

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
        reward = self._penalized(out.reward, out.uncertainty)
        if not self.expected_done:
            final = LatentState(out.state, out.obs[:, -1], states.alive)
            return reward.cpu().numpy(), (out.done > 0.5).cpu().numpy(), final
        # alive[:, t]: the probability that the episode runs past step t.
        alive = states.alive[:, None] * torch.cumprod(1.0 - out.done.float(), dim=1)
        before = torch.cat([states.alive[:, None], alive[:, :-1]], dim=1)
        final = LatentState(out.state, out.obs[:, -1], alive[:, -1])
        return (reward * before).cpu().numpy(), (alive < MIN_ALIVE).cpu().numpy(), final

    def continuation(self, states: LatentState) -> np.ndarray:
        """``[B]`` the probability that each dream's episode is still running."""
        return states.alive.cpu().numpy()

    def take(self, states: LatentState, index: np.ndarray) -> LatentState:
        """Rows ``index`` (``[K]``, repeats allowed) of a batch of latent states."""
        rows = torch.as_tensor(np.asarray(index), device=self.device)
        return LatentState(batch_take(states.model, rows), states.obs[rows], states.alive[rows])

    def observe(self, states: LatentState) -> np.ndarray:
        """``[B, *O]`` the observations the model expects in ``states``."""
        return states.obs.cpu().numpy()


class TimedState(NamedTuple):
    """A batch of planning states with the steps each has taken since its episode began."""

    inner: Any
    """The wrapped dynamics' batch of ``B`` states."""
    steps: np.ndarray
    """``[B]`` int64 steps since the episode's reset."""


class TimeLimitedDynamics:
    """Dynamics whose states end at the env's time limit, as ``TimeLimit`` ends episodes.

    An env's true simulator and a learned model alike know nothing of the registered
    ``max_episode_steps``, so without this a planner near the end of an episode dreams
    past its last step and counts rewards that never come (a 15-step lookahead at step
    75 of an 80-step session is one third imagined). A state is ``done`` once it has
    taken ``limit`` steps.

    Args:
        dynamics: the wrapped dynamics (oracle or learned).
        limit: the episode's step limit.
    """

    def __init__(self, dynamics: Any, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        self.dynamics = dynamics
        self.limit = int(limit)
        self.action_space: gym.spaces.Space[Any] = dynamics.action_space

    def root(self, state: Any, steps_taken: int) -> TimedState:
        """A batch of states that have all taken ``steps_taken`` steps of the episode."""
        return TimedState(state, np.full(batch_size(state), steps_taken, dtype=np.int64))

    def step(self, states: TimedState, actions: np.ndarray) -> tuple[TimedState, Any, Any]:
        """One step of the wrapped dynamics; states at the limit come back ``done``."""
        inner, rewards, dones = self.dynamics.step(states.inner, actions)
        steps = states.steps + 1
        return TimedState(inner, steps), rewards, np.asarray(dones) | (steps >= self.limit)

    def step_common(
        self, states: TimedState, actions: np.ndarray, groups: int
    ) -> tuple[TimedState, Any, Any]:
        """:meth:`step` on common random numbers across ``groups`` blocks of rows.

        Where the wrapped dynamics cannot share draws, the draws are independent.
        """
        step_common = getattr(self.dynamics, "step_common", None)
        if step_common is None:
            return self.step(states, actions)
        inner, rewards, dones = step_common(states.inner, actions, groups)
        steps = states.steps + 1
        return TimedState(inner, steps), rewards, np.asarray(dones) | (steps >= self.limit)

    def take(self, states: TimedState, index: np.ndarray) -> TimedState:
        """Rows ``index`` of a batch."""
        return TimedState(self.dynamics.take(states.inner, index), states.steps[index])

    def continuation(self, states: TimedState) -> np.ndarray:
        """The wrapped dynamics' continuation probabilities (ones where it has none)."""
        return continuation(self.dynamics, states.inner)

    def observe(self, states: TimedState) -> np.ndarray:
        """What the wrapped dynamics show in ``states``.

        Raises:
            ValueError: the wrapped dynamics show no observations.
        """
        observe = getattr(self.dynamics, "observe", None)
        if observe is None:
            raise ValueError(
                f"{type(self.dynamics).__name__} has no observe(states): a base policy "
                "cannot act in it"
            )
        return np.asarray(observe(states.inner))

    def rollout(
        self, states: TimedState, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, TimedState]:
        """``H`` steps of every sequence in one call where the wrapped dynamics offer it."""
        horizon = actions.shape[1]
        if hasattr(self.dynamics, "rollout"):
            rewards, dones, inner = self.dynamics.rollout(states.inner, actions)
            depth = states.steps[:, None] + np.arange(1, horizon + 1)[None]
            final = TimedState(inner, states.steps + horizon)
            return rewards, np.asarray(dones, dtype=bool) | (depth >= self.limit), final
        rewards_t, dones_t = [], []
        for t in range(horizon):
            states, reward, done = self.step(states, actions[:, t])
            rewards_t.append(np.asarray(reward))
            dones_t.append(np.asarray(done))
        return np.stack(rewards_t, 1), np.stack(dones_t, 1), states


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
