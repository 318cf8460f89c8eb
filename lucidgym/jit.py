"""One decorator for lucidgym's compiled array kernels.

The environment families write their per-step dynamics once, as plain Python loops
over a batch of ``N`` states, and compile them with `Numba <https://numba.pydata.org>`_:
the single env (``N = 1``) then costs a few microseconds a step instead of a hundred
small NumPy calls, and the native vector env runs at compiled speed. Compiled code is
cached on disk next to the module (``cache=True``), so only the first import on a
machine pays for compilation. Setting ``NUMBA_DISABLE_JIT=1`` runs the same functions
as ordinary Python, which is useful under a debugger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def compiled(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, releasing the GIL.

    ``error_model="numpy"`` makes a division by zero give ``inf`` or ``nan`` as in NumPy
    instead of raising, which spares the check on every division.
    """
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))


def inlined(fn: F) -> F:
    """As :func:`compiled`, and inlined into the compiled functions that call it.

    For the small helpers of a per-element loop: a call between compiled functions
    passes every array as a structure and reference-counts it, which costs more than
    the helper's own arithmetic.
    """
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn))
