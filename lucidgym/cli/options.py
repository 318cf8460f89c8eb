"""What the sub-commands share: the user error, argument checks, ``--set``, tables, lazy parsers.

Nothing heavy is imported here at import time (Gymnasium and the registries load inside
the checks): every sub-command module imports this one, and ``lucidgym --help`` imports
every sub-command module.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lucidgym.configs import field_docs


class CLIError(Exception):
    """A user error: printed as one line, exit status 2, no traceback."""


def check_positive(name: str, value: int | None) -> None:
    """Refuse a numeric option below 1 (``None``, the option left out, passes)."""
    if value is not None and value < 1:
        raise CLIError(f"{name} must be a positive integer, got {value}")


def check_env(env_id: str) -> None:
    """Refuse an id that Gymnasium does not know, listing lucidgym's."""
    import gymnasium as gym

    from lucidgym.envs.registration import env_ids

    if env_id not in gym.registry:
        raise CLIError(
            f"unknown env {env_id!r}; lucidgym envs: {', '.join(env_ids())} "
            "(any registered Gymnasium id works too, e.g. CartPole-v1)"
        )


def check_model(model: str) -> None:
    """Refuse a planner model that is none of ``oracle``, ``belief``, ``none`` or a backend."""
    from lucidgym.world_models.registry import WORLD_MODELS

    valid = ["oracle", "belief", "none", *sorted(WORLD_MODELS)]
    if model not in valid:
        raise CLIError(f"unknown model {model!r}; valid models: {', '.join(valid)}")


def check_extra(module: str, extra: str, what: str) -> None:
    """Refuse ``what`` in one line, naming the extra to install, where ``module`` is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise CLIError(
            f'{what} needs {module}, which is not installed: pip install "lucidgym[{extra}]"'
        )


def check_out_folder(
    folder: Path, force: bool, *, holds: Callable[[Path], str | None] | None = None
) -> None:
    """Refuse to write into ``folder`` when that would overwrite something, unless ``force``.

    Args:
        folder: the ``--out`` folder (it may not exist yet).
        force: ``--force`` was given.
        holds: what in an existing folder counts as work to keep (a description, or
            ``None`` for nothing); default: anything in it.

    Raises:
        CLIError: ``folder`` is a file, or holds work and ``force`` is not given; the
            message says what is there.
    """
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--out {str(folder)!r} is a file, not a folder")
    if force or not folder.is_dir():
        return
    if holds is None:
        entries = sorted(p.name for p in folder.iterdir())
        there = ", ".join(entries[:5]) + (
            f" and {len(entries) - 5} more" if len(entries) > 5 else ""
        )
        what = there or None
    else:
        what = holds(folder)
    if what:
        raise CLIError(f"{folder} already holds {what}; pass --force to overwrite it")


@contextlib.contextmanager
def fresh_output(
    folder: Path, force: bool, *, holds: Callable[[Path], str | None] | None = None
) -> Iterator[Path]:
    """A new folder to write into, swapped in for ``folder`` only when the work succeeds.

    :func:`check_out_folder` first; then the command writes into a hidden sibling, so an
    error or Ctrl-C midway leaves ``folder`` (an earlier result, with ``--force``) as it
    was, and the finished output replaces it whole: no file of the old one is left mixed
    into the new.
    """
    check_out_folder(folder, force, holds=holds)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # No dot after the name: a suffix would make the folder look like a file name.
    stem = folder.name.replace(".", "_")
    work = Path(tempfile.mkdtemp(prefix=f".{stem}-partial-", dir=folder.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)  # mkdtemp gives 0700; give a normal folder's mode
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if folder.exists():
        old = folder.with_name(f".{stem}-old-{os.getpid()}")
        os.replace(folder, old)
        os.replace(work, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(work, folder)


def print_table(rows: list[list[str]]) -> None:
    """Print ``rows`` (the first one a header) as left-aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


# -- --set key=value -----------------------------------------------------------------


def add_set_option(parser: argparse.ArgumentParser, what: str, example: str) -> None:
    """Add the repeatable ``--set KEY=VALUE`` (into ``args.set``) for fields of ``what``."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"a field of {what} (repeatable; VALUE is read as JSON where it parses, "
        f"else as a string; e.g. {example})",
    )


def parse_set(pair: str, *, scoped: bool = False) -> tuple[str | None, str, Any]:
    """``(scope, key, value)`` of one ``--set`` pair.

    Args:
        pair: ``key=value``, or with ``scoped`` also ``scope:key=value`` (the scope
            holds no ``=`` and may hold colons, as ``sb3:PPO`` does).
        scoped: accept a scope before the key.

    Raises:
        CLIError: no ``=``, or a key that is not a Python identifier.
    """
    key, sep, text = pair.partition("=")
    scope: str | None = None
    if scoped and ":" in key:
        scope, _, key = key.rpartition(":")
    if not sep or not key.isidentifier() or scope == "":
        form = "[AGENT:]key=value" if scoped else "key=value"
        raise CLIError(f"--set {pair!r}: expected {form} with a field name as key")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    return scope, key, value


def parse_sets(pairs: Iterable[str]) -> dict[str, Any]:
    """The ``key=value`` pairs of ``--set`` as a mapping (a repeated key: the last wins)."""
    return {key: value for _, key, value in map(parse_set, pairs)}


# -- options generated from a config dataclass ---------------------------------------


def _option_fields(cls: type[Any], skip: Iterable[str]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.name not in set(skip)]


def _value_type(hint: Any) -> tuple[type[Any], bool]:
    """The scalar type of a field annotation and whether it also takes ``None``."""
    args = typing.get_args(hint)
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    if union and len(args) == 2 and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        return inner, True
    return hint, False


def _parse_optional(kind: type[Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its error messages
    return parse


def add_config_options(
    parser: argparse._ActionsContainer,
    cls: type,  # not type[Any]: mypy takes that for unhashable, and field_docs is cached
    *,
    skip: Iterable[str] = (),
    defaults: Mapping[str, tuple[Any, str]] | None = None,
) -> None:
    """Add ``--field-name`` for each field of the dataclass ``cls``, documented by the field.

    Each option's default is the field's and its help the field's docstring (see
    :func:`lucidgym.configs.field_docs`); a ``bool`` field becomes ``--name/--no-name``
    and a field that takes ``None`` also takes ``none``.

    Args:
        parser: the sub-command's parser or one of its argument groups.
        cls: a config dataclass with ``int``, ``float``, ``str`` or ``bool`` fields.
        skip: fields the command sets itself.
        defaults: the command's own default of a field, with the text its help shows.
    """
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in _option_fields(cls, skip):
        kind, optional = _value_type(hints[f.name])
        if kind not in (int, float, str, bool):
            raise TypeError(f"{cls.__name__}.{f.name}: no option for a field of type {kind}")
        default, shown = (defaults or {}).get(f.name, (f.default, f"default: {f.default}"))
        text = docs[f.name].replace("``", "").replace("%", "%%").rstrip(".")
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            shown = flag if default else "--no-" + flag[2:]
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=f"{text} (default: {shown})",
            )
            continue
        parse = _parse_optional(kind) if optional else kind
        parser.add_argument(flag, type=parse, default=default, help=f"{text} ({shown})")


def config_values(
    args: argparse.Namespace, cls: type[Any], *, skip: Iterable[str] = ()
) -> dict[str, Any]:
    """The values of the options :func:`add_config_options` added for ``cls``, by field."""
    return {f.name: getattr(args, f.name) for f in _option_fields(cls, skip)}


# -- parsers that build their options when used --------------------------------------


class LazyParser(argparse.ArgumentParser):
    """A sub-command's parser whose options are added the first time it parses or shows help.

    Options generated from a config dataclass import that dataclass (and the torch behind
    it); filled lazily, they cost only the sub-command that is run, never ``lucidgym --help``.

    Args:
        fill: adds the options to the parser it is given (``None``: nothing to add).
    """

    def __init__(
        self,
        *args: Any,
        fill: Callable[[argparse.ArgumentParser], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._fill = fill

    def _filled(self) -> None:
        fill, self._fill = self._fill, None
        if fill is not None:
            fill(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Fill the options, then parse as ``argparse`` does."""
        self._filled()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        """Fill the options, then the usage line."""
        self._filled()
        return super().format_usage()

    def format_help(self) -> str:
        """Fill the options, then the help text."""
        self._filled()
        return super().format_help()
