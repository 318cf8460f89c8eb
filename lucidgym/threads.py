"""How many torch threads lucidgym's own training loops use.

Measured with ``python scripts/thread_speed.py`` on a 2-core machine
(``docs/results/threads.md``): on an idle machine two threads are 0.7x to 1.2x the time
of one, but with one other busy process beside them they are 2.1x to 4.6x slower
(OpenMP threads wait on a core that is taken). lucidgym's networks are small, so one
thread per process is the default: it is never far from the best, and never 4x slower.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

DEFAULT_THREADS = 1
"""Torch threads of world-model fitting and ``dyna``'s training unless told otherwise."""


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``, then restore the old count.

    ``None`` leaves the count as it is.

    Raises:
        ValueError: ``threads < 1``.
    """
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"threads must be positive, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
