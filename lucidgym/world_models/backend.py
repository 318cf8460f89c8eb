"""The class every world-model backend extends.

:class:`WorldModelBase` owns the spaces, the checks on what users pass in (raising
``ValueError`` naming the problem), the normalization statistics, the batched
:meth:`~WorldModelBase.rollout` loop and the shared loss plumbing; a backend fills in
its state, its filtering and dreaming steps and its loss. It also declares the facts
about the backend that other rooms need (:attr:`~WorldModelBase.STOCHASTIC_DREAMS`),
so that no caller has to name a backend's config fields.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import torch
from torch import Tensor, nn

from lucidgym.world_models.layers import (
    MAX_MAGNITUDE,
    ActionEncoder,
    Normalizer,
    done_bce,
    is_image_space,
    magnitude_limit,
    masked_mean,
)
from lucidgym.world_models.protocol import Prediction, Rollout, SequenceBatch


class WorldModelBase(nn.Module):
    """What every backend shares: spaces, checks, normalization and the rollout loop.

    A backend implements ``initial_state``, ``_observe`` and ``_imagine`` (on checked,
    encoded inputs) and ``loss``, which starts with :meth:`check_batch` (before any
    weight moves); the public methods check what users pass in once and raise
    ``ValueError`` naming the method, the argument and the expected shape.
    """

    name: ClassVar[str] = ""
    """The registry name of the backend."""

    config_class: ClassVar[type[Any]]
    """The backend's config dataclass (every field a keyword of ``make_world_model``)."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    """Named sets of config values (``make_world_model(..., preset=NAME)``)."""

    STOCHASTIC_DREAMS: ClassVar[dict[str, Any] | None] = None
    """Config values under which repeated dreams from one state differ, or ``None``.

    A planner that reads the spread of repeated dreams (as evidence that a plan is
    better than another only by chance) builds the model with these values; ``None``
    means the backend dreams alike every time, whatever its config.
    """

    def __init__(
        self,
        observation_space: gym.spaces.Space[Any],
        action_space: gym.spaces.Space[Any],
        config: Any,
    ) -> None:
        super().__init__()
        if not isinstance(observation_space, gym.spaces.Box):
            raise ValueError(f"world models need a Box observation space, got {observation_space}")
        self.observation_space = observation_space
        self.action_space = action_space
        self.config = config
        self.obs_shape: tuple[int, ...] = tuple(observation_space.shape)
        self.obs_dim = math.prod(self.obs_shape)
        self.image = is_image_space(observation_space)
        self.actions = ActionEncoder(action_space)
        self.norm = Normalizer(observation_space)
        # A plain float, not a buffer: saved checkpoints keep their keys.
        self._action_limit = magnitude_limit(action_space)

    @property
    def device(self) -> torch.device:
        """The device of the model's tensors."""
        return self.norm.obs_loc.device

    # ----------------------------------------------------------------- checks
    def check_obs(
        self, obs: Any, lead: tuple[int, ...] | None = None, method: str = "observe"
    ) -> Tensor:
        """``obs [*lead, *O]`` (``[B, *O]`` without ``lead``) as float32 on the model's device.

        Raises:
            ValueError: the shape is not that, or ``obs`` holds NaN, infinity or a
                magnitude beyond the normalization's limit (1e6, or the space's larger
                finite bounds); the message starts with ``method``.
        """
        obs = torch.as_tensor(obs, device=self.device)
        n = obs.dim() - len(self.obs_shape)
        lead_ok = n == 1 if lead is None else tuple(obs.shape[:n]) == lead
        if n < 0 or not lead_ok or tuple(obs.shape[n:]) != self.obs_shape:
            want = ("B",) if lead is None else lead
            raise _shape_error(method, "obs", (*want, *self.obs_shape), obs.shape)
        obs = obs.float()
        ok = obs.abs() <= self.norm.limit  # false for NaN too
        if not bool(ok.all()):
            raise _value_error(method, "obs", obs[~ok], self.norm.limit)
        return obs

    def check_action(
        self, action: Any, lead: dict[str, int | None], method: str, name: str = "action"
    ) -> Tensor:
        """``action`` of shape ``[*lead]`` (discrete) or ``[*lead, *A]`` (Box), checked.

        Args:
            action: what the caller passed.
            lead: the leading dimensions by name (``{"B": 4}``); ``None`` takes the size
                the caller gave (a rollout's horizon ``H``).
            method: the public method that was called (the message starts with it).
            name: the argument's name in that method.

        Returns:
            The action as ``ActionEncoder.check`` returns it (indices from 0, or floats).
        """
        action = torch.as_tensor(action, device=self.device)
        sizes = tuple(
            action.shape[i] if size is None and i < action.dim() else size
            for i, size in enumerate(lead.values())
        )
        if tuple(action.shape) != (*sizes, *self.actions.shape):
            given = ", ".join(f"{k}={v}" for k, v in lead.items() if v is not None)
            want = (*lead, *self.actions.shape)
            raise _shape_error(method, name, want, action.shape, f" ({given})")
        try:
            return self.actions.check(action, tuple(action.shape[: len(sizes)]), self.device)
        except ValueError as error:
            raise ValueError(f"{method}: {error}") from None

    def check_batch(self, batch: SequenceBatch, method: str = "loss") -> SequenceBatch:
        """``batch`` on the model's device with checked shapes and values.

        Values follow the replay buffer's rule for training data: obs, reward and a Box
        action finite and within :func:`~lucidgym.world_models.layers.magnitude_limit`.

        Raises:
            ValueError: a field's shape does not match ``obs [B, T, *O]`` (``action``
                ``[B, T]`` or ``[B, T, *A]``, the others ``[B, T]``), or a value breaks
                that rule; the message starts with ``method`` and names the field.
        """
        obs = torch.as_tensor(batch.obs, device=self.device)
        if obs.dim() != 2 + len(self.obs_shape) or tuple(obs.shape[2:]) != self.obs_shape:
            raise _shape_error(method, "batch.obs", ("B", "T", *self.obs_shape), obs.shape)
        lead = tuple(obs.shape[:2])
        given = f" (B={lead[0]}, T={lead[1]} from batch.obs)"
        action = torch.as_tensor(batch.action, device=self.device)
        if tuple(action.shape) != lead + self.actions.shape:
            want = ("B", "T", *self.actions.shape)
            raise _shape_error(method, "batch.action", want, action.shape, given)
        fields = [torch.as_tensor(f, device=self.device) for f in batch[2:]]
        for name, field in zip(SequenceBatch._fields[2:], fields, strict=True):
            if tuple(field.shape) != lead:
                raise _shape_error(method, f"batch.{name}", ("B", "T"), field.shape, given)
        reward, terminal, is_first, valid = fields
        if self.actions.discrete:
            # Rows without a transition may hold any filler action; they are masked.
            action = (action.long() - self.actions.start).clamp(0, self.actions.n - 1)
        # The buffer's rule for training data (finite, of plausible magnitude), in one
        # synchronisation for the whole batch.
        checks = [("obs", obs.float(), self.norm.limit), ("reward", reward.float(), MAX_MAGNITUDE)]
        if not self.actions.discrete:
            checks.append(("action", action.float(), self._action_limit))
        ok = [values.abs() <= limit for _, values, limit in checks]
        if not bool(torch.stack([o.all() for o in ok]).all()):
            for (name, values, limit), o in zip(checks, ok, strict=True):
                if not bool(o.all()):
                    raise _value_error(method, f"batch.{name}", values[~o], limit)
        return SequenceBatch(
            obs.float(),
            action if self.actions.discrete else action.float(),
            reward.float(),
            terminal.float(),
            is_first.bool(),
            valid.bool(),
        )

    # ------------------------------------------------------------- public API
    def fit_normalization(self, batch: SequenceBatch) -> None:
        """Set the observation, delta and reward statistics from data."""
        self.norm.fit(self.check_batch(batch, "fit_normalization"))

    def observe(self, state: Any, action: Any, obs: Any) -> tuple[Any, Prediction]:
        """Fold a real ``obs [B, *O]`` into ``state``; ``action`` ``None`` starts episodes.

        Returns the new state and what the model predicted for ``obs`` before seeing it.
        """
        obs = self.check_obs(obs)
        batch = obs.shape[0]
        self._check_state(state, batch, "observe")
        encoded = None
        if action is not None:
            encoded = self.actions.encode(self.check_action(action, {"B": batch}, "observe"))
        return self._observe(state, encoded, obs)

    def imagine(self, state: Any, action: Any) -> tuple[Any, Prediction]:
        """One dreamed step: ``action [B]`` or ``[B, A]`` -> (state, prediction)."""
        batch = self._check_state(state, None, "imagine")
        encoded = self.actions.encode(self.check_action(action, {"B": batch}, "imagine"))
        return self._imagine(state, encoded)

    def rollout(self, state: Any, actions: Any) -> Rollout:
        """Dream ``H`` steps from ``B`` states: ``actions [B, H]`` or ``[B, H, A]``."""
        batch = self._check_state(state, None, "rollout")
        checked = self.check_action(actions, {"B": batch, "H": None}, "rollout", "actions")
        horizon = checked.shape[1]
        encoded = self.actions.encode(checked)
        preds = []
        for h in range(horizon):
            state, pred = self._imagine(state, encoded[:, h])
            preds.append(pred)
        unc = None if preds and preds[0].uncertainty is None else [p.uncertainty for p in preds]
        empty = torch.zeros(batch, 0, device=self.device)
        return Rollout(
            obs=torch.stack([p.obs for p in preds], 1)
            if preds
            else torch.zeros(batch, 0, *self.obs_shape, device=self.device),
            reward=torch.stack([p.reward for p in preds], 1) if preds else empty,
            done=torch.stack([p.done for p in preds], 1) if preds else empty,
            uncertainty=torch.stack(unc, 1) if unc else None,  # type: ignore[arg-type]
            state=state,
        )

    # ---------------------------------------------------------------- helpers
    def _check_state(self, state: Any, batch: int | None, method: str) -> int:
        template = self.initial_state(1)
        if not isinstance(state, type(template)):
            kind = type(template).__name__
            raise ValueError(f"{method}: state must be a {kind}, got {type(state).__name__}")
        size = int(state[0].shape[0])
        for name, field, like in zip(template._fields, state, template, strict=True):
            if field.shape[1:] != like.shape[1:] or field.shape[0] != size:
                want = (size, *like.shape[1:])
                raise ValueError(
                    f"{method}: state.{name} has shape {tuple(field.shape)}, expected {want}"
                )
        if batch is not None and size != batch:
            raise ValueError(f"{method}: state has batch {size} but obs has batch {batch}")
        return size

    def initial_state(self, batch_size: int) -> Any:
        """The state before any observation (a NamedTuple of ``[batch_size, ...]``)."""
        raise NotImplementedError

    def _observe(self, state: Any, action: Tensor | None, obs: Tensor) -> tuple[Any, Prediction]:
        raise NotImplementedError

    def _imagine(self, state: Any, action: Tensor) -> tuple[Any, Prediction]:
        raise NotImplementedError

    def prior_prediction(self, batch: int) -> Prediction:
        """The guess for a first observation: the data mean, reward 0, done 0."""
        obs = self.norm.obs_loc.expand(batch, *self.obs_shape)
        zeros = torch.zeros(batch, device=self.device)
        return Prediction(obs, zeros, zeros, None)

    def decode(
        self,
        obs: Tensor,
        delta: Tensor,
        reward: Tensor,
        done_logit: Tensor,
        uncertainty: Tensor | None = None,
    ) -> Prediction:
        """A :class:`Prediction` from a head's normalized outputs (what :meth:`one_step_loss` fits).

        Args:
            obs: ``[N, *O]`` observations the prediction starts from (env scale).
            delta: ``[N, D]`` normalized change to the next observation.
            reward: ``[N]`` normalized reward.
            done_logit: ``[N]`` termination logits.
            uncertainty: ``[N]`` or ``None``, passed through.
        """
        next_obs = obs + delta.view(-1, *self.obs_shape) * self.norm.delta_scale
        if self.image:
            next_obs = next_obs.clamp(0.0, 255.0)
        reward = reward * self.norm.reward_scale + self.norm.reward_loc
        return Prediction(next_obs, reward, torch.sigmoid(done_logit), uncertainty)

    def one_step_loss(
        self, batch: SequenceBatch, delta: Tensor, reward: Tensor, done_logit: Tensor
    ) -> tuple[Tensor, dict[str, float]]:
        """Losses of a per-row head, weighted by the config's ``*_scale`` fields.

        Args:
            batch: the ``[B, T, ...]`` batch the head read.
            delta: ``[B, T, D]`` predicted normalized change to the next observation.
            reward: ``[B, T]`` predicted normalized reward.
            done_logit: ``[B, T]`` termination logits.

        Returns:
            ``(total, {"loss/recon", "loss/reward", "loss/done", "loss/total"})``; rows
            without a following transition (``valid`` false) are masked out.
        """
        b, t = batch.reward.shape
        target = (batch.obs[:, 1:] - batch.obs[:, :-1]) / self.norm.delta_scale
        err = (delta[:, :-1] - target.reshape(b, t - 1, -1)).pow(2).mean(-1)
        reward_target = (batch.reward - self.norm.reward_loc) / self.norm.reward_scale
        valid = batch.valid
        terms = {
            "loss/recon": masked_mean(err, valid[:, :-1]),
            "loss/reward": masked_mean((reward - reward_target).pow(2), valid),
            "loss/done": masked_mean(
                done_bce(done_logit, batch.terminal, self.config.terminal_weight), valid
            ),
        }
        return self.combine(terms, self.head_scales())

    def head_scales(self) -> dict[str, float]:
        """The weights of the three head losses, from the config's ``*_scale`` fields."""
        cfg = self.config
        return {
            "loss/recon": cfg.recon_scale,
            "loss/reward": cfg.reward_scale,
            "loss/done": cfg.done_scale,
        }

    @staticmethod
    def combine(
        terms: dict[str, Tensor], scales: dict[str, float]
    ) -> tuple[Tensor, dict[str, float]]:
        """Weighted sum of loss ``terms``, and every value (with ``loss/total``) as floats.

        The floats cost one device synchronisation per call.
        """
        assert terms.keys() == scales.keys(), (sorted(terms), sorted(scales))
        parts = [scales[k] * v for k, v in terms.items()]
        total = torch.stack(parts).sum()
        values = torch.stack([total.detach()] + [v.detach().float() for v in terms.values()])
        return total, dict(zip(["loss/total", *terms], values.tolist(), strict=True))


def _shape_error(
    method: str, name: str, want: tuple[Any, ...], got: Any, given: str = ""
) -> ValueError:
    """``"<method>: <name> must be [B, 4] for this model<given>, got [4, 1, 4]"``."""
    want_text = ", ".join(map(str, want))
    got_text = ", ".join(map(str, tuple(got)))
    return ValueError(
        f"{method}: {name} must be [{want_text}] for this model{given}, got [{got_text}]"
    )


def _value_error(method: str, name: str, bad: Tensor, limit: float) -> ValueError:
    """``"<method>: <name> contains inf (NaN, infinity and magnitudes beyond 1e+06 ...)"``."""
    return ValueError(
        f"{method}: {name} contains {float(bad.reshape(-1)[0]):g} (NaN, infinity and "
        f"magnitudes beyond {limit:g} are refused as implausible)"
    )
