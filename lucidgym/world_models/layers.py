"""Layers the world-model backends build from.

Network blocks (MLPs, a CNN encoder and decoder for image observations), action
encoding and checking (one-hot for ``Discrete``, raw floats for ``Box``), in-model
normalization kept as registered buffers (saved with the ``state_dict``), a masked
mean for losses, and the checks of data values that every entry point of training data
shares (:func:`check_values`, :func:`check_discrete_actions`, the plausible magnitude
:func:`magnitude_limit`). The class every backend extends is in
:mod:`lucidgym.world_models.backend`.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lucidgym.world_models.protocol import SequenceBatch

MAX_MAGNITUDE = 1e6
"""The largest magnitude of an observation, reward or ``Box`` action in training data.

A ``Box`` space whose finite bounds reach further raises the limit for its values
(:func:`magnitude_limit`). :class:`Normalizer` says why larger values are refused.
"""

_FLOAT32_SAFE = 1e15
"""Above this, squares summed over thousands of samples overflow float32 statistics;
bounds that large (some envs declare float32's maximum) stand for "unbounded"."""


def magnitude_limit(space: gym.spaces.Space[Any] | None) -> float:
    """The largest magnitude a value of ``space`` may plausibly have in training data.

    :data:`MAX_MAGNITUDE`, or the largest finite bound of a ``Box`` where that is
    larger, up to 1e15.
    """
    limit = MAX_MAGNITUDE
    if isinstance(space, gym.spaces.Box):
        bounds = np.concatenate([np.ravel(space.low), np.ravel(space.high)]).astype(np.float64)
        bounds = np.abs(bounds[np.isfinite(bounds)])
        if bounds.size:
            limit = max(limit, float(bounds.max()))
    return min(limit, _FLOAT32_SAFE)


def _show(value: Any) -> str:
    """A number as messages show it (``NaN``, ``inf``, ``1e+30``, ``2.7``)."""
    value = float(value)
    return "NaN" if math.isnan(value) else f"{value:g}"


def first_false(ok: np.ndarray) -> tuple[int, tuple[int, ...]]:
    """The row and the index within the row of the first false entry of ``ok [N, ...]``."""
    flat = int(np.flatnonzero(~ok)[0])
    index = np.unravel_index(flat, ok.shape)
    return int(index[0]), tuple(int(i) for i in index[1:])


def check_values(
    field: str, values: np.ndarray, limit: float, where: str, first_step: int = 0
) -> None:
    """Refuse a NaN, an infinity or a magnitude beyond ``limit`` in ``values [N, ...]``.

    Raises:
        ValueError: ``"{where}, step {first_step + n}: {field}[i] is inf (...)"`` for
            the first such entry, row ``n`` and index ``i`` within the row.
    """
    ok = np.abs(values) <= limit  # false for NaN too
    if ok.all():
        return
    row, index = first_false(ok)
    value = values[(row,) + index]
    name = field + "".join(f"[{i}]" for i in index)
    why = (
        "NaN and infinity are refused"
        if not np.isfinite(value)
        else f"beyond {limit:g} in magnitude: implausible, and one such value would ruin "
        "the normalization statistics"
    )
    raise ValueError(f"{where}, step {first_step + row}: {name} is {_show(value)} ({why})")


def check_discrete_actions(
    action: np.ndarray, space: gym.spaces.Discrete, where: str, first_step: int = 0
) -> None:
    """Refuse ``action [N]`` entries that are not whole numbers inside ``space``.

    Raises:
        ValueError: naming ``where``, the step and the action, for a NaN, a fraction
            or a number outside the space (or a dtype that is not numeric).
    """
    if action.dtype.kind not in "biuf":
        raise ValueError(f"{where}: actions of dtype {action.dtype} are not integers")
    start, n = int(space.start), int(space.n)
    if action.dtype.kind == "f":
        ok = np.isfinite(action) & (action == np.round(action))
        if not ok.all():
            row, _ = first_false(ok)
            raise ValueError(
                f"{where}, step {first_step + row}: action {_show(action[row])} is not a "
                f"whole number (actions of {space} are integers)"
            )
    ok = (action >= start) & (action < start + n)
    if not ok.all():
        row, _ = first_false(ok)
        raise ValueError(
            f"{where}, step {first_step + row}: action {_show(action[row])} is outside the "
            f"action space {space} (valid: {start} to {start + n - 1})"
        )


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

    The statistics are the plain mean and standard deviation, which a single outlier
    dominates: one observation of 1e30 gives an infinite scale (its square overflows
    float32) and a model that predicts NaN. Robust statistics (median, quantiles) would
    change the numbers of every model trained on valid data, so the outlier is refused
    instead: :meth:`fit`, like the replay buffer that data enters through, refuses
    observations and rewards beyond :func:`magnitude_limit` (1e6, or the space's larger
    finite bounds) as implausible, and NaN or infinity.
    """

    def __init__(self, space: gym.spaces.Box) -> None:
        super().__init__()
        self.image = is_image_space(space)
        # A plain float, not a buffer: the saved state_dict keeps its keys.
        self.limit = magnitude_limit(space)
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
        """Set the statistics from a batch (transitions masked by ``valid``).

        Raises:
            ValueError: an observation or a reward is beyond :func:`magnitude_limit` in
                magnitude, NaN or infinite (statistics of it would be useless or NaN).
        """
        obs = batch.obs.to(self.obs_loc.device, torch.float32)
        valid = batch.valid.to(self.obs_loc.device)
        reward = batch.reward.to(self.obs_loc.device, torch.float32)[valid]
        self._check_plausible(obs, reward)
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

    def _check_plausible(self, obs: Tensor, reward: Tensor) -> None:
        # "not <=" also catches NaN; one synchronisation for both checks.
        bad_obs, bad_reward = ~(obs.abs() <= self.limit), ~(reward.abs() <= MAX_MAGNITUDE)
        if not bool(bad_obs.any() | bad_reward.any()):
            return
        what, values, limit = (
            ("an observation", obs[bad_obs], self.limit)
            if bool(bad_obs.any())
            else ("a reward", reward[bad_reward], MAX_MAGNITUDE)
        )
        raise ValueError(
            f"fit_normalization: {what} of {float(values[0]):g} is not a finite value "
            f"within {limit:g} in magnitude (implausible; one such value would ruin the "
            "normalization statistics)"
        )


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
        if not bool(torch.isfinite(action).all()):
            raise ValueError("action contains NaN or infinity")
        return action

    def encode(self, action: Tensor) -> Tensor:
        """Checked actions ``[*lead]`` / ``[*lead, *A]`` -> floats ``[*lead, dim]``."""
        if self.discrete:
            return F.one_hot(action.long(), self.n).float()
        return action.reshape(*action.shape[: action.dim() - len(self.shape)], self.dim).float()


def done_bce(logit: Tensor, terminal: Tensor, terminal_weight: float = 1.0) -> Tensor:
    """Per-step binary cross-entropy of termination ``logit`` against ``terminal`` (0/1).

    ``terminal_weight`` multiplies the loss of the terminal steps (BCE's ``pos_weight``):
    terminals are rare (one in 10 to 500 steps of CartPole-v1), and unweighted a head
    stays under-confident on them.
    """
    if terminal_weight == 1.0:
        return F.binary_cross_entropy_with_logits(logit, terminal, reduction="none")
    weight = torch.as_tensor(terminal_weight, dtype=logit.dtype, device=logit.device)
    return F.binary_cross_entropy_with_logits(logit, terminal, reduction="none", pos_weight=weight)


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the entries where ``mask`` (same shape) is true."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def symlog(x: Tensor) -> Tensor:
    """``sign(x) * log(1 + |x|)``: identity-like near 0, logarithmic for large values."""
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: Tensor) -> Tensor:
    """The inverse of :func:`symlog`."""
    return torch.sign(x) * torch.expm1(x.abs())


class TwoHot(nn.Module):
    """A scalar as a softmax over ``bins`` buckets of its :func:`symlog` (DreamerV3).

    The buckets are evenly spaced over ``[-limit, limit]`` in symlog space (so about
    ``±e^limit`` in value). A target is encoded as the two buckets around its symlog,
    weighted by nearness (:meth:`encode`); a head's logits are trained on it with cross
    entropy (:meth:`loss`), and read as the symexp of the expected bucket
    (:meth:`decode`). Regression in this form is indifferent to the targets' scale:
    rewards of 0.01 and of 1,000 are learnt alike, with no normalization statistics.
    """

    def __init__(self, bins: int = 255, limit: float = 20.0) -> None:
        super().__init__()
        if bins < 2 or not limit > 0:
            raise ValueError(f"TwoHot: needs bins >= 2 and limit > 0, got {bins}, {limit}")
        self.bins: Tensor
        self.register_buffer("bins", torch.linspace(-limit, limit, bins), persistent=False)
        # As Python numbers, so that encoding never waits on the device for them.
        self._low, self._high = float(self.bins[0]), float(self.bins[-1])
        self._step = float(self.bins[1] - self.bins[0])

    def encode(self, target: Tensor) -> Tensor:
        """``[...]`` values -> ``[..., bins]`` weights on the two buckets around each symlog."""
        x = symlog(target).clamp(self._low, self._high)
        low = ((x - self._low) / self._step).floor().clamp(max=len(self.bins) - 2).long()
        upper = (x - self.bins[low]) / self._step
        weights = torch.zeros(*x.shape, len(self.bins), dtype=x.dtype, device=x.device)
        weights.scatter_(-1, low.unsqueeze(-1), (1.0 - upper).unsqueeze(-1))
        weights.scatter_add_(-1, (low + 1).unsqueeze(-1), upper.unsqueeze(-1))
        return weights

    def decode(self, logits: Tensor) -> Tensor:
        """``[..., bins]`` logits -> ``[...]`` values."""
        return symexp((logits.softmax(-1) * self.bins).sum(-1))

    def loss(self, logits: Tensor, target: Tensor) -> Tensor:
        """``[...]`` cross entropy of ``logits [..., bins]`` with the encoded ``target [...]``."""
        return -(self.encode(target) * logits.log_softmax(-1)).sum(-1)


def zero_last_layer(net: nn.Sequential) -> nn.Sequential:
    """``net`` with its output layer zeroed: a two-hot head then starts out predicting 0."""
    last = net[-1]
    assert isinstance(last, nn.Linear), "the last layer of a head is a Linear"
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return net
