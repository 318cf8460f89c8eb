"""The world-model protocol and the types every backend shares.

Shapes: ``B`` batch, ``T`` time, ``H`` horizon, ``*O`` the observation shape, and an
action is ``[B]`` int64 for a discrete space or ``[B, A]`` float32 for a Box.

Sequences follow one convention everywhere (buffer, losses, evaluation): row ``t`` of
a :class:`SequenceBatch` holds ``obs_t``, the ``action_t`` taken after seeing it, and
the ``reward_t`` / ``terminal_t`` that action led to. The last observation of an
episode is stored as a row of its own with ``valid = False`` (no action follows it);
the row after it starts the next episode (``is_first = True``). Models reset their
state where ``is_first`` and mask transition losses where ``not valid``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor


class Prediction(NamedTuple):
    """What a model expects of one step (batch ``B``)."""

    obs: Tensor
    """``[B, *O]`` predicted observation, in the environment's own scale."""
    reward: Tensor
    """``[B]`` predicted reward of the step."""
    done: Tensor
    """``[B]`` predicted probability that the step ends the episode (terminated)."""
    uncertainty: Tensor | None = None
    """``[B]`` epistemic or prior uncertainty where the backend has one, else ``None``."""


class Rollout(NamedTuple):
    """An open-loop dream of ``H`` steps from a batch of ``B`` states."""

    obs: Tensor
    """``[B, H, *O]`` predicted observations after each action."""
    reward: Tensor
    """``[B, H]`` predicted rewards."""
    done: Tensor
    """``[B, H]`` predicted termination probabilities."""
    uncertainty: Tensor | None
    """``[B, H]`` uncertainty per step where the backend has one, else ``None``."""
    state: Any
    """The model state after the last action (same type as the backend's ``State``)."""


class SequenceBatch(NamedTuple):
    """``B`` sequences of ``T`` rows (see the module docstring for the convention)."""

    obs: Tensor
    """``[B, T, *O]`` float32 observations."""
    action: Tensor
    """``[B, T]`` int64 or ``[B, T, A]`` float32: the action taken after ``obs_t``."""
    reward: Tensor
    """``[B, T]`` float32: reward of ``action_t``."""
    terminal: Tensor
    """``[B, T]`` float32 in {0, 1}: ``action_t`` ended the episode (terminated)."""
    is_first: Tensor
    """``[B, T]`` bool: ``obs_t`` starts an episode."""
    valid: Tensor
    """``[B, T]`` bool: a transition ``obs_t -> obs_{t+1}`` follows this row."""

    def to(self, device: torch.device | str) -> SequenceBatch:
        """The same batch on ``device``."""
        return SequenceBatch(*(field.to(device) for field in self))


@runtime_checkable
class WorldModel(Protocol):
    """A learned model of an environment's dynamics, batched over ``B``.

    Every backend's ``State`` is a typed container (a ``NamedTuple`` of tensors with
    leading dimension ``B``), so :func:`lucidgym.batched.batch_take` indexes any of them.

    Input of the wrong shape (an extra axis, a batch that does not match the state, an
    action sequence one row short), or holding NaN or infinity, is refused with a
    ``ValueError`` that names the method, the argument and the shape the model expects,
    before anything changes: ``"observe: obs must be [B, 20] for this model, got [4, 1,
    20]"``. :class:`~lucidgym.world_models.backend.WorldModelBase` makes these checks
    once for every backend.
    """

    def initial_state(self, batch_size: int) -> Any:
        """The state before any observation: a batch of ``batch_size``."""
        ...

    def observe(self, state: Any, action: Tensor | None, obs: Tensor) -> tuple[Any, Prediction]:
        """Filter: fold a real observation into the state.

        Args:
            state: batch of ``B`` states.
            action: the action that led to ``obs`` (``[B]`` or ``[B, A]``), or ``None``
                when ``obs`` starts an episode.
            obs: ``[B, *O]`` the observation that followed.

        Returns:
            ``(state, prediction)``: the updated state, and what the model predicted
            for this step before it saw ``obs`` (its error is the model's surprise).
        """
        ...

    def imagine(self, state: Any, action: Tensor) -> tuple[Any, Prediction]:
        """One step without an observation: ``action [B]`` or ``[B, A]``."""
        ...

    def rollout(self, state: Any, actions: Tensor) -> Rollout:
        """Dream ``H`` steps open-loop: ``actions [B, H]`` or ``[B, H, A]``."""
        ...

    def loss(self, batch: SequenceBatch) -> tuple[Tensor, dict[str, float]]:
        """Training loss on a batch, and its terms by name (``loss/recon``, ...)."""
        ...
