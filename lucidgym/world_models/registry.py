"""The world-model registry: ``make_world_model(name, observation_space, action_space)``.

Every backend has a config dataclass; :func:`config_to_dict` and
:func:`config_from_dict` turn it into plain JSON values and back, so that a
checkpoint's ``config.json`` rebuilds the same model::

    model = make_world_model("rssm", obs_space, act_space, preset="kat2")
    data = {"name": model.name, "config": config_to_dict(model.config)}
    again = make_world_model(data["name"], obs_space, act_space, **data["config"])

What a caller needs to know of a backend it reads here too, never from the backend's
config fields: :func:`stochastic_dream_config` gives the values under which its
dreams differ from one another.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym

from lucidgym.configs import build_config
from lucidgym.world_models.backend import WorldModelBase
from lucidgym.world_models.backends.ensemble import EnsembleWorldModel
from lucidgym.world_models.backends.lstm import LSTMWorldModel
from lucidgym.world_models.backends.mlp import MLPWorldModel
from lucidgym.world_models.backends.rssm import RSSMWorldModel
from lucidgym.world_models.backends.transformer import TransformerWorldModel

WORLD_MODELS: dict[str, type[WorldModelBase]] = {
    "mlp": MLPWorldModel,
    "lstm": LSTMWorldModel,
    "transformer": TransformerWorldModel,
    "ensemble": EnsembleWorldModel,
    "rssm": RSSMWorldModel,
}
"""Backend classes by registry name: the one list of world models."""

CONFIGS: dict[str, type[Any]] = {name: cls.config_class for name, cls in WORLD_MODELS.items()}
"""Config dataclasses by backend name (each backend's ``config_class``)."""

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    name: cls.PRESETS for name, cls in WORLD_MODELS.items() if cls.PRESETS
}
"""Named config presets by backend name (``rssm``: ``kat2``, ``pixels``)."""


def _check_name(name: str) -> None:
    if name not in WORLD_MODELS:
        raise ValueError(f"unknown world model {name!r}; valid names: {sorted(WORLD_MODELS)}")


def config_from_dict(name: str, data: dict[str, Any], preset: str | None = None) -> Any:
    """The config dataclass of backend ``name`` from plain values (``preset`` first).

    Raises:
        ValueError: unknown backend, unknown preset, or keys the config does not have.
    """
    _check_name(name)
    cls = CONFIGS[name]
    values: dict[str, Any] = {}
    if preset is not None:
        presets = PRESETS.get(name, {})
        if preset not in presets:
            raise ValueError(
                f"unknown preset {preset!r} for {name!r}; valid presets: {sorted(presets)}"
            )
        values.update(presets[preset])
    values.update(data)
    return build_config(cls, values, f"world model {name!r}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain JSON-ready values of a backend config (inverse of :func:`config_from_dict`)."""
    return dataclasses.asdict(config)


def make_world_model(
    name: str,
    observation_space: gym.spaces.Space[Any],
    action_space: gym.spaces.Space[Any],
    *,
    preset: str | None = None,
    **config: Any,
) -> WorldModelBase:
    """Build the backend ``name`` for the given spaces.

    Args:
        name: one of :data:`WORLD_MODELS` (``mlp``, ``lstm``, ``transformer``,
            ``ensemble``, ``rssm``).
        observation_space: a ``Box``; ``uint8`` ``(C, H, W)`` images get a CNN in ``rssm``.
        action_space: ``Discrete`` or ``Box``.
        preset: a named config (``"kat2"`` or ``"pixels"`` for ``rssm``); ``config`` overrides
            its values.
        **config: fields of the backend's config dataclass.

    Raises:
        ValueError: unknown name, preset or config keys, or unsupported spaces.
    """
    cfg = config_from_dict(name, config, preset)
    return WORLD_MODELS[name](observation_space, action_space, cfg)


def stochastic_dream_config(name: str) -> dict[str, Any] | None:
    """The config values under which backend ``name`` dreams differently each time.

    ``None`` for a backend whose dreams from one state are always alike (``mlp``,
    ``lstm``, ``transformer``); see :attr:`WorldModelBase.STOCHASTIC_DREAMS`.

    Raises:
        ValueError: unknown backend.
    """
    _check_name(name)
    values = WORLD_MODELS[name].STOCHASTIC_DREAMS
    return None if values is None else dict(values)


def stochastic_backends() -> list[str]:
    """The names of the backends that can dream stochastically, in registry order."""
    return [name for name, cls in WORLD_MODELS.items() if cls.STOCHASTIC_DREAMS is not None]
