"""World-model checkpoints: safetensors weights and a JSON config, no pickle.

A checkpoint folder holds ``model.safetensors`` and ``config.json`` (backend name,
backend config, observation and action spaces, lucidgym version, and the digests of
:func:`lucidgym.files.save_tensors`: one of the weights, one of the weights and the
config together) and, when given, ``metrics.json``. Loading refuses truncated or
replaced weights, an edited config, and config values of the wrong type, naming the
file and the field; saving refuses a model with a NaN or infinite weight. A save that
is interrupted leaves the previous checkpoint loadable (see :mod:`lucidgym.files`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from lucidgym.files import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    load_tensors,
    read_config,
    save_tensors,
    space_from_json,
    space_to_json,
)
from lucidgym.world_models.trainer import resolve_device

METRICS_FILE = "metrics.json"
FORMAT_VERSION = 1

_WORLD_MODEL_KEYS = ("backend", "config", "observation_space", "action_space")


def read_checkpoint_config(
    directory: str | os.PathLike[str], required: tuple[str, ...] = _WORLD_MODEL_KEYS
) -> dict[str, Any]:
    """The parsed ``config.json`` of a world-model checkpoint, checked for ``required`` keys."""
    return read_config(directory, required)


def _build(config: dict[str, Any], path: Path) -> torch.nn.Module:
    """The untrained model ``config`` describes; a ``ValueError`` names a bad field."""
    from lucidgym.world_models.registry import WORLD_MODELS, make_world_model

    backend = config["backend"]
    if not isinstance(backend, str) or backend not in WORLD_MODELS:
        raise ValueError(
            f"{path}: field 'backend' must name a world model {sorted(WORLD_MODELS)}, "
            f"got {backend!r}"
        )
    spaces = []
    for field in ("observation_space", "action_space"):
        try:
            spaces.append(space_from_json(config[field]))
        except ValueError as err:
            raise ValueError(f"{path}: field {field!r}: {err}") from None
    values = config["config"]
    if not isinstance(values, dict):
        kind = type(values).__name__
        raise ValueError(f"{path}: field 'config' must be a JSON object, got {kind} {values!r}")
    try:
        return make_world_model(backend, *spaces, **values)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{path}: field 'config' does not build a {backend!r} model: {err}"
        ) from None


def save_world_model(
    model: torch.nn.Module,
    directory: str | os.PathLike[str],
    metrics: dict[str, Any] | None = None,
    env_id: str | None = None,
) -> Path:
    """Write ``model`` (and ``metrics``) into ``directory``, creating it if needed.

    Args:
        model: a backend from :func:`~lucidgym.world_models.registry.make_world_model`
            (it has ``name``, ``config``, ``observation_space`` and ``action_space``).
        directory: the checkpoint folder.
        metrics: written to ``metrics.json`` when given (with the checkpoint: it is in
            place before ``config.json`` commits the new one).
        env_id: the environment the model was trained on (stored for evaluation).

    Returns:
        The folder's path.

    Raises:
        ValueError: ``model`` is no backend, or one of its weights is NaN or infinite
            (nothing is written then).
    """
    from lucidgym import __version__

    for attr in ("name", "config", "observation_space", "action_space"):
        if not hasattr(model, attr):
            raise ValueError(f"save_world_model: the model has no {attr!r}; is it a backend?")
    config = {
        "format_version": FORMAT_VERSION,
        "backend": model.name,
        "config": dataclasses.asdict(model.config),  # type: ignore[call-overload]
        "observation_space": space_to_json(model.observation_space),  # type: ignore[arg-type]
        "action_space": space_to_json(model.action_space),  # type: ignore[arg-type]
        "lucidgym_version": __version__,
        "env_id": env_id,
    }
    extra = {METRICS_FILE: metrics} if metrics is not None else None
    return save_tensors(directory, model.state_dict(), config, extra_json=extra)


def load_world_model(directory: str | os.PathLike[str], device: str = "cpu") -> torch.nn.Module:
    """Rebuild a model saved by :func:`save_world_model`, on ``device`` (``cpu``, ``cuda[:N]``).

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        ValueError: naming the file and the problem when the weights are truncated,
            tampered with (hash mismatch) or do not fit the config (keys or shapes),
            the config was edited or holds a value of the wrong type (naming the
            field); or a device this machine does not have.
    """
    target = resolve_device(device)

    tensors, config = load_tensors(directory, _WORLD_MODEL_KEYS)
    weights = Path(directory) / WEIGHTS_FILE
    model = _build(config, Path(directory) / CONFIG_FILE)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        raise ValueError(
            f"{weights}: does not fit the {config['backend']!r} model of {CONFIG_FILE}: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, shape mismatches {wrong[:5]}"
        )
    model.load_state_dict(tensors)
    return model.to(target)
