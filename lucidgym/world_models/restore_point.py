"""A copy of a model's weights and buffers, to undo a gradient step that went wrong.

A learner that must never keep a non-finite weight takes a :class:`RestorePoint`
before a step, calls :meth:`~RestorePoint.check_finite` after it and
:meth:`~RestorePoint.restore` if either raised::

    point = RestorePoint(model)
    try:
        train_step(model, optimizer, batch)
        point.check_finite()
    except (FloatingPointError, ValueError):
        point.restore()
        raise

The optimizer's state is not copied: :func:`~lucidgym.world_models.trainer.train_step`
leaves it untouched when the loss or the gradients are not finite, and a step on finite,
clipped gradients keeps Adam's moments finite.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RestorePoint:
    """The tensors of ``model.state_dict()`` as they are now.

    They are the parameters and the buffers (normalization statistics, an EMA target),
    all of which a training step may change: a backend's ``loss`` may move a target
    network before the step is refused, and a refit of the normalization comes first.

    Args:
        model: the module to copy.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._saved = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def _current(self) -> dict[str, Tensor]:
        # Read afresh: a step may have replaced a buffer rather than written into it.
        return {k: v.detach() for k, v in self.model.state_dict(keep_vars=True).items()}

    def check_finite(self) -> None:
        """Raise ``FloatingPointError`` naming the tensors that hold NaN or infinity."""
        floats = {k: t for k, t in self._current().items() if t.is_floating_point()}
        # One synchronisation for the whole model; the names only when something is wrong.
        if not floats or bool(torch.stack([t.isfinite().all() for t in floats.values()]).all()):
            return
        names = [k for k, t in floats.items() if not bool(t.isfinite().all())]
        raise FloatingPointError(f"the step left non-finite values in {names[:3]}")

    @torch.no_grad()
    def restore(self) -> None:
        """Put every copied tensor back (in place: the optimizer's references stay valid)."""
        for key, live in self._current().items():
            live.copy_(self._saved[key])
