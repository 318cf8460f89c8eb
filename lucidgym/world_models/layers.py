"""Shared pieces of the world-model backends.

Network blocks (MLPs, a CNN encoder and decoder for image observations), action
encoding (one-hot for ``Discrete``, raw floats for ``Box``), in-model normalization
kept as registered buffers (saved with the ``state_dict``), input checks, and
:class:`WorldModelBase`, which every backend extends: it owns the spaces, the checks
on what users pass in, and the batched :meth:`~WorldModelBase.rollout` loop.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lucidgym.world_models.protocol import Prediction, Rollout, SequenceBatch


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, norm: bool = True) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units (Linear, LayerNorm, SiLU), then a Linear."""
    blocks: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden) if norm else nn.Identity()]
        blocks.append(nn.SiLU())
        width = hidden
    blocks.append(nn.Linear(width, out_dim))
    return nn.Sequential(*blocks)


def is_image_space(space: gym.spaces.Box) -> bool:
    """Whether ``space`` holds channels-first ``uint8`` images ``(C, H, W)``."""
    return len(space.shape) == 3 and space.dtype == np.uint8


def _image_stages(height: int, width: int) -> int:
    """How many stride-2 stages bring an image down to about 4x4."""
    stages = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > 4:
        height, width, stages = height // 2, width // 2, stages + 1
    return stages


class ConvEncoder(nn.Module):
    """``[N, C, H, W]`` normalized images -> ``[N, out_dim]`` (stride-2 convolutions)."""

    def __init__(self, shape: tuple[int, ...], depth: int, out_dim: int) -> None:
        super().__init__()
        channels, height, width = shape
        stages = _image_stages(height, width)
        if stages < 2:
            raise ValueError(
                f"image observations of shape {shape} are too small for the CNN encoder: "
                "height and width must be divisible by 4 and at least 8"
            )
        layers: list[nn.Module] = []
        for i in range(stages):
            out_ch = depth * 2 ** min(i, 3)
            conv = nn.Conv2d(channels, out_ch, 4, stride=2, padding=1)
            layers += [conv, nn.GroupNorm(1, out_ch), nn.SiLU()]
            channels = out_ch
        self.convs = nn.Sequential(*layers)
        flat = channels * (height >> stages) * (width >> stages)
        # The embedding is normalized: frames that are mostly background would otherwise
        # give embeddings too faint to be heard beside the recurrent state they join.
        self.out = nn.Sequential(nn.Linear(flat, out_dim), nn.LayerNorm(out_dim))

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W] -> [N, out_dim]``."""
        return self.out(self.convs(x).flatten(1))


class ConvDecoder(nn.Module):
    """``[N, in_dim]`` features -> ``[N, C, H, W]`` normalized images (transposed convs)."""

    def __init__(self, in_dim: int, shape: tuple[int, ...], depth: int) -> None:
        super().__init__()
        channels, height, width = shape
        stages = _image_stages(height, width)
        if stages < 2:
            raise ValueError(f"image observations of shape {shape} are too small for the decoder")
        widths = [depth * 2 ** min(i, 3) for i in range(stages)]
        self.start = (widths[-1], height >> stages, width >> stages)
        self.inp = nn.Linear(in_dim, math.prod(self.start))
        layers: list[nn.Module] = []
        for i in reversed(range(stages)):
            out_ch = widths[i - 1] if i > 0 else channels
            layers.append(nn.ConvTranspose2d(widths[i], out_ch, 4, stride=2, padding=1))
            if i > 0:
                layers += [nn.GroupNorm(1, out_ch), nn.SiLU()]
        self.deconvs = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, in_dim] -> [N, C, H, W]``."""
        return self.deconvs(self.inp(x).view(-1, *self.start))


class Normalizer(nn.Module):
    """Observation, delta and reward statistics as buffers (saved with the model).

    Vector observations start from the space's bounds where they are finite (else
    location 0, scale 1) until :meth:`fit` sees data; images always scale by 1/255.
    """

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__()
        self.image = is_image_space(space)
        shape = tuple(space.shape)
        loc, scale = torch.zeros(shape), torch.ones(shape)
        if self.image:
            scale.fill_(255.0)
        else:
            low = torch.as_tensor(np.asarray(space.low, dtype=np.float64)).float()
            high = torch.as_tensor(np.asarray(space.high, dtype=np.float64)).float()
            finite = torch.isfinite(low) & torch.isfinite(high) & (high > low)
            loc = torch.where(finite, (low + high) / 2, loc)
            scale = torch.where(finite, (high - low) / 2, scale)
        self.obs_loc: Tensor
        self.obs_scale: Tensor
        self.delta_scale: Tensor
        self.reward_loc: Tensor
        self.reward_scale: Tensor
        self.register_buffer("obs_loc", loc)
        self.register_buffer("obs_scale", scale)
        self.register_buffer("delta_scale", scale.clone())
        self.register_buffer("reward_loc", torch.zeros(1))
        self.register_buffer("reward_scale", torch.ones(1))

    def obs(self, obs: Tensor) -> Tensor:
        """Environment scale -> normalized (same shape)."""
        return (obs - self.obs_loc) / self.obs_scale

    def unobs(self, x: Tensor) -> Tensor:
        """Normalized -> environment scale (images clamped to 0..255)."""
        out = x * self.obs_scale + self.obs_loc
        return out.clamp(0.0, 255.0) if self.image else out

    @torch.no_grad()
    def fit(self, batch: SequenceBatch) -> None:
        """Set the statistics from a batch (transitions masked by ``valid``)."""
        obs = batch.obs.to(self.obs_loc.device, torch.float32)
        valid = batch.valid.to(self.obs_loc.device)
        reward = batch.reward.to(self.obs_loc.device, torch.float32)[valid]
        if reward.numel() > 1:
            self.reward_loc.fill_(reward.mean())
            self.reward_scale.fill_(reward.std().clamp_min(1e-2))
        if self.image:
            return
        flat = obs.reshape(-1, *self.obs_loc.shape)
        std = flat.std(0) if flat.shape[0] > 1 else torch.ones_like(self.obs_loc)
        # Near-constant signals get a floor relative to the others, so that a change
        # never seen in the data cannot blow up to thousands of normalized units.
        floor = max(1e-3, 0.1 * float(std.mean()))
        self.obs_loc.copy_(flat.mean(0))
        self.obs_scale.copy_(std.clamp_min(floor))
        step = valid[:, :-1]
        delta = (obs[:, 1:] - obs[:, :-1])[step]
        if delta.shape[0] > 0:
            rms = delta.pow(2).mean(0).sqrt()
            self.delta_scale.copy_(torch.maximum(rms, 1e-3 * self.obs_scale))


class ActionEncoder(nn.Module):
    """Checks actions and turns them into floats: one-hot ``[B, n]`` or raw ``[B, A]``."""

    def __init__(self, space: gym.spaces.Space[Any]) -> None:
        super().__init__()
        if isinstance(space, gym.spaces.Discrete):
            self.shape: tuple[int, ...] = ()
            self.discrete, self.n = True, int(space.n)
            self.start = int(space.start)
            self.dim = self.n
        elif isinstance(space, gym.spaces.Box):
            self.discrete, self.n = False, 0
            self.shape = tuple(space.shape)
            self.start = 0
            self.dim = math.prod(self.shape)
        else:
            raise ValueError(f"world models support Discrete or Box action spaces, got {space}")

    def check(self, action: Any, lead: tuple[int, ...], device: torch.device) -> Tensor:
        """Validated ``action`` of shape ``[*lead]`` (discrete) or ``[*lead, *A]``."""
        action = torch.as_tensor(action, device=device)
        expected = lead + self.shape
        if tuple(action.shape) != expected:
            raise ValueError(
                f"action has shape {tuple(action.shape)}, expected {expected} for {lead} rows"
            )
        if self.discrete:
            if action.is_floating_point():
                raise ValueError(f"discrete actions must be integers, got dtype {action.dtype}")
            index = action.long() - self.start
            if action.numel() and bool(((index < 0) | (index >= self.n)).any()):
                raise ValueError(
                    f"discrete actions must lie in [{self.start}, {self.start + self.n})"
                )
            return index
        action = action.float()
        if bool(torch.isnan(action).any()):
            raise ValueError("action contains NaN")
        return action

    def encode(self, action: Tensor) -> Tensor:
        """Checked actions ``[*lead]`` / ``[*lead, *A]`` -> floats ``[*lead, dim]``."""
        if self.discrete:
            return F.one_hot(action.long(), self.n).float()
        return action.reshape(*action.shape[: action.dim() - len(self.shape)], self.dim).float()


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the entries where ``mask`` (same shape) is true."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


class WorldModelBase(nn.Module):
    """What every backend shares: spaces, checks, normalization and the rollout loop.

    A backend implements ``initial_state``, ``_observe`` and ``_imagine`` (on checked,
    encoded inputs) and ``loss``; the public methods check what users pass in once
    and raise ``ValueError`` naming the problem.
    """

    name: ClassVar[str] = ""
    """The registry name of the backend."""

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

    @property
    def device(self) -> torch.device:
        """The device of the model's tensors."""
        return self.norm.obs_loc.device

    # ----------------------------------------------------------------- checks
    def check_obs(self, obs: Any, lead: tuple[int, ...] | None = None) -> Tensor:
        """``obs [*lead, *O]`` as float32 on the model's device, or ``ValueError``."""
        obs = torch.as_tensor(obs, device=self.device)
        n = obs.dim() - len(self.obs_shape)
        if n < 1 or tuple(obs.shape[n:]) != self.obs_shape or (lead and obs.shape[:n] != lead):
            want = (lead or ("B",)) + self.obs_shape
            raise ValueError(f"obs has shape {tuple(obs.shape)}, expected {want}")
        obs = obs.float()
        if bool(torch.isnan(obs).any()):
            raise ValueError("obs contains NaN")
        return obs

    def check_batch(self, batch: SequenceBatch) -> SequenceBatch:
        """``batch`` on the model's device with checked shapes and no NaN."""
        obs = torch.as_tensor(batch.obs, device=self.device)
        if obs.dim() != 2 + len(self.obs_shape) or tuple(obs.shape[2:]) != self.obs_shape:
            raise ValueError(
                f"batch.obs has shape {tuple(obs.shape)}, expected (B, T, *{self.obs_shape})"
            )
        lead = tuple(obs.shape[:2])
        fields = [torch.as_tensor(f, device=self.device) for f in batch[2:]]
        for name, field in zip(SequenceBatch._fields[2:], fields, strict=True):
            if tuple(field.shape) != lead:
                raise ValueError(f"batch.{name} has shape {tuple(field.shape)}, expected {lead}")
        reward, terminal, is_first, valid = fields
        action = torch.as_tensor(batch.action, device=self.device)
        if self.actions.discrete:
            # Rows without a transition may hold any filler action; they are masked.
            action = (action.long() - self.actions.start).clamp(0, self.actions.n - 1)
        # One synchronisation for every NaN check of the batch.
        nan = torch.isnan(obs.float()).any() | torch.isnan(reward.float()).any()
        if not self.actions.discrete:
            nan = nan | torch.isnan(action.float()).any()
        if bool(nan):
            raise ValueError("batch contains NaN (obs, action or reward)")
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
        self.norm.fit(self.check_batch(batch))

    def observe(self, state: Any, action: Any, obs: Any) -> tuple[Any, Prediction]:
        """Fold a real ``obs [B, *O]`` into ``state``; ``action`` ``None`` starts episodes.

        Returns the new state and what the model predicted for ``obs`` before seeing it.
        """
        obs = self.check_obs(obs)
        lead = (obs.shape[0],)
        self._check_state(state, lead[0])
        encoded = None
        if action is not None:
            encoded = self.actions.encode(self.actions.check(action, lead, self.device))
        return self._observe(state, encoded, obs)

    def imagine(self, state: Any, action: Any) -> tuple[Any, Prediction]:
        """One dreamed step: ``action [B]`` or ``[B, A]`` -> (state, prediction)."""
        batch = self._check_state(state, None)
        encoded = self.actions.encode(self.actions.check(action, (batch,), self.device))
        return self._imagine(state, encoded)

    def rollout(self, state: Any, actions: Any) -> Rollout:
        """Dream ``H`` steps from ``B`` states: ``actions [B, H]`` or ``[B, H, A]``."""
        batch = self._check_state(state, None)
        actions = torch.as_tensor(actions, device=self.device)
        if actions.dim() < 2:
            raise ValueError(f"actions has shape {tuple(actions.shape)}, expected (B, H, ...)")
        horizon = actions.shape[1]
        encoded = self.actions.encode(self.actions.check(actions, (batch, horizon), self.device))
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
    def _check_state(self, state: Any, batch: int | None) -> int:
        template = self.initial_state(1)
        if not isinstance(state, type(template)):
            kind = type(template).__name__
            raise ValueError(f"state must be a {kind}, got {type(state).__name__}")
        size = int(state[0].shape[0])
        for name, field, like in zip(template._fields, state, template, strict=True):
            if field.shape[1:] != like.shape[1:] or field.shape[0] != size:
                want = (size, *like.shape[1:])
                raise ValueError(f"state.{name} has shape {tuple(field.shape)}, expected {want}")
        if batch is not None and size != batch:
            raise ValueError(f"state has batch {size} but obs has batch {batch}")
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
                F.binary_cross_entropy_with_logits(done_logit, batch.terminal, reduction="none"),
                valid,
            ),
        }
        cfg = self.config
        scales = {
            "loss/recon": cfg.recon_scale,
            "loss/reward": cfg.reward_scale,
            "loss/done": cfg.done_scale,
        }
        return self.combine(terms, scales)

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
