"""The stochastic latents of the ``rssm`` backend: a diagonal Gaussian, or categoricals.

A latent distribution over ``z [..., Z]`` is a pair of ``[..., Z]`` tensors (a
:data:`Latent`): a Gaussian's ``(mean, std)`` (DreamerV1, PlaNet), or the probabilities
and log-probabilities of ``stoch`` categoricals of ``classes`` classes each, laid out
class-minor (DreamerV2-3). A family turns a network's raw output into such a pair and
draws, takes the mode of, and compares distributions, so that the model's code is the
same for both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

Latent = tuple[Tensor, Tensor]
"""A latent distribution: ``(mean, std)`` or ``(probs, log_probs)``, each ``[..., Z]``."""

LATENTS = ("gaussian", "discrete")
"""The families :func:`make_latent` builds."""


def gaussian_kl(mean1: Tensor, std1: Tensor, mean2: Tensor, std2: Tensor) -> Tensor:
    """``KL(N(mean1, std1) || N(mean2, std2))`` summed over the last dimension."""
    var_ratio = (std1 / std2).pow(2)
    diff = ((mean1 - mean2) / std2).pow(2)
    return 0.5 * (var_ratio + diff - 1.0 - var_ratio.log()).sum(-1)


class GaussianLatent:
    """``stoch`` independent Gaussians, their std floored at ``min_std``."""

    def __init__(self, stoch: int, min_std: float) -> None:
        self.z_size, self.raw_size, self.min_std = stoch, 2 * stoch, min_std

    def stats(self, raw: Tensor) -> Latent:
        """``[..., 2 * stoch]`` network output -> ``(mean, std)``."""
        mean, std = raw.chunk(2, -1)
        return mean, F.softplus(std) + self.min_std

    def sample(self, dist: Latent) -> Tensor:
        """A reparameterized draw of ``z``."""
        mean, std = dist
        return mean + std * torch.randn_like(std)

    def mode(self, dist: Latent) -> Tensor:
        """The mean."""
        return dist[0]

    def dream(self, dist: Latent) -> Tensor:
        """The ``z`` an open-loop training dream follows: the mean."""
        return dist[0]

    def kl(self, p: Latent, q: Latent) -> Tensor:
        """``KL(p || q)`` summed over the latent, ``[...]``."""
        return gaussian_kl(p[0], p[1], q[0], q[1])

    def spread(self, dist: Latent) -> Tensor:
        """``[...]`` uncertainty: the mean std."""
        return dist[1].mean(-1)

    def standard(self, like: Latent) -> Latent:
        """``N(0, I)`` shaped like ``like``."""
        return torch.zeros_like(like[0]), torch.ones_like(like[1])


class DiscreteLatent:
    """``stoch`` categoricals of ``classes`` classes, each mixed with ``unimix`` of the uniform.

    Draws are one-hot with straight-through gradients (the draw in the forward pass,
    the probabilities' gradient in the backward pass). The uniform mix keeps every
    probability at least ``unimix / classes``, so that no log-probability, and no KL,
    runs off to infinity.
    """

    def __init__(self, stoch: int, classes: int, unimix: float) -> None:
        if classes < 2 or not 0.0 <= unimix < 1.0:
            raise ValueError(
                f"rssm: a discrete latent needs classes >= 2 and 0 <= unimix < 1, got "
                f"classes={classes}, unimix={unimix}"
            )
        self.stoch, self.classes, self.unimix = stoch, classes, unimix
        self.z_size = self.raw_size = stoch * classes

    def _grouped(self, flat: Tensor) -> Tensor:
        return flat.unflatten(-1, (self.stoch, self.classes))

    def stats(self, raw: Tensor) -> Latent:
        """``[..., stoch * classes]`` logits -> ``(probs, log_probs)``."""
        probs = self._grouped(raw).softmax(-1)
        probs = (1.0 - self.unimix) * probs + self.unimix / self.classes
        return probs.flatten(-2), probs.log().flatten(-2)

    def sample(self, dist: Latent) -> Tensor:
        """One-hot draws, with the gradient of the probabilities passed straight through."""
        probs = self._grouped(dist[0])
        index = torch.multinomial(probs.reshape(-1, self.classes), 1)
        onehot = F.one_hot(index.view(probs.shape[:-1]), self.classes).to(probs.dtype)
        return (onehot + probs - probs.detach()).flatten(-2)

    def mode(self, dist: Latent) -> Tensor:
        """Each categorical's likeliest class, one-hot."""
        probs = self._grouped(dist[0])
        return F.one_hot(probs.argmax(-1), self.classes).to(probs.dtype).flatten(-2)

    def dream(self, dist: Latent) -> Tensor:
        """The ``z`` an open-loop training dream follows: a straight-through draw.

        A mode would pass no gradient to the prior.
        """
        return self.sample(dist)

    def kl(self, p: Latent, q: Latent) -> Tensor:
        """``KL(p || q)`` summed over the categoricals, ``[...]``."""
        return (p[0] * (p[1] - q[1])).sum(-1)

    def spread(self, dist: Latent) -> Tensor:
        """``[...]`` uncertainty: the mean entropy of the categoricals."""
        return -self._grouped(dist[0] * dist[1]).sum(-1).mean(-1)

    def standard(self, like: Latent) -> Latent:
        """Uniform categoricals shaped like ``like``."""
        uniform = torch.full_like(like[0], 1.0 / self.classes)
        return uniform, uniform.log()


def make_latent(
    latent: str, stoch: int, *, min_std: float, classes: int, unimix: float
) -> GaussianLatent | DiscreteLatent:
    """The family named ``latent`` (one of :data:`LATENTS`)."""
    if latent == "gaussian":
        return GaussianLatent(stoch, min_std)
    if latent == "discrete":
        return DiscreteLatent(stoch, classes, unimix)
    raise ValueError(f"rssm: latent must be one of {LATENTS}, got {latent!r}")
