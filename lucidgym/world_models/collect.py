"""Collect episodes from any Gymnasium env (single or vector) with any policy.

A vector env with next-step autoreset (Gymnasium 1.x's default, and every lucidgym
native vector env) returns, on the step after an episode ends, the reset observation
with reward 0: that step is not a transition and is dropped here. A vector env with
same-step autoreset puts the last observation in ``info["final_obs"]`` (and the last
info in ``info["final_info"]``).

:func:`collect_with_infos` also keeps the observations in the space's dtype (``uint8``
frames stay ``uint8``) and what the env reports in ``info`` at every step: a key is kept
when its value is numeric (a bool, an integer or a float; a scalar or an array) of one
shape and dtype at every step of the run, and dropped from every episode otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer

Policy = Callable[[np.ndarray], Any]
"""Maps an observation to an action; for a vector env, ``[N, *O]`` to ``N`` actions."""

StepInfos = dict[str, np.ndarray]
"""One episode's infos: each kept key's values at its ``T`` steps, ``[T, *shape]``."""

_NOT_INFOS = frozenset({"final_info", "final_obs"})
"""Keys of a vector env's info that carry another step's data, not this one's."""


def make_collection_env(env_id: str, num_envs: int = 1, seed: int | None = None) -> Any:
    """The native vector env of ``env_id`` when one is registered, else a single env."""
    spec = gym.spec(env_id)
    if num_envs > 1 and spec.vector_entry_point is not None:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    return gym.make(env_id)


def _random_policy(space: gym.spaces.Space[Any]) -> Policy:
    return lambda obs: space.sample()


def collect_episodes(
    env: gym.Env[Any, Any] | VectorEnv,  # type: ignore[type-arg]
    episodes: int,
    policy: Policy | str = "random",
    seed: int | None = None,
    on_episode: Callable[[int], None] | None = None,
) -> list[Episode]:
    """Run ``policy`` in ``env`` until ``episodes`` episodes have ended.

    Args:
        env: a single env or a vector env (next-step or same-step autoreset).
        episodes: the number of complete episodes to return.
        policy: ``"random"`` (uniform over the action space) or a callable; for a
            vector env the callable gets ``[N, *O]`` and returns ``N`` actions.
        seed: seeds the first reset and the random policy.
        on_episode: called with the number of episodes done after each one ends.

    Returns:
        The episodes in the order they ended, with float32 observations. Each copy of a
        vector env gives its first ``episodes / num_envs`` episodes (rounded), so short
        episodes are not favoured.
    """
    return _collect(env, episodes, policy, seed, on_episode, None)[0]


def collect_with_infos(
    env: gym.Env[Any, Any] | VectorEnv,  # type: ignore[type-arg]
    episodes: int,
    policy: Policy | str = "random",
    seed: int | None = None,
    on_episode: Callable[[int], None] | None = None,
    info_keys: Sequence[str] | None = None,
    *,
    where: str = "collect_with_infos",
) -> tuple[list[Episode], list[StepInfos]]:
    """:func:`collect_episodes`, keeping the space's dtype and the infos of every step.

    The same seeds give the same episodes as :func:`collect_episodes`.

    Args:
        env: as for :func:`collect_episodes`.
        episodes: the number of complete episodes to return.
        policy: ``"random"`` or a callable.
        seed: seeds the first reset and the random policy.
        on_episode: called with the number of episodes done after each one ends.
        info_keys: the info keys to keep (``()`` keeps none); by default every key whose
            value is numeric, of one shape and dtype, at every step (see the module).
        where: how messages name the collection.

    Returns:
        The episodes, with observations in the observation space's dtype, and for each
        one its infos: ``infos[key][t]`` is what step ``t`` reported.

    Raises:
        ValueError: a key of ``info_keys`` that some step does not report as a numeric
            value of the shape and dtype of the first step.
    """
    space = env.single_observation_space if isinstance(env, VectorEnv) else env.observation_space
    copies = env.num_envs if isinstance(env, VectorEnv) else 1
    infos = _InfoRows(copies, info_keys, where)
    return _collect(env, episodes, policy, seed, on_episode, infos, space.dtype)


def _collect(
    env: gym.Env[Any, Any] | VectorEnv,  # type: ignore[type-arg]
    episodes: int,
    policy: Policy | str,
    seed: int | None,
    on_episode: Callable[[int], None] | None,
    infos: _InfoRows | None,
    obs_dtype: Any = np.float32,
) -> tuple[list[Episode], list[StepInfos]]:
    if episodes < 1:
        raise ValueError(f"collect_episodes: episodes must be positive, got {episodes}")
    act = resolve_policy(policy, env.action_space, seed, "collect_episodes")
    if isinstance(env, VectorEnv):
        result, kept = _collect_vector(env, episodes, act, seed, on_episode, infos, obs_dtype)
    else:
        result, kept = _collect_single(env, episodes, act, seed, on_episode, infos, obs_dtype)
    return result, [] if infos is None else infos.only_kept(kept)


def resolve_policy(
    policy: Policy | str, space: gym.spaces.Space[Any], seed: int | None, caller: str
) -> Policy:
    """``policy`` itself, or for ``"random"`` uniform draws from ``space`` seeded with ``seed``.

    Raises:
        ValueError: any other string, naming ``caller``.
    """
    if isinstance(policy, str):
        if policy != "random":
            raise ValueError(f"{caller}: unknown policy {policy!r}; use 'random' or a callable")
        space.seed(seed)
        return _random_policy(space)
    return policy


def _episode(
    obs: list[Any],
    actions: list[Any],
    rewards: list[float],
    terms: list[bool],
    obs_dtype: Any = np.float32,
) -> Episode:
    return Episode(
        obs=np.asarray(obs, dtype=obs_dtype),
        action=np.asarray(actions),
        reward=np.asarray(rewards, dtype=np.float32),
        terminal=np.asarray(terms, dtype=bool),
    )


def play_episode(
    env: gym.Env[Any, Any],
    act: Policy,
    obs: Any,
    after_step: Callable[[], None] | None = None,
    max_steps: int | None = None,
    *,
    on_info: Callable[[dict[str, Any]], None] | None = None,
    obs_dtype: Any = np.float32,
) -> Episode:
    """One episode of ``act`` in ``env`` from ``obs``, the observation of its last reset.

    ``after_step`` is called after every step (to record what else the env holds, or
    to render) and ``on_info`` with every step's info; ``max_steps`` cuts the episode
    short; the observations come back as ``obs_dtype``.
    """
    observations: list[Any] = [obs]
    actions: list[Any] = []
    rewards: list[float] = []
    terms: list[bool] = []
    done = False
    while not done and (max_steps is None or len(actions) < max_steps):
        action = act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        if on_info is not None:
            on_info(info)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terms.append(bool(terminated))
        if after_step is not None:
            after_step()
        done = bool(terminated or truncated)
    return _episode(observations, actions, rewards, terms, obs_dtype)


def _collect_single(
    env: gym.Env[Any, Any],
    episodes: int,
    act: Policy,
    seed: int | None,
    on_episode: Callable[[int], None] | None,
    infos: _InfoRows | None,
    obs_dtype: Any,
) -> tuple[list[Episode], list[StepInfos]]:
    result: list[Episode] = []
    kept: list[StepInfos] = []
    on_info = None if infos is None else infos.add_single
    obs, _ = env.reset(seed=seed)
    while len(result) < episodes:
        result.append(play_episode(env, act, obs, on_info=on_info, obs_dtype=obs_dtype))
        if infos is not None:
            kept.append(infos.pop(0))
        if on_episode is not None:
            on_episode(len(result))
        obs, _ = env.reset()
    return result, kept


def _collect_vector(
    env: VectorEnv,  # type: ignore[type-arg]
    episodes: int,
    act: Policy,
    seed: int | None,
    on_episode: Callable[[int], None] | None,
    infos: _InfoRows | None,
    obs_dtype: Any,
) -> tuple[list[Episode], list[StepInfos]]:
    mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise ValueError(f"collect_episodes: unsupported autoreset mode {mode}")
    n = env.num_envs
    # Each copy owes a fixed quota of its first episodes. Keeping "the first N episodes
    # to end" instead would favour short ones (students who quit early).
    quota = np.full(n, episodes // n)
    quota[: episodes % n] += 1
    done_count = np.zeros(n, dtype=np.int64)
    obs, _ = env.reset(seed=seed)
    traces: list[list[list[Any]]] = [[[o], [], [], []] for o in obs]
    prev_done = np.zeros(n, dtype=bool)
    result: list[Episode] = []
    kept: list[StepInfos] = []
    while len(result) < episodes:
        actions = np.asarray(act(obs))
        obs, reward, terminated, truncated, info = env.step(actions)
        done = np.logical_or(terminated, truncated)
        if infos is not None:
            # The copies whose step is a transition, as the loop below decides.
            real = (done_count < quota) & ~(prev_done & (mode == AutoresetMode.NEXT_STEP))
            if mode == AutoresetMode.SAME_STEP and "final_info" in info:
                infos.add(info, real & ~done)
                infos.add(info["final_info"], real & done)
            else:
                infos.add(info, real)
        for i in np.flatnonzero(done_count < quota):
            if mode == AutoresetMode.NEXT_STEP and prev_done[i]:
                # The autoreset step: obs[i] starts a new episode, nothing else is real.
                traces[i] = [[obs[i]], [], [], []]
                continue
            trace = traces[i]
            final = obs[i]
            if mode == AutoresetMode.SAME_STEP and done[i]:
                final = info["final_obs"][i]
            trace[0].append(final)
            trace[1].append(actions[i])
            trace[2].append(float(reward[i]))
            trace[3].append(bool(terminated[i]))
            if done[i]:
                result.append(_episode(trace[0], trace[1], trace[2], trace[3], obs_dtype))
                if infos is not None:
                    kept.append(infos.pop(int(i)))
                done_count[i] += 1
                if on_episode is not None:
                    on_episode(len(result))
                if mode == AutoresetMode.SAME_STEP:
                    traces[i] = [[obs[i]], [], [], []]
        prev_done = done
    return result, kept


def collect_to_buffer(
    env: gym.Env[Any, Any] | VectorEnv,  # type: ignore[type-arg]
    episodes: int,
    policy: Policy | str = "random",
    seed: int | None = None,
    buffer: SequenceReplayBuffer | None = None,
) -> SequenceReplayBuffer:
    """Collect ``episodes`` episodes into ``buffer`` (a new one sized to fit if ``None``)."""
    eps = collect_episodes(env, episodes, policy, seed)
    if buffer is None:
        single = (
            env.single_observation_space if isinstance(env, VectorEnv) else env.observation_space
        )
        single_act = env.single_action_space if isinstance(env, VectorEnv) else env.action_space
        return SequenceReplayBuffer.from_episodes(eps, single, single_act, seed=seed)
    for ep in eps:
        buffer.add_episode(ep)
    return buffer


class _InfoRows:
    """The kept info values of each copy of an env, step by step, until its episode ends.

    Values go into one growing ``[N, L, *shape]`` array per key, a whole step of a vector
    env at a time, so that the cost does not grow with the number of copies.

    Args:
        copies: the number of copies ``N`` (1 for a single env).
        keys: the keys to keep; ``None`` keeps every key that the rule of the module keeps.
        caller: how messages name the caller.
    """

    def __init__(self, copies: int, keys: Sequence[str] | None, caller: str) -> None:
        self._asked = None if keys is None else tuple(keys)
        self._caller = caller
        self._layout: dict[str, tuple[tuple[int, ...], np.dtype[Any]]] | None = None
        self._rows: dict[str, np.ndarray] = {}
        self._length = np.zeros(copies, dtype=np.int64)

    def add_single(self, info: dict[str, Any]) -> None:
        """Record the info of one step of a single env."""
        self.add({key: np.asarray(value)[None] for key, value in info.items()}, np.ones(1, bool))

    def add(self, info: dict[str, Any], rows: np.ndarray) -> None:
        """Record a vector env's ``info`` (values ``[N, ...]``) for the copies where ``rows``."""
        if self._layout is None:
            self._layout = self._first_layout(info)
        copies = np.flatnonzero(rows)
        if not len(copies):
            return
        at = self._length[copies]
        for key, (shape, dtype) in list(self._layout.items()):
            value = _numeric(info, key, len(self._length))
            mask = info.get(f"_{key}")
            if (
                value is None
                or value.shape[1:] != shape
                or value.dtype != dtype
                or (mask is not None and not np.asarray(mask)[copies].all())
            ):
                self._drop(key, shape, dtype, int(at.max()))
                continue
            store = self._rows.get(key)
            if store is None or store.shape[1] <= at.max():
                # Room for twice the longest episode so far, the old rows copied over.
                grown = np.zeros((len(self._length), 2 * int(at.max()) + 64, *shape), dtype)
                if store is not None:
                    grown[:, : store.shape[1]] = store
                store = self._rows[key] = grown
            store[copies, at] = value[copies]
        self._length[copies] += 1

    def pop(self, copy: int) -> StepInfos:
        """The kept values of ``copy`` since its last ``pop``, ``[T, *shape]`` each."""
        length = int(self._length[copy])
        self._length[copy] = 0
        return {key: self._rows[key][copy, :length].copy() for key in self._rows}

    def only_kept(self, episodes: list[StepInfos]) -> list[StepInfos]:
        """``episodes`` without the keys dropped after they ended."""
        keys = set(self._layout or ())
        return [{key: rows for key, rows in ep.items() if key in keys} for ep in episodes]

    def _first_layout(self, info: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], Any]]:
        copies = len(self._length)
        numeric = {}
        for key in info:
            if key in _NOT_INFOS or (key.startswith("_") and key[1:] in info):
                continue
            value = _numeric(info, key, copies)
            if value is not None:
                numeric[key] = (value.shape[1:], value.dtype)
        if self._asked is None:
            return numeric
        for key in self._asked:
            if key not in numeric:
                raise ValueError(
                    f"{self._caller}: info key {key!r} is not reported as a number or an "
                    f"array of numbers; numeric keys reported: {sorted(numeric)}"
                )
        return {key: numeric[key] for key in self._asked}

    def _drop(self, key: str, shape: tuple[int, ...], dtype: Any, step: int) -> None:
        if self._asked is not None:
            raise ValueError(
                f"{self._caller}: info key {key!r} is not reported as {dtype} of shape "
                f"{shape} at step {step} of an episode, as at the first step"
            )
        assert self._layout is not None
        del self._layout[key]
        self._rows.pop(key, None)


def _numeric(info: dict[str, Any], key: str, copies: int) -> np.ndarray | None:
    """``info[key]`` as an array ``[copies, ...]`` of numbers, or ``None``."""
    value = info.get(key)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
        return None
    return value if value.ndim and value.shape[0] == copies else None
