"""Files every room writes: atomic writes, JSON (finite numbers only), safetensors folders.

A tensor folder holds ``model.safetensors`` and ``config.json``: the caller's config
plus two digests, ``weights_sha256`` (of the weights file) and ``sha256`` (of the
weights and the config together, :func:`checkpoint_digest`). Loading checks both, so a
truncated or replaced weights file and an edited config are refused alike.

Writes never leave a folder that will not load. Each file is written whole to a
temporary name first, then renamed into place: the weights, then any extra files, and
``config.json`` last, as the commit. Until that last rename the folder's config still
describes the previous weights, which are kept (a hard link) as
``.model.safetensors.previous``; loading falls back to them where the weights file no
longer matches the config, so an interrupted save leaves the previous checkpoint
loadable. Only the files written are replaced: whatever else a caller keeps in the
folder (``agent.json``, ``curves.json``, ``tensorboard/``) is never touched, moved or
copied (a swap of the whole folder would have to carry such files over, and would pull
it from under a shell, a process or a TensorBoard writer working in it).

Nothing here unpickles.
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
PREVIOUS_WEIGHTS_FILE = ".model.safetensors.previous"
"""The weights an interrupted save replaced before it could write its ``config.json``."""
DIGEST_KEY = "sha256"
"""The ``config.json`` key of :func:`checkpoint_digest`."""
WEIGHTS_DIGEST_KEY = "weights_sha256"
"""The ``config.json`` key of the weights file's own SHA-256."""


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


def _int(value: Any, what: str) -> int:
    """``value`` where it is a JSON integer (a bool, a fraction or a string is refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer, got {value!r}")
    return value


def space_from_json(data: dict[str, Any]) -> gym.spaces.Space[Any]:
    """Inverse of :func:`space_to_json`; a malformed dict raises ``ValueError``."""
    if not isinstance(data, dict):
        raise ValueError(f"a space must be a JSON object, got {type(data).__name__} {data!r}")
    try:
        if data["type"] == "Discrete":
            return gym.spaces.Discrete(_int(data["n"], "n"), start=_int(data["start"], "start"))
        if data["type"] == "Box":
            shape = tuple(_int(s, "shape") for s in data["shape"])

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


def _stage(path: Path, data: bytes) -> str:
    """``data`` written whole and synced to a temporary file beside ``path``; its name."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, _new_file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The file gets the permissions of a normally created one, and ``path``'s folder is
    created where missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _stage(path, data)
    try:
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


def _json_text(data: Any, sort_keys: bool = True) -> str:
    return json.dumps(_finite(data), indent=2, sort_keys=sort_keys, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, sort_keys: bool = True) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (NaN and infinity as ``null``)."""
    atomic_write_bytes(Path(path), _json_text(data, sort_keys).encode("utf-8"))


def checkpoint_digest(weights: bytes, config: dict[str, Any]) -> str:
    """The SHA-256 of a checkpoint: of ``weights`` and of ``config`` but its own key.

    The config enters as canonical JSON (sorted keys, no spaces), so the digest of a
    config parsed back from ``config.json`` equals the one computed when it was written.
    """
    body = {k: v for k, v in config.items() if k != DIGEST_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(len(weights).to_bytes(8, "little"))
    digest.update(weights)
    digest.update(text.encode("ascii"))
    return digest.hexdigest()


def _digest_problem(folder: Path, weights: bytes, config: dict[str, Any]) -> str | None:
    """Why ``weights`` and ``config`` do not belong together, or ``None`` where they do."""
    expected = config.get(WEIGHTS_DIGEST_KEY)
    if expected is not None and hashlib.sha256(weights).hexdigest() != expected:
        return (
            f"{folder / WEIGHTS_FILE}: SHA-256 does not match the hash in {CONFIG_FILE} "
            "(the file was truncated, modified or replaced)"
        )
    expected = config.get(DIGEST_KEY)
    if expected is not None and checkpoint_digest(weights, config) != expected:
        return (
            f"{folder / CONFIG_FILE}: does not match its {DIGEST_KEY!r} digest of the weights "
            "and the config (the file was edited or replaced after it was written)"
        )
    return None


def save_tensors(
    directory: str | os.PathLike[str],
    tensors: dict[str, torch.Tensor],
    config: dict[str, Any],
    *,
    extra_json: dict[str, Any] | None = None,
) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into ``directory``, atomically.

    ``config.json`` holds ``config`` plus the digests (see the module docstring); the
    folder is created if needed. The layout of every lucidgym checkpoint: world models
    and learning agents alike.

    Args:
        directory: the checkpoint folder; files in it that are not written are kept.
        tensors: the weights (a ``state_dict``).
        config: JSON-ready values describing them.
        extra_json: more files to write with the checkpoint, by name (``metrics.json``):
            JSON-ready values, renamed into place before ``config.json``.

    Raises:
        ValueError: a floating-point tensor holds NaN or infinity (a diverged model is
            never written; the folder is left as it was), or an extra file's name is
            one of the checkpoint's own or not a plain file name.
    """
    from safetensors.torch import save

    out = Path(directory)
    cpu = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    broken = [k for k, v in cpu.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if broken:
        raise ValueError(
            f"{out}: refusing to save non-finite weights (NaN or infinity in {broken[:5]}); "
            "the model diverged"
        )
    data = save(cpu)
    config = {k: v for k, v in config.items() if k not in (DIGEST_KEY, WEIGHTS_DIGEST_KEY)}
    config[WEIGHTS_DIGEST_KEY] = hashlib.sha256(data).hexdigest()
    # The digest covers the config as a reader will parse it back (tuples as lists, ...).
    config = json.loads(json.dumps(_finite(config), allow_nan=False))
    config[DIGEST_KEY] = checkpoint_digest(data, config)
    files = {WEIGHTS_FILE: data}
    for name, value in (extra_json or {}).items():
        if name in (WEIGHTS_FILE, CONFIG_FILE, PREVIOUS_WEIGHTS_FILE) or Path(name).name != name:
            raise ValueError(f"save_tensors: {name!r} cannot be an extra file of a checkpoint")
        files[name] = _json_text(value).encode("utf-8")
    files[CONFIG_FILE] = _json_text(config).encode("utf-8")
    _replace_files(out, files)
    return out


def _replace_files(out: Path, files: dict[str, bytes]) -> None:
    """Put ``files`` into ``out`` in order (``config.json`` last), the old ones loadable."""
    out.mkdir(parents=True, exist_ok=True)
    previous = out / PREVIOUS_WEIGHTS_FILE
    staged: list[tuple[str, str]] = []
    kept_previous = weights_replaced = False
    try:
        for name, data in files.items():
            staged.append((name, _stage(out / name, data)))
        kept_previous = _keep_previous_weights(out)
        while staged:
            name, tmp = staged[0]
            if name == CONFIG_FILE:
                _sync_folder(out)  # the renames before it reach the disk first
            os.replace(tmp, out / name)
            staged.pop(0)
            weights_replaced = weights_replaced or name == WEIGHTS_FILE
        previous.unlink(missing_ok=True)
        _sync_folder(out)
    except BaseException:
        for _, tmp in staged:
            Path(tmp).unlink(missing_ok=True)
        if kept_previous and not weights_replaced:
            previous.unlink(missing_ok=True)  # the folder is still the old checkpoint
        raise


def _keep_previous_weights(out: Path) -> bool:
    """Keep the weights ``out``'s config describes as the previous ones; whether it did.

    Where an earlier save was interrupted, the config describes the previous weights
    already kept, and they stay as they are.
    """
    try:
        config = json.loads((out / CONFIG_FILE).read_text())
        data = (out / WEIGHTS_FILE).read_bytes()
    except (OSError, ValueError):
        return False  # no checkpoint there to keep
    if not isinstance(config, dict) or _digest_problem(out, data, config) is not None:
        return False
    previous = out / PREVIOUS_WEIGHTS_FILE
    previous.unlink(missing_ok=True)
    try:
        os.link(out / WEIGHTS_FILE, previous)
    except OSError:  # a file system without hard links
        atomic_write_bytes(previous, data)
    return True


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable, in order (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_tensors(
    directory: str | os.PathLike[str], required: tuple[str, ...] = ()
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and config written by :func:`save_tensors`, checked.

    Where a save was interrupted before its ``config.json``, the previous weights that
    the config still describes are loaded. A checkpoint written before the digest
    covered the config (``weights_sha256`` only) still loads when its weights match:
    models already saved stay usable, with their config unchecked as it always was.

    Raises:
        FileNotFoundError: the folder or one of its files is missing.
        ValueError: naming the file and the problem when the config is not a JSON
            object or lacks one of ``required``, the weights are truncated, tampered
            with or not safetensors, or the config was edited (digest mismatch).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    folder = Path(directory)
    config = read_config(folder, required)
    if DIGEST_KEY not in config and WEIGHTS_DIGEST_KEY not in config:
        raise ValueError(f"{folder / CONFIG_FILE}: missing keys [{DIGEST_KEY!r}]")
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: missing")
    data = weights.read_bytes()
    problem = _digest_problem(folder, data, config)
    if problem is not None:
        previous = folder / PREVIOUS_WEIGHTS_FILE
        kept = previous.read_bytes() if previous.is_file() else None
        if kept is None or _digest_problem(folder, kept, config) is not None:
            raise ValueError(problem)
        data = kept
    try:
        return load(data), config
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ValueError(f"{weights}: not a readable safetensors file: {err}") from err


def read_config(
    directory: str | os.PathLike[str], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint folder, checked for the ``required`` keys.

    Raises:
        FileNotFoundError: the folder or its ``config.json`` is missing.
        ValueError: the file is not JSON, holds no JSON object, or lacks a key.
    """
    path = Path(directory) / CONFIG_FILE
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"checkpoint folder {str(directory)!r} does not exist")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; is this a checkpoint folder?")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON (truncated or corrupt?): {err}") from err
    if not isinstance(config, dict):
        raise ValueError(f"{path}: holds a JSON {type(config).__name__}, not an object")
    missing = [k for k in required if k not in config]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    return config
