"""Files every room writes: atomic writes, JSON (finite numbers only), safetensors folders.

A tensor folder holds ``model.safetensors`` and ``config.json`` (the caller's config plus
the SHA-256 of the weights). Each file is written to a temporary name and renamed into
place, so a crash mid-write leaves the previous file whole; weights that do not match
the hash in ``config.json`` are refused on loading. Nothing here unpickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def _float(x: float) -> float | str:
    return x if np.isfinite(x) else ("inf" if x > 0 else "-inf")


def _bound(values: np.ndarray) -> Any:
    flat = values.astype(np.float64).ravel()
    if np.all(flat == flat[0]):
        return _float(float(flat[0]))
    return [_float(float(v)) for v in flat]


def space_to_json(space: gym.spaces.Space[Any]) -> dict[str, Any]:
    """A ``Box``, ``Discrete``, ``MultiDiscrete`` or ``MultiBinary`` space as a JSON-ready dict."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": _bound(space.low),
            "high": _bound(space.high),
        }
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    raise TypeError(f"cannot store a {type(space).__name__} space in a checkpoint")


def space_from_json(data: dict[str, Any]) -> gym.spaces.Space[Any]:
    """Inverse of :func:`space_to_json`; a malformed dict raises ``ValueError``."""
    try:
        if data["type"] == "Discrete":
            return gym.spaces.Discrete(int(data["n"]), start=int(data["start"]))
        if data["type"] == "Box":
            shape = tuple(int(s) for s in data["shape"])

            def bound(value: Any) -> np.ndarray:
                arr = np.asarray(value, dtype=np.float64)
                return np.broadcast_to(arr, shape) if arr.ndim == 0 else arr.reshape(shape)

            dtype = np.dtype(data["dtype"])
            return gym.spaces.Box(
                bound(data["low"]).astype(dtype), bound(data["high"]).astype(dtype), shape, dtype
            )
        if data["type"] == "MultiDiscrete":
            return gym.spaces.MultiDiscrete(data["nvec"])
        if data["type"] == "MultiBinary":
            return gym.spaces.MultiBinary(data["n"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"malformed space in checkpoint config: {data!r} ({err})") from err
    raise ValueError(f"unsupported space type in checkpoint config: {data.get('type')!r}")


def _new_file_mode() -> int:
    """The mode ``open`` gives a new file under the current umask (``mkstemp`` gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The file gets the permissions of a normally created one, and ``path``'s folder is
    created where missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _new_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None`` (JSON has neither)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, sort_keys: bool = True) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (NaN and infinity as ``null``)."""
    text = json.dumps(_finite(data), indent=2, sort_keys=sort_keys, allow_nan=False) + "\n"
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def save_tensors(
    directory: str | os.PathLike[str], tensors: dict[str, torch.Tensor], config: dict[str, Any]
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory``, atomically.

    ``config.json`` holds ``config`` plus the SHA-256 of the weights; the folder is
    created if needed. The layout of every lucidgym checkpoint: world models and
    learning agents alike.
    """
    from safetensors.torch import save

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    atomic_write_bytes(out / WEIGHTS_FILE, data)
    digest = hashlib.sha256(data).hexdigest()
    atomic_write_json(out / CONFIG_FILE, {**config, "weights_sha256": digest})
    return out


def load_tensors(
    directory: str | os.PathLike[str], required: tuple[str, ...] = ()
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and config written by :func:`save_tensors`, checked.

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        ValueError: naming the file and the problem when the config is not JSON or
            lacks one of ``required``, or the weights are truncated, tampered with
            (hash mismatch) or not safetensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    config = read_config(directory, (*required, "weights_sha256"))
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: missing")
    data = weights.read_bytes()
    if hashlib.sha256(data).hexdigest() != config["weights_sha256"]:
        raise ValueError(
            f"{weights}: SHA-256 does not match the hash in {CONFIG_FILE} "
            "(the file was truncated, modified or replaced)"
        )
    try:
        return load(data), config
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ValueError(f"{weights}: not a readable safetensors file: {err}") from err


def read_config(
    directory: str | os.PathLike[str], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint folder, checked for the ``required`` keys."""
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"checkpoint folder {str(directory)!r} does not exist")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; is this a checkpoint folder?")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON (truncated or corrupt?): {err}") from err
    missing = [k for k in required if not isinstance(config, dict) or k not in config]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    return config  # type: ignore[no-any-return]
