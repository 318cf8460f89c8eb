"""Trajectory datasets in Minari's format, faithful to the env.

Datasets live under the Minari root (``~/.minari/datasets``, or
``$MINARI_DATASETS_PATH``). :func:`record_dataset` steps the env's native vector env
when one is registered and writes every episode in one call; :func:`load_dataset` reads
one back as a :class:`~lucidgym.world_models.buffer.SequenceReplayBuffer`,
:func:`load_episodes` as a list of episodes, and :func:`load_infos` gives each episode's
infos.

What is stored is what the env gave: observations and actions in their spaces' dtypes
(MovingDot's frames as ``uint8``, never JPEG-encoded) and, through Minari's own
``infos``, the info of every step. Which keys: those named by the env's
``metadata["dataset_infos"]`` where it has one, else every key that the env reports at
every step as a number or an array of numbers of one shape and dtype (the rule of
:func:`~lucidgym.world_models.collect.collect_with_infos`): Tutoring's ``true_mastery``,
``quit``, ``mastered`` and eight more; MovingDot's true ``state``, ``occluded`` and
``success``. ``info_keys`` chooses others. Minari keeps one row of infos per
observation: row ``t + 1`` holds what step ``t`` reported, and row 0, before any step,
zeros, since a reset reports no such keys (Tutoring's vector env reports none);
:func:`load_infos` leaves row 0 out.

Writing costs one HDF5 group per episode and one HDF5 dataset per field and info key:
on 16,000 Tutoring-v0 episodes, its eleven keys made the write about 3.5x slower and
the file 2.5x larger than no infos, the three above about 2x and 1.4x. Writing is one
``minari.create_dataset_from_buffers`` call, the most batched route Minari offers:
feeding its storage 256 episodes at a time was no faster, and one episode at a time, as
a ``DataCollector`` does, 2.4x slower.

Two formats (Minari's ``data_format``): ``"hdf5"``, one file, and ``"arrow"``, a folder
per episode, about 2x faster to read and smaller (2.5x for Tutoring). Minari 0.5.4
writes Arrow in time quadratic in the number of episodes (after each one it walks the
whole dataset folder to total its size: 200 Tutoring episodes took 2.1 s, 400 took
5.5 s, 800 took 20 s), so HDF5 stays the default until Minari writes Arrow in linear
time. Loading reads the infos too (Minari decodes them with every episode).

Loading checks every value as the buffer does
(:func:`~lucidgym.world_models.buffer.check_episode`), and recording checks them before
anything is written: a NaN, an infinity, an implausibly large value or an action
outside the space is refused with the dataset, the episode, the step and the field.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from lucidgym.progress import ProgressBar
from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer, check_episode
from lucidgym.world_models.collect import StepInfos, collect_with_infos, make_collection_env

DATA_FORMATS = ("hdf5", "arrow")
"""Minari's storage formats that datasets are written in; the first is the default."""

_VERSIONED = re.compile(r"-v\d+$")


def dataset_id(name: str) -> str:
    """``name`` as a Minari dataset id: ``-v0`` is appended when no version is given.

    Raises:
        ValueError: the name is not of the form ``[namespace/]name[-vN]``.
    """
    full = name if _VERSIONED.search(name) else f"{name}-v0"
    from minari.dataset.minari_dataset import DATASET_ID_RE

    if not DATASET_ID_RE.fullmatch(full):
        raise ValueError(
            f"dataset name {name!r} is not valid: use [namespace/]name[-vN] with letters, "
            "digits, '_' and '-', namespaces of 2+ characters (e.g. 'lucidgym/tutoring-random')"
        )
    return full


def check_data_format(data_format: str) -> None:
    """Refuse a format Minari cannot write here, before anything is recorded.

    Raises:
        ValueError: not one of :data:`DATA_FORMATS`.
        ImportError: ``"arrow"`` without pyarrow installed.
    """
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"unknown data format {data_format!r}; use one of {', '.join(DATA_FORMATS)}"
        )
    if data_format == "arrow":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise ImportError(
                "data format 'arrow' needs pyarrow, which is not installed: "
                'pip install "minari[arrow]"'
            )


def record_dataset(
    env_id: str,
    episodes: int,
    policy: Callable[[np.ndarray], Any] | str = "random",
    name: str | None = None,
    seed: int = 0,
    progress: bool = True,
    num_envs: int = 256,
    overwrite: bool = False,
    data_format: str = "hdf5",
    info_keys: Sequence[str] | None = None,
) -> str:
    """Run ``episodes`` episodes of ``env_id`` and store them as a Minari dataset.

    Args:
        env_id: any registered Gymnasium id.
        episodes: the number of episodes.
        policy: ``"random"`` or a callable; with a native vector env it gets
            ``[N, *O]`` observations and returns ``N`` actions.
        name: the dataset id (default ``lucidgym/<env>/random-v0``).
        seed: seeds the env and the random policy.
        progress: show a progress bar.
        num_envs: copies stepped together when the env has a native vector env.
        overwrite: replace an existing dataset of that name.
        data_format: ``"hdf5"`` or ``"arrow"`` (quadratic write time: see the module).
        info_keys: the info keys to store (``()`` stores none); by default the env's
            ``metadata["dataset_infos"]``, else every key the env reports at every step
            as numbers of one shape and dtype.

    Returns:
        The dataset id.

    Raises:
        ValueError: a bad name or format, an existing dataset, a key of ``info_keys``
            not reported at every step, or a value refused by
            :func:`~lucidgym.world_models.buffer.check_episode`.
    """
    import minari

    check_data_format(data_format)
    name = dataset_id(name or f"lucidgym/{env_id.split('/')[-1].split('-v')[0].lower()}-random")
    if name in minari.list_local_datasets():
        if not overwrite:
            raise ValueError(f"dataset {name!r} exists already; choose another name or overwrite")
        minari.delete_dataset(name)
    if info_keys is None:
        single = gym.make(env_id)
        info_keys = single.metadata.get("dataset_infos")
        single.close()
    env = make_collection_env(env_id, num_envs=min(num_envs, episodes), seed=seed)
    with ProgressBar(f"recording {env_id}", episodes, progress) as bar:
        eps, infos = collect_with_infos(
            env,
            episodes,
            policy,
            seed,
            on_episode=lambda k: bar.update(k) if k % 256 == 0 else None,
            info_keys=info_keys,
            where=f"recording {env_id}",
        )
        # Minari writes one HDF5 group per episode and reports no progress of its own:
        # for large datasets this takes far longer than the recording.
        bar.update(episodes, description=f"writing Minari dataset {name}")
        algorithm = policy if isinstance(policy, str) else getattr(policy, "__name__", "policy")
        description = f"{episodes} episodes of {env_id}"
        _write_dataset(name, env_id, eps, algorithm, description, infos, data_format)
    env.close()
    return name


def _write_dataset(
    name: str,
    env_id: str,
    eps: list[Episode],
    algorithm: str,
    description: str,
    infos: list[StepInfos] | None = None,
    data_format: str = "hdf5",
) -> None:
    """Store ``eps`` as the Minari dataset ``name``; nothing is left of it on failure."""
    import minari

    single = gym.make(env_id)
    spaces = single.observation_space, single.action_space
    single.close()
    for i, ep in enumerate(eps):
        check_episode(ep, *spaces, f"recording {env_id}: episode {i}")
    infos = infos or [{} for _ in eps]
    buffers = [
        _episode_buffer(i, ep, info, *spaces, data_format)
        for i, (ep, info) in enumerate(zip(eps, infos, strict=True))
    ]
    try:
        with warnings.catch_warnings():
            # Minari asks for a code permalink, an e-mail and an eval env: none apply.
            warnings.filterwarnings("ignore", message=".*is set to None", category=UserWarning)
            minari.create_dataset_from_buffers(
                dataset_id=name,
                buffer=buffers,
                env=env_id,
                algorithm_name=algorithm,
                author="lucidgym",
                description=description,
                data_format=data_format,
                # JPEG would change the pixels that a world model learns from.
                jpeg_encoding=False,
            )
    except BaseException:
        # Leave no half-written dataset behind: Minari would list it and fail to load it.
        from minari.storage import get_dataset_path

        shutil.rmtree(get_dataset_path(name), ignore_errors=True)
        raise


def _episode_buffer(
    index: int,
    ep: Episode,
    infos: StepInfos,
    observation_space: gym.spaces.Space[Any],
    action_space: gym.spaces.Space[Any],
    data_format: str,
) -> Any:
    from minari.data_collector import EpisodeBuffer

    truncations = np.zeros(len(ep), dtype=bool)
    if len(ep) and not ep.terminal[-1]:
        truncations[-1] = True
    rows: dict[str, Any] = {}
    for key, values in infos.items():
        values = np.concatenate([np.zeros_like(values[:1]), values])
        # Minari 0.5.4's Arrow reader fails on a one-dimensional array of infos and
        # reads a list of numbers back as the same array (HDF5 writes arrays faster).
        rows[key] = list(values) if values.ndim == 1 and data_format == "arrow" else values
    return EpisodeBuffer(
        id=index,
        observations=_as_dtype(ep.obs, observation_space, f"episode {index}"),
        actions=_as_dtype(ep.action, action_space, f"episode {index}"),
        rewards=ep.reward.astype(np.float64),
        terminations=ep.terminal.astype(bool),
        truncations=truncations,
        infos=rows,
    )


def _as_dtype(values: np.ndarray, space: gym.spaces.Space[Any], where: str) -> np.ndarray:
    """``values`` in the dtype of ``space``, which must hold them exactly."""
    if space.dtype is None or values.dtype == space.dtype:
        return values
    cast = values.astype(space.dtype)
    if not np.array_equal(cast, values):
        raise ValueError(f"{where}: values do not fit the space's dtype {space.dtype}")
    return cast


def _read(name: str) -> tuple[str, Any]:
    """The dataset id and the Minari dataset."""
    import minari

    name = dataset_id(name)
    local = minari.list_local_datasets()
    if name not in local:
        from minari.storage import get_dataset_path

        raise FileNotFoundError(
            f"dataset {name!r} not found under {get_dataset_path()}; record one with "
            f"'lucidgym data --env ID --episodes N --out {name}' (local datasets: "
            f"{sorted(local)[:10]})"
        )
    return name, minari.load_dataset(name)


def _episodes(data: Any) -> list[Episode]:
    """The episodes of a Minari dataset as stored (unchecked)."""
    return [
        Episode(
            obs=np.asarray(e.observations),
            action=np.asarray(e.actions),
            reward=np.asarray(e.rewards, dtype=np.float32),
            terminal=np.asarray(e.terminations, dtype=bool),
        )
        for e in data.iterate_episodes()
    ]


def load_episodes(name: str) -> tuple[list[Episode], gym.spaces.Space[Any], gym.spaces.Space[Any]]:
    """The episodes of a local dataset, checked, with its observation and action spaces.

    Observations come back in the dtype they are stored in where it is the space's
    (``uint8`` frames stay ``uint8``), the other fields as
    :func:`~lucidgym.world_models.buffer.check_episode` returns them.

    Raises:
        FileNotFoundError: no local dataset of that name (the message names it).
        ValueError: a value is refused (see
            :func:`~lucidgym.world_models.buffer.check_episode`); the message names the
            dataset, the episode, the step and the field.
    """
    name, data = _read(name)
    obs_space, act_space = data.observation_space, data.action_space
    checked = []
    for i, ep in enumerate(_episodes(data)):
        clean = check_episode(ep, obs_space, act_space, f"dataset {name!r}, episode {i}")
        checked.append(clean._replace(obs=ep.obs) if ep.obs.dtype == obs_space.dtype else clean)
    return checked, obs_space, act_space


def load_infos(name: str) -> list[StepInfos]:
    """The stored infos of each episode of a local dataset, in episode order.

    ``infos[i][key][t]`` is what step ``t`` of episode ``i`` reported under ``key``
    (``[T, *shape]`` for each key, in the dtype the env reported). A dataset recorded
    without infos gives empty dicts.

    Raises:
        FileNotFoundError: no local dataset of that name.
        ValueError: an info with no row per observation, naming the dataset, the
            episode and the key.
    """
    name, data = _read(name)
    result = []
    for i, e in enumerate(data.iterate_episodes()):
        rows = len(e.rewards) + 1
        infos = {}
        for key, values in (e.infos or {}).items():
            values = np.asarray(values)
            if values.shape[:1] != (rows,):
                raise ValueError(
                    f"dataset {name!r}, episode {i}: info {key!r} has shape {values.shape}, "
                    f"expected {rows} rows (one per observation)"
                )
            infos[key] = values[1:]
        # HDF5 gives the keys sorted, Arrow in the order written: one order for both.
        result.append(dict(sorted(infos.items())))
    return result


def load_dataset(name: str, seed: int | None = None) -> SequenceReplayBuffer:
    """A local Minari dataset as a replay buffer holding all of its episodes.

    Raises:
        FileNotFoundError: no local dataset of that name.
        ValueError: a value is refused, as by :func:`load_episodes`.
    """
    name, data = _read(name)
    return SequenceReplayBuffer.from_episodes(
        _episodes(data),
        data.observation_space,
        data.action_space,
        seed=seed,
        source=f"dataset {name!r}",
    )
