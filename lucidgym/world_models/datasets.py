"""Trajectory datasets in Minari's format.

Datasets live under the Minari root (``~/.minari/datasets``, or
``$MINARI_DATASETS_PATH``). :func:`record_dataset` steps the env's native vector env
when one is registered and writes every episode in one call: 100,000 Tutoring-v0
episodes (8 million steps) record in about 30 s on 2 CPU cores, and Minari's HDF5
writer then takes about 13 minutes for the 2.1 GB file. :func:`load_dataset` reads one
back as a
:class:`~lucidgym.world_models.buffer.SequenceReplayBuffer` or a list of episodes.

Loading checks every value as the buffer does
(:func:`~lucidgym.world_models.buffer.check_episode`), and recording checks them before
anything is written: a NaN, an infinity, an implausibly large value or an action
outside the space is refused with the dataset, the episode, the step and the field.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from lucidgym.progress import ProgressBar
from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer, check_episode
from lucidgym.world_models.collect import collect_episodes, make_collection_env

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


def record_dataset(
    env_id: str,
    episodes: int,
    policy: Callable[[np.ndarray], Any] | str = "random",
    name: str | None = None,
    seed: int = 0,
    progress: bool = True,
    num_envs: int = 256,
    overwrite: bool = False,
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

    Returns:
        The dataset id.
    """
    import minari

    name = dataset_id(name or f"lucidgym/{env_id.split('/')[-1].split('-v')[0].lower()}-random")
    if name in minari.list_local_datasets():
        if not overwrite:
            raise ValueError(f"dataset {name!r} exists already; choose another name or overwrite")
        minari.delete_dataset(name)
    env = make_collection_env(env_id, num_envs=min(num_envs, episodes), seed=seed)
    with ProgressBar(f"recording {env_id}", episodes, progress) as bar:
        eps = collect_episodes(
            env,
            episodes,
            policy,
            seed,
            on_episode=lambda k: bar.update(k) if k % 256 == 0 else None,
        )
        # Minari writes one HDF5 group per episode and reports no progress of its own:
        # for large datasets this takes far longer than the recording.
        bar.update(episodes, description=f"writing Minari dataset {name}")
        algorithm = policy if isinstance(policy, str) else getattr(policy, "__name__", "policy")
        _write_dataset(name, env_id, eps, algorithm, f"{episodes} episodes of {env_id}")
    env.close()
    return name


def _write_dataset(
    name: str, env_id: str, eps: list[Episode], algorithm: str, description: str
) -> None:
    """Store ``eps`` as the Minari dataset ``name``; nothing is left of it on failure."""
    import minari

    single = gym.make(env_id)
    spaces = single.observation_space, single.action_space
    single.close()
    for i, ep in enumerate(eps):
        check_episode(ep, *spaces, f"recording {env_id}: episode {i}")
    buffers = [_episode_buffer(i, ep, spaces[1]) for i, ep in enumerate(eps)]
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
            )
    except BaseException:
        # Leave no half-written dataset behind: Minari would list it and fail to load it.
        from minari.storage import get_dataset_path

        shutil.rmtree(get_dataset_path(name), ignore_errors=True)
        raise


def _episode_buffer(index: int, ep: Episode, action_space: gym.spaces.Space[Any]) -> Any:
    from minari.data_collector import EpisodeBuffer

    truncations = np.zeros(len(ep), dtype=bool)
    if len(ep) and not ep.terminal[-1]:
        truncations[-1] = True
    actions = ep.action.astype(action_space.dtype if action_space.dtype is not None else None)
    return EpisodeBuffer(
        id=index,
        observations=ep.obs.astype(np.float32),
        actions=actions,
        rewards=ep.reward.astype(np.float64),
        terminations=ep.terminal.astype(bool),
        truncations=truncations,
        infos={},
    )


def _read(name: str) -> tuple[str, list[Episode], gym.spaces.Space[Any], gym.spaces.Space[Any]]:
    """The dataset id, its episodes as stored (unchecked) and its two spaces."""
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
    data = minari.load_dataset(name)
    episodes = [
        Episode(
            obs=np.asarray(e.observations, dtype=np.float32),
            action=np.asarray(e.actions),
            reward=np.asarray(e.rewards, dtype=np.float32),
            terminal=np.asarray(e.terminations, dtype=bool),
        )
        for e in data.iterate_episodes()
    ]
    return name, episodes, data.observation_space, data.action_space


def load_episodes(name: str) -> tuple[list[Episode], gym.spaces.Space[Any], gym.spaces.Space[Any]]:
    """The episodes of a local dataset, checked, with its observation and action spaces.

    Raises:
        FileNotFoundError: no local dataset of that name (the message names it).
        ValueError: a value is refused (see
            :func:`~lucidgym.world_models.buffer.check_episode`); the message names the
            dataset, the episode, the step and the field.
    """
    name, episodes, obs_space, act_space = _read(name)
    checked = [
        check_episode(ep, obs_space, act_space, f"dataset {name!r}, episode {i}")
        for i, ep in enumerate(episodes)
    ]
    return checked, obs_space, act_space


def load_dataset(name: str, seed: int | None = None) -> SequenceReplayBuffer:
    """A local Minari dataset as a replay buffer holding all of its episodes.

    Raises:
        FileNotFoundError: no local dataset of that name.
        ValueError: a value is refused, as by :func:`load_episodes`.
    """
    name, episodes, obs_space, act_space = _read(name)
    return SequenceReplayBuffer.from_episodes(
        episodes, obs_space, act_space, seed=seed, source=f"dataset {name!r}"
    )
