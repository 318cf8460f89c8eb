"""A Gymnasium 1.x vector env as Stable-Baselines3's ``VecEnv``.

The two libraries end episodes differently. SB3's ``VecEnv`` resets a copy in the step
that ends its episode: that step returns the reset observation, with the final one in
``info["terminal_observation"]``. A Gymnasium 1.x vector env does it in one of three
ways, named by ``metadata["autoreset_mode"]``:

- ``SAME_STEP``: as SB3 does, the final observation in ``info["final_obs"]`` and the
  final info in ``info["final_info"]``; :class:`SB3VecEnv` moves them where SB3 looks.
- ``NEXT_STEP`` (the default, and that of lucidgym's native vector envs): the step
  *after* the end returns the reset observation, ignores its action and gives reward 0.
  Passing that on would make SB3 learn a transition that never happened, and no
  reordering can avoid it: the reset observation only comes with a step of every copy.
  So :class:`SB3VecEnv` resets the copies that ended at once, through Gymnasium's
  partial reset ``reset(options={"reset_mask": ended})``, which also clears their
  pending autoreset. Of the vector envs in Gymnasium, ``SyncVectorEnv`` and
  ``AsyncVectorEnv`` have it; a native vector env that autoresets on the next step
  without one is refused, as the conversion would be wrong.
- ``DISABLED``: nothing resets by itself; the same partial reset.

:func:`make_sb3_vec_env` builds copies of an env for SB3: its native vector env where
that resets in the same step (or takes ``autoreset_mode`` and is built so), else SB3's
own ``DummyVecEnv`` of single envs.

Example:
    >>> import gymnasium as gym
    >>> import lucidgym  # noqa: F401
    >>> from gymnasium.vector import AutoresetMode
    >>> from stable_baselines3 import PPO
    >>> from stable_baselines3.common.vec_env import VecMonitor
    >>> from lucidgym.agents.sb3.vec_env import SB3VecEnv
    >>> copies = gym.make_vec(
    ...     "PatternEcho-v0", 4, vectorization_mode="sync",
    ...     vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
    ... )
    >>> model = PPO("MlpPolicy", VecMonitor(SB3VecEnv(copies)), n_steps=32, batch_size=64)
    >>> model = model.learn(128)
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec, load_env_creator
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

PARTIAL_RESET_ENVS = (SyncVectorEnv, AsyncVectorEnv)
"""Vector envs known to reset single copies by ``reset(options={"reset_mask": mask})``."""


def autoreset_mode(venv: VectorEnv[Any, Any, Any]) -> AutoresetMode:
    """The vector env's autoreset mode (Gymnasium's default, next step, where unstated)."""
    return AutoresetMode(venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))


def unusable_reason(venv: VectorEnv[Any, Any, Any]) -> str | None:
    """Why :class:`SB3VecEnv` cannot convert ``venv`` correctly, or ``None`` where it can."""
    if autoreset_mode(venv) is not AutoresetMode.NEXT_STEP:
        return None
    if isinstance(venv.unwrapped, PARTIAL_RESET_ENVS):
        return None
    return (
        f"{type(venv.unwrapped).__name__} autoresets on the next step and has no partial "
        "reset, but SB3 needs the reset observation in the step that ends an episode; "
        "build it with autoreset_mode=SAME_STEP or DISABLED, or use make_sb3_vec_env(id, n), "
        "which falls back to SB3's DummyVecEnv of single envs"
    )


def unbatch_info(info: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Gymnasium's vector ``info`` (arrays, ``_key`` masks) as one dict per copy."""
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue  # the mask of key[1:]
        mask = info.get("_" + key)
        rows = unbatch_info(value, num_envs) if isinstance(value, dict) else value
        shared = not isinstance(value, dict) and np.ndim(value) == 0
        for i in range(num_envs):
            if mask is None or mask[i]:
                out[i][key] = rows if shared else rows[i]
    return out


def _row(obs: Any, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: _row(v, i) for k, v in obs.items()}
    return np.array(obs[i], copy=True)


def _with_rows(obs: Any, rows: list[int], source: Any) -> Any:
    """``obs`` with the rows ``rows`` taken from ``source`` (a copy)."""
    if isinstance(obs, dict):
        return {k: _with_rows(v, rows, source[k]) for k, v in obs.items()}
    out = np.array(obs, copy=True)
    out[rows] = np.asarray(source)[rows]
    return out


def _vector_seed(seeds: Sequence[int | None]) -> int | list[int | None] | None:
    """The ``seed`` of a vector reset for SB3's per-copy seeds ``[s, s + 1, ...]``."""
    if all(s is None for s in seeds):
        return None
    first = seeds[0]
    if first is not None and list(seeds) == [first + i for i in range(len(seeds))]:
        return first  # what every vector env takes: copy i gets first + i or its share
    return list(seeds)


class SB3VecEnv(VecEnv):
    """A Gymnasium vector env behind SB3's ``VecEnv`` API, with SB3's same-step reset.

    Step ``t`` of every copy is one step of ``venv``; a copy whose episode ends is reset
    within the same call (see the module docstring for how, per autoreset mode). Infos
    come per copy as SB3 gives them: the step's info (the final one where the episode
    ended), ``"terminal_observation"`` on an end and ``"TimeLimit.truncated"``; the
    reset's info goes to :attr:`reset_infos`. Seeds set by ``seed(s)`` reach the next
    reset as ``venv.reset(seed=s)`` (copy ``i`` then gets ``s + i`` in Gymnasium's
    vector envs). Wrap it in ``VecMonitor`` for SB3's episode statistics.

    A vector env without sub-envs (a native one) answers ``get_attr`` and
    ``env_method`` itself, once, for every copy asked.

    Args:
        venv: a Gymnasium 1.x vector env with same-step or disabled autoreset, or with
            next-step autoreset and partial resets (``SyncVectorEnv``, ``AsyncVectorEnv``).

    Raises:
        ValueError: ``venv`` autoresets on the next step and has no partial reset.
    """

    def __init__(self, venv: VectorEnv[Any, Any, Any]) -> None:
        problem = unusable_reason(venv)
        if problem is not None:
            raise ValueError(problem)
        self.venv = venv
        self.autoreset_mode = autoreset_mode(venv)
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> VecEnvObs:
        """Reset every copy (with the seeds and options set since the last reset)."""
        options = self._options[0]
        if any(o != options for o in self._options):
            raise ValueError("SB3VecEnv: a vector env resets every copy with the same options")
        seed: Any = _vector_seed(self._seeds)  # an int, or a list for SyncVectorEnv
        obs, info = self.venv.reset(seed=seed, options=options or None)
        self.reset_infos = unbatch_info(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs  # type: ignore[no-any-return]

    def step_async(self, actions: np.ndarray) -> None:
        """Keep the actions ``[N]`` or ``[N, *A]`` for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every copy; those whose episode ended come back reset."""
        if self._actions is None:
            raise RuntimeError("SB3VecEnv: step_async() must come before step_wait()")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        same_step = self.autoreset_mode is AutoresetMode.SAME_STEP
        if same_step:
            finals = unbatch_info(info.get("final_info", {}), self.num_envs)
            final_obs = info.get("final_obs")
            info = {k: v for k, v in info.items() if k not in _SAME_STEP_KEYS}
        infos = unbatch_info(info, self.num_envs)
        ended = np.flatnonzero(dones).tolist()
        if ended and same_step:
            for i in ended:
                self.reset_infos[i] = infos[i]  # the step's info there is the reset's
                infos[i] = {**finals[i], "terminal_observation": final_obs[i]}  # type: ignore[index]
        elif ended:
            fresh, reset_info = self.venv.reset(options={"reset_mask": dones.copy()})
            resets = unbatch_info(reset_info, self.num_envs)
            for i in ended:
                infos[i]["terminal_observation"] = _row(obs, i)
                self.reset_infos[i] = resets[i]
            obs = _with_rows(obs, ended, fresh)
        for i in range(self.num_envs):
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(rewards, dtype=np.float32), dones, infos

    def close(self) -> None:
        """Close the vector env."""
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One frame per copy (``render_mode="rgb_array"``)."""
        frames: Any = self.venv.render()
        return list(frames) if frames is not None else [None] * self.num_envs

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of each sub-env asked (of the vector env itself where it has none)."""
        rows = list(self._get_indices(indices))
        if attr_name == "render_mode":  # every vector env has one; SB3 reads it per copy
            return [self.venv.render_mode] * len(rows)
        per_copy = getattr(self.venv.unwrapped, "get_attr", None)
        if per_copy is not None:
            values = per_copy(attr_name)
            return [values[i] for i in rows]
        return [getattr(self.venv, attr_name)] * len(rows)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set the attribute in each sub-env asked (in the vector env where it has none)."""
        rows = list(self._get_indices(indices))
        base: Any = self.venv.unwrapped
        if not hasattr(base, "set_attr"):
            setattr(base, attr_name, value)
            return
        values = list(base.get_attr(attr_name))
        for i in rows:
            values[i] = value
        base.set_attr(attr_name, values)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call the method of each sub-env asked (the vector env's, once, where it has none)."""
        rows = list(self._get_indices(indices))
        envs = getattr(self.venv.unwrapped, "envs", None)
        if envs is not None:
            return [
                envs[i].get_wrapper_attr(method_name)(*method_args, **method_kwargs) for i in rows
            ]
        caller = getattr(self.venv.unwrapped, "call", None)
        if caller is not None:  # AsyncVectorEnv: every copy is called
            values = caller(method_name, *method_args, **method_kwargs)
            return [values[i] for i in rows]
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result] * len(rows)

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Whether each sub-env asked is wrapped in ``wrapper_class`` (no sub-envs: False)."""
        from stable_baselines3.common.env_util import is_wrapped

        rows = list(self._get_indices(indices))
        envs = getattr(self.venv.unwrapped, "envs", None)
        return [envs is not None and is_wrapped(envs[i], wrapper_class) for i in rows]


_SAME_STEP_KEYS = ("final_obs", "_final_obs", "final_info", "_final_info")
"""Where a same-step vector env puts the final observation and info."""


def _accepts(entry_point: Any, name: str) -> bool:
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    try:
        return name in inspect.signature(creator).parameters
    except (TypeError, ValueError):  # a builtin or a class without a readable signature
        return False


def make_sb3_vec_env(env: gym.Env[Any, Any] | EnvSpec | str, num_envs: int) -> VecEnv:
    """``num_envs`` copies of an env as an SB3 ``VecEnv`` that records episode statistics.

    The copies are built from the env's id and options (``env.spec``; a ``render_mode``
    is dropped): the env's native vector env (``vector_entry_point``), stepping every
    copy in one call, where :class:`SB3VecEnv` can convert it (built with
    ``autoreset_mode=SAME_STEP`` where its constructor takes that argument), in
    ``VecMonitor``; else SB3's own ``DummyVecEnv`` of ``Monitor``-wrapped single envs,
    stepped one by one (what SB3's ``make_vec_env`` builds).

    Raises:
        ValueError: ``num_envs`` below 1, or an env without a spec (not made by
            ``gym.make``), whose copies cannot be built.
    """
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
    spec = gym.spec(env) if isinstance(env, str) else env if isinstance(env, EnvSpec) else env.spec
    if spec is None:
        raise ValueError(
            f"{type(env).__name__}: copies of an env are built from its id, and this one was "
            "not made by gym.make (it has no spec); pass a VecEnv, or an env made by gym.make"
        )
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "render_mode"}
    spec = dataclasses.replace(spec, kwargs=kwargs)
    venv: VectorEnv[Any, Any, Any] | None = None
    if spec.vector_entry_point is not None:
        options: dict[str, Any] = {}
        if _accepts(spec.vector_entry_point, "autoreset_mode"):
            options["autoreset_mode"] = AutoresetMode.SAME_STEP
        venv = gym.make_vec(spec, num_envs, vectorization_mode="vector_entry_point", **options)
        if unusable_reason(venv) is not None:
            venv.close()
            venv = None
    if venv is not None:
        return VecMonitor(SB3VecEnv(venv))
    # SB3's own copies step faster than gymnasium's SyncVectorEnv behind SB3VecEnv (by
    # about 15% on Tutoring-v0), whose per-step info batching is then undone again.
    return DummyVecEnv([lambda: Monitor(gym.make(spec))] * num_envs)
