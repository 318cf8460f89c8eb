"""Config dataclasses: built from keyword arguments with one check, documented by their fields.

Every option group in lucidgym is a ``@dataclass`` with a one-line docstring under each
field (the CleanRL habit). :func:`build_config` is the one place that turns a mapping
of options into such a dataclass, refusing unknown keys with the valid ones listed;
:func:`field_docs` reads the field docstrings back, so that the command line can show
them as help without restating them.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

C = TypeVar("C")


def config_keys(*classes: type[Any]) -> set[str]:
    """The field names of every dataclass in ``classes``."""
    return {f.name for cls in classes for f in dataclasses.fields(cls)}


def check_keys(owner: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Refuse keys outside ``valid``.

    Raises:
        ValueError: ``"<owner>: unknown config keys [...]; valid keys: [...]"``.
    """
    valid = set(valid)
    unknown = sorted(set(given) - valid)
    if unknown:
        raise ValueError(f"{owner}: unknown config keys {unknown}; valid keys: {sorted(valid)}")


def build_config(cls: type[C], values: Mapping[str, Any] | C | None, owner: str) -> C:
    """``cls(**values)`` after :func:`check_keys`; an instance of ``cls`` passes through.

    Args:
        cls: a config dataclass.
        values: its options by field name (or an instance, or ``None`` for the defaults).
        owner: the name the error message starts with (an agent, a backend).
    """
    if isinstance(values, cls):
        return values
    values = dict(values or {})  # type: ignore[arg-type]
    check_keys(owner, values, config_keys(cls))
    return cls(**values)


@functools.cache
def field_docs(cls: type[Any]) -> dict[str, str]:
    """The docstring under each field of the dataclass ``cls`` (and of its bases), by name.

    A field without one maps to ``""``. Reads the source; where it is unavailable (a
    frozen application, say) every field maps to ``""``.
    """
    docs = {f.name: "" for f in dataclasses.fields(cls)}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
                and node.target.id in docs
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs
