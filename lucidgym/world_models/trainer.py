"""Train any world-model backend on a :class:`SequenceReplayBuffer`.

The trainer holds out whole episodes for evaluation, keeps the weights with the best
eval loss, stops early when the eval loss stops improving, logs every loss term to
TensorBoard (``loss/<term>``, ``eval/loss``, ``charts/sps``) and shows a progress bar.
:func:`train_step` is the one gradient step of a world model, for every learner that
fits one (the trainer, online agents, the service); :func:`resolve_device` is the one
check of a device name.

A step whose loss or gradients are not finite never moves a weight: :func:`train_step`
raises :class:`NonFiniteLossError` first. The trainer then stops, puts back the last
good weights (those of the best evaluation, else those it started from) and raises it
on, naming the step and the likely causes, so that a NaN model is never saved.
"""

from __future__ import annotations

import contextlib
import copy
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lucidgym.progress import ProgressBar
from lucidgym.threads import DEFAULT_THREADS, torch_threads
from lucidgym.world_models.buffer import SequenceReplayBuffer
from lucidgym.world_models.protocol import SequenceBatch


@dataclass
class TrainerConfig:
    """Options of :class:`Trainer`."""

    steps: int = 2000
    """Gradient steps."""
    batch_size: int = 32
    """Sequences per batch (``B``)."""
    seq_len: int = 16
    """Rows per sequence (``T``)."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Adam weight decay."""
    grad_clip: float | None = 10.0
    """Clip the global gradient norm to this (``None``: no clipping)."""
    eval_fraction: float = 0.1
    """Share of episodes held out for the eval loss (0: no eval split)."""
    eval_interval: int = 200
    """Steps between evaluations (also the logging period of the progress bar)."""
    eval_batches: int = 8
    """Batches (fixed across evaluations) the eval loss is averaged over."""
    patience: int | None = None
    """Stop after this many evaluations without improvement (``None``: never)."""
    keep_best: bool = True
    """Restore the weights with the lowest eval loss at the end."""
    normalization_samples: int = 256
    """Sequences the model's input normalization is fitted on before training."""
    device: str = "cpu"
    """``"cpu"`` or ``"cuda"``."""
    threads: int | None = DEFAULT_THREADS
    """``torch.set_num_threads`` during training (``None``: leave it as it is). One by
    default: on a shared 2-core machine two threads ran 2-5x slower
    (:mod:`lucidgym.threads`)."""
    log_dir: str | None = None
    """TensorBoard folder (``None``: no logs)."""
    progress: bool = True
    """Show a rich progress bar."""
    seed: int = 0
    """Seeds the eval split, batch sampling and torch."""


@dataclass
class TrainingHistory:
    """What happened during :meth:`Trainer.fit`."""

    steps: list[int] = field(default_factory=list)
    """Steps at which ``train`` was recorded."""
    train: list[dict[str, float]] = field(default_factory=list)
    """Mean loss terms over each logging period."""
    eval_steps: list[int] = field(default_factory=list)
    """Steps at which the eval loss was measured."""
    eval_loss: list[float] = field(default_factory=list)
    """Eval loss at each of ``eval_steps``."""
    best_step: int | None = None
    """Step of the kept weights (``None`` without an eval split)."""
    best_eval_loss: float | None = None
    """Eval loss of the kept weights."""
    stopped_early: bool = False
    """Whether early stopping ended training."""
    steps_done: int = 0
    """Gradient steps taken."""
    wall_s: float = 0.0
    """Wall-clock seconds of training."""


class NonFiniteLossError(ValueError, FloatingPointError):
    """A training step's loss or gradients, or an eval loss, are NaN or infinite.

    A ``ValueError`` (a setting or the data is at fault) and, for callers written
    against earlier versions, a ``FloatingPointError``.
    """

    def __init__(self, message: str, step: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        """The trainer's step at which it happened (``None`` outside a trainer)."""


_DEVICE = re.compile(r"cpu|cuda(?::(\d+))?")


def resolve_device(device: str) -> torch.device:
    """``device`` (``"cpu"``, ``"cuda"`` or ``"cuda:N"``) as a torch device.

    Raises:
        ValueError: any other name, or a CUDA device this machine does not have.
    """
    match = _DEVICE.fullmatch(device)
    if match is None:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if device == "cpu":
        return torch.device(device)
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise ValueError(f"device {device!r} requested but this machine has {count} CUDA devices")
    return torch.device(device)


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: SequenceBatch,
    *,
    grad_clip: float | None = 10.0,
) -> dict[str, float]:
    """One gradient step on ``model.loss(batch)``.

    Clears the gradients, back-propagates the total loss, clips the global gradient
    norm and steps ``optimizer``. Whatever the backend does inside ``loss`` (an EMA
    target's momentum step in training mode) happens first. Where the loss or the
    global gradient norm is not finite, no weight and no optimizer state moves: the
    gradients are cleared and the step raises.

    Args:
        model: a backend (an ``nn.Module`` whose ``loss(batch)`` returns
            ``(total, {"loss/<term>": float})``).
        optimizer: the optimizer over ``model``'s parameters.
        batch: ``[B, T, ...]`` sequences on the model's device.
        grad_clip: the largest global gradient norm (``None``: no clipping).

    Returns:
        The loss terms as floats, ``loss/total`` first.

    Raises:
        NonFiniteLossError: the loss or the gradient norm is not finite (the weights
            and the optimizer are left untouched).
    """
    loss: Any = model.loss  # a backend's method, which nn.Module's typing cannot see
    total, terms = loss(batch)
    value = float(total.detach())
    if not math.isfinite(value):
        raise NonFiniteLossError(f"world-model loss became {value}")
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    if grad_clip is not None:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    else:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads)
    # A norm that overflows float32 counts too: clipping would turn it into a zero step.
    if not math.isfinite(float(norm)):
        optimizer.zero_grad(set_to_none=True)
        raise NonFiniteLossError(
            f"world-model gradients are non-finite (global norm {float(norm)}; the loss, "
            f"{value:.6g}, was finite)"
        )
    optimizer.step()
    return {"loss/total": value, **terms}


class Trainer:
    """Fits a world model's ``loss`` on sequences from a buffer.

    Args:
        model: a backend (an ``nn.Module`` with ``loss(batch)`` and, optionally,
            ``fit_normalization(batch)``).
        config: the options.
    """

    def __init__(self, model: torch.nn.Module, config: TrainerConfig | None = None) -> None:
        self.config = config or TrainerConfig()
        c = self.config
        if c.steps < 0 or c.batch_size < 1 or c.seq_len < 1 or c.eval_interval < 1:
            raise ValueError(
                "TrainerConfig: steps must be >= 0 and batch_size, seq_len, eval_interval >= 1"
            )
        if not 0.0 <= c.eval_fraction < 1.0:
            raise ValueError(
                f"TrainerConfig: eval_fraction must be in [0, 1), got {c.eval_fraction}"
            )
        for name, low in (("lr", 0.0), ("weight_decay", 0.0), ("grad_clip", None)):
            value = getattr(c, name)
            if value is None and low is None:
                continue
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not math.isfinite(value) or value < 0 or (low is None and value == 0):
                need = ">= 0" if low is not None else "> 0 (or None)"
                raise ValueError(
                    f"TrainerConfig: {name} must be a finite number {need}, got {value!r}"
                )
        self.device = resolve_device(c.device)
        # Any: backends are nn.Modules whose loss and fit_normalization torch cannot type.
        self.model: Any = model.to(self.device)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)

    def _eval_loss(self, batches: list[SequenceBatch]) -> float:
        self.model.eval()
        with torch.no_grad():
            total = sum(float(self.model.loss(b.to(self.device))[0]) for b in batches)
        self.model.train()
        return total / len(batches)

    def fit(self, buffer: SequenceReplayBuffer) -> TrainingHistory:
        """Train on ``buffer`` for ``config.steps`` steps (fewer if stopped early)."""
        with torch_threads(self.config.threads):
            return self._fit(buffer)

    def _fit(self, buffer: SequenceReplayBuffer) -> TrainingHistory:
        c = self.config
        torch.manual_seed(c.seed)
        history = TrainingHistory()
        train_buf, eval_buf = buffer, None
        if c.eval_fraction > 0 and len(buffer.episodes()) >= 2:
            train_buf, eval_buf = buffer.split(c.eval_fraction, seed=c.seed)
        rng = np.random.default_rng(c.seed)
        if hasattr(self.model, "fit_normalization"):
            seq = min(c.seq_len, len(train_buf))
            self.model.fit_normalization(train_buf.sample(c.normalization_samples, seq, rng))
        eval_batches: list[SequenceBatch] = []
        if eval_buf is not None:
            eval_rng = np.random.default_rng(c.seed + 1)
            seq = min(c.seq_len, len(eval_buf))
            eval_batches = [
                eval_buf.sample(c.batch_size, seq, eval_rng) for _ in range(c.eval_batches)
            ]
        # What a diverged run falls back to until an evaluation gives better weights.
        good_state, good_step = copy.deepcopy(self.model.state_dict()), 0
        best_state: dict[str, torch.Tensor] | None = None
        best = math.inf
        evals_without_improvement = 0
        sums: dict[str, float] = {}
        period_start, period_steps = time.perf_counter(), 0
        start = time.perf_counter()
        self.model.train()
        bar = ProgressBar("training", c.steps, c.progress)
        with _summary_writer(c.log_dir) as writer, bar:
            for step in range(1, c.steps + 1):
                batch = train_buf.sample(c.batch_size, c.seq_len, rng).to(self.device)
                try:
                    terms = train_step(self.model, self.optimizer, batch, grad_clip=c.grad_clip)
                except NonFiniteLossError as error:
                    raise self._diverged(str(error), step, good_state, good_step) from None
                for k, v in terms.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                period_steps += 1
                history.steps_done = step
                if step % c.eval_interval != 0 and step != c.steps:
                    bar.advance()
                    continue
                means = {k: v / period_steps for k, v in sums.items()}
                # Sequence rows trained on per second (the model's "steps" per second).
                sps = period_steps * c.batch_size * c.seq_len / (time.perf_counter() - period_start)
                history.steps.append(step)
                history.train.append(means)
                if writer is not None:
                    for k, v in means.items():
                        writer.add_scalar(k, v, step)
                    writer.add_scalar("charts/sps", sps, step)
                sums, period_steps, period_start = {}, 0, time.perf_counter()
                status = f"loss {means['loss/total']:.4f}"
                if eval_batches:
                    loss = self._eval_loss(eval_batches)
                    if not math.isfinite(loss):
                        what = f"world-model eval loss became {loss}"
                        raise self._diverged(what, step, good_state, good_step)
                    history.eval_steps.append(step)
                    history.eval_loss.append(loss)
                    if writer is not None:
                        writer.add_scalar("eval/loss", loss, step)
                    status += f" eval {loss:.4f}"
                    if loss < best:
                        best, evals_without_improvement = loss, 0
                        history.best_step, history.best_eval_loss = step, loss
                        best_state = copy.deepcopy(self.model.state_dict())
                        good_state, good_step = best_state, step
                    else:
                        evals_without_improvement += 1
                bar.advance(description=status)
                if c.patience is not None and evals_without_improvement >= c.patience:
                    history.stopped_early = True
                    break
        if best_state is not None and c.keep_best:
            self.model.load_state_dict(best_state)
        if not all(bool(torch.isfinite(v).all()) for v in self.model.state_dict().values()):
            what = "world-model weights became non-finite"
            raise self._diverged(what, history.steps_done, good_state, good_step)
        self.model.eval()
        history.wall_s = time.perf_counter() - start
        return history

    def _diverged(
        self, what: str, step: int, state: dict[str, torch.Tensor], state_step: int
    ) -> NonFiniteLossError:
        """Put back ``state`` (the weights of ``state_step``) and say what happened."""
        self.model.load_state_dict(state)
        # The optimizer's moments come from the diverged steps; they would push the
        # restored weights straight back.
        self.optimizer.state.clear()
        self.model.eval()
        kept = (
            "the weights from before training"
            if state_step == 0
            else (f"the weights of step {state_step} (best eval loss)")
        )
        return NonFiniteLossError(
            f"{what} at step {step}; training stopped and {kept} were restored. Likely "
            f"causes: a learning rate too large (lr={self.config.lr:g}) or extreme values "
            "in the data",
            step,
        )


def _summary_writer(log_dir: str | None) -> Any:
    """A TensorBoard writer for ``log_dir`` (closed on leaving), or ``None`` in its place."""
    if log_dir is None:
        return contextlib.nullcontext()
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=log_dir)
