"""Collect episodes from any Gymnasium env (single or vector) with any policy.

A vector env with next-step autoreset (Gymnasium 1.x's default, and every lucidgym
native vector env) returns, on the step after an episode ends, the reset observation
with reward 0: that step is not a transition and is dropped here. A vector env with
same-step autoreset puts the last observation in ``info["final_obs"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer

Policy = Callable[[np.ndarray], Any]
"""Maps an observation to an action; for a vector env, ``[N, *O]`` to ``N`` actions."""


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
        The episodes in the order they ended. Each copy of a vector env gives its first
        ``episodes / num_envs`` episodes (rounded), so short episodes are not favoured.
    """
    if episodes < 1:
        raise ValueError(f"collect_episodes: episodes must be positive, got {episodes}")
    act = resolve_policy(policy, env.action_space, seed, "collect_episodes")
    if isinstance(env, VectorEnv):
        return _collect_vector(env, episodes, act, seed, on_episode)
    return _collect_single(env, episodes, act, seed, on_episode)


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
    obs: list[Any], actions: list[Any], rewards: list[float], terms: list[bool]
) -> Episode:
    return Episode(
        obs=np.asarray(obs, dtype=np.float32),
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
) -> Episode:
    """One episode of ``act`` in ``env`` from ``obs``, the observation of its last reset.

    ``after_step`` is called after every step (to record what else the env holds, or
    to render); ``max_steps`` cuts the episode short.
    """
    observations: list[Any] = [obs]
    actions: list[Any] = []
    rewards: list[float] = []
    terms: list[bool] = []
    done = False
    while not done and (max_steps is None or len(actions) < max_steps):
        action = act(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terms.append(bool(terminated))
        if after_step is not None:
            after_step()
        done = bool(terminated or truncated)
    return _episode(observations, actions, rewards, terms)


def _collect_single(
    env: gym.Env[Any, Any],
    episodes: int,
    act: Policy,
    seed: int | None,
    on_episode: Callable[[int], None] | None,
) -> list[Episode]:
    result: list[Episode] = []
    obs, _ = env.reset(seed=seed)
    while len(result) < episodes:
        result.append(play_episode(env, act, obs))
        if on_episode is not None:
            on_episode(len(result))
        obs, _ = env.reset()
    return result


def _collect_vector(
    env: VectorEnv,  # type: ignore[type-arg]
    episodes: int,
    act: Policy,
    seed: int | None,
    on_episode: Callable[[int], None] | None,
) -> list[Episode]:
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
    while len(result) < episodes:
        actions = np.asarray(act(obs))
        obs, reward, terminated, truncated, info = env.step(actions)
        done = np.logical_or(terminated, truncated)
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
                result.append(_episode(*trace))
                done_count[i] += 1
                if on_episode is not None:
                    on_episode(len(result))
                if mode == AutoresetMode.SAME_STEP:
                    traces[i] = [[obs[i]], [], [], []]
        prev_done = done
    return result


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
