"""The compiled-code cache of the env kernels and what invalidates it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucidgym.envs import jit


def test_tree_digest_changes_with_any_source_in_the_tree(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    step, params = tmp_path / "pkg" / "step.py", tmp_path / "pkg" / "params.py"
    step.write_text("def f(): return TABLE[0]\n")
    params.write_text("TABLE = [1]\n")
    before = jit.tree_digest(tmp_path)
    assert jit.tree_digest(tmp_path) == before
    params.write_text("TABLE = [2]\n")  # only the module the compiled code reads from
    assert jit.tree_digest(tmp_path) != before
    (tmp_path / "pkg" / "notes.txt").write_text("not python")
    params.write_text("TABLE = [1]\n")
    assert jit.tree_digest(tmp_path) == before


def test_env_kernels_are_stamped_with_the_whole_env_tree() -> None:
    numba_caching = pytest.importorskip("numba.core.caching")
    from lucidgym.envs.tutoring import step

    if not jit._CACHE:
        pytest.skip("this Numba release cannot take lucidgym's cache locators")
    impl = getattr(numba_caching, "CacheImpl", None) or numba_caching._CacheImpl
    py_func = step.advance.py_func
    located = [cls.from_function(py_func, step.__file__) for cls in impl._locator_classes[:3]]
    locator = next(loc for loc in located if loc is not None)
    assert locator.get_source_stamp() == jit.sources_digest()
    # Functions of other packages keep Numba's own locators.
    assert all(
        cls.from_function(py_func, pytest.__file__) is None for cls in impl._locator_classes[:3]
    )
