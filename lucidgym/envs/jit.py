"""One decorator for lucidgym's compiled array kernels.

The environment families write their per-step dynamics once, as plain Python loops
over a batch of ``N`` states, and compile them with `Numba <https://numba.pydata.org>`_:
the single env (``N = 1``) then costs a few microseconds a step instead of a hundred
small NumPy calls, and the native vector env runs at compiled speed. Setting
``NUMBA_DISABLE_JIT=1`` runs the same functions as ordinary Python, which is useful
under a debugger.

Compiled code is cached on disk, so only the first use on a machine pays for
compilation. Numba checks a cached function against its own source file only, while a
kernel also compiles in the helpers it calls and the parameter tables it reads from
other modules; lucidgym's cached functions are therefore checked against a digest of
every source file under ``lucidgym/envs`` (this module included), so that editing any of
them recompiles. Where Numba's cache machinery cannot be extended that way, nothing is
cached.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])

_SOURCES = Path(__file__).resolve().parent
"""The tree holding every compiled function and everything they read (``lucidgym/envs``)."""


def tree_digest(root: Path, *extra: Path) -> str:
    """SHA-256 of the paths and contents of every ``.py`` under ``root``, then of ``extra``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    for path in extra:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def sources_digest() -> str:
    """The digest compiled code is stamped with: every source under ``lucidgym/envs``."""
    return tree_digest(_SOURCES)


def _register_locators() -> bool:
    """Put lucidgym's cache locators first in Numba's list; ``False`` if that fails."""
    try:
        from numba.core import caching

        class _WholeSourceStamp:
            @classmethod
            def from_function(cls, py_func: Any, py_file: str) -> Any:
                try:
                    Path(py_file).resolve().relative_to(_SOURCES)
                except ValueError:
                    return None  # not ours: Numba's own locators handle it
                return super().from_function(py_func, py_file)  # type: ignore[misc]

            def get_source_stamp(self) -> str:
                return sources_digest()

        class _UserProvided(_WholeSourceStamp, caching.UserProvidedCacheLocator):
            pass

        class _InTree(_WholeSourceStamp, caching.InTreeCacheLocator):
            pass

        class _UserWide(_WholeSourceStamp, caching.UserWideCacheLocator):
            pass

        # ``CacheImpl`` was ``_CacheImpl`` in older Numba releases.
        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # type: ignore[attr-defined]
        locators = impl._locator_classes
        locators[:0] = [_UserProvided, _InTree, _UserWide]
        return True
    except (ImportError, AttributeError, TypeError):
        return False


_CACHE = _register_locators()


def compiled(fn: F) -> F:
    """Compile ``fn`` in nopython mode, cached on disk, releasing the GIL.

    ``error_model="numpy"`` makes a division by zero give ``inf`` or ``nan`` as in NumPy
    instead of raising, which spares the check on every division.
    """
    return cast(F, numba.njit(cache=_CACHE, nogil=True, error_model="numpy")(fn))


def inlined(fn: F) -> F:
    """As :func:`compiled`, and inlined into the compiled functions that call it.

    For the small helpers of a per-element loop: a call between compiled functions
    passes every array as a structure and reference-counts it, which costs more than
    the helper's own arithmetic.
    """
    return cast(F, numba.njit(cache=_CACHE, nogil=True, error_model="numpy", inline="always")(fn))
