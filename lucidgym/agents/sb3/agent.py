"""``sb3:<ALGO>``: any Stable-Baselines3 algorithm as a lucidgym agent.

``make_sb3_agent("PPO", env, learning_rate=1e-3)`` builds ``stable_baselines3.PPO`` for
``env`` (keyword arguments go to the algorithm's constructor, except ``policy``,
``deterministic`` and ``num_envs``). With ``num_envs=N`` it trains on ``N`` copies of the
env at a time (see :func:`~lucidgym.agents.sb3.vec_env.make_sb3_vec_env`).

Files hold the policy's ``state_dict`` and the optimizer states as safetensors, and the
algorithm, spaces, constructor arguments and counters as JSON, so that ``learn`` after
:meth:`SB3Agent.load` goes on where the saved agent stopped (what is and is not kept:
:mod:`~lucidgym.agents.sb3.resume`). SB3's own zip pickles objects, so it is never read
here and written only on request (:mod:`~lucidgym.agents.sb3.export`).

Where sb3-contrib is installed its algorithms join in (``make_sb3_agent("RecurrentPPO",
env)``). A recurrent policy keeps its LSTM state across the steps of an episode and
starts afresh at :meth:`SB3Agent.reset`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import stable_baselines3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from lucidgym.agents.experience import SuccessCount
from lucidgym.agents.protocol import ScalarLogger, Transition, log_episodes
from lucidgym.agents.sb3.resume import restore_training_state, split_tensors, training_state
from lucidgym.agents.sb3.vec_env import make_sb3_vec_env
from lucidgym.files import (
    load_tensors,
    read_config,
    save_tensors,
    space_from_json,
    space_to_json,
)

SETTINGS_RECORDED = (
    "learning_rate", "gamma", "n_steps", "batch_size", "n_epochs", "gae_lambda", "clip_range",
    "ent_coef", "vf_coef", "max_grad_norm", "buffer_size", "learning_starts", "tau",
    "train_freq", "gradient_steps", "target_update_interval", "exploration_fraction", "n_envs",
)  # fmt: skip
"""Attributes of an SB3 algorithm that :meth:`SB3Agent.settings` records where set."""


RECURRENT_POLICIES = {"MlpPolicy": "MlpLstmPolicy", "CnnPolicy": "CnnLstmPolicy"}
"""The LSTM counterpart of a policy name, for algorithms whose policies are recurrent."""


def sb3_algorithms() -> dict[str, type[BaseAlgorithm]]:
    """The algorithms of ``stable_baselines3`` and sb3-contrib (where installed) by name.

    Names are the class names: ``PPO``, ``DQN``, ``RecurrentPPO``, ...
    """
    modules: list[Any] = [stable_baselines3]
    try:
        import sb3_contrib
    except ImportError:
        pass
    else:
        modules.append(sb3_contrib)
    out = {}
    for module in modules:
        for name in dir(module):
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseAlgorithm):
                out[name] = value
    return out


def _is_recurrent(algorithm: type[BaseAlgorithm]) -> bool:
    """Whether the algorithm's policies carry a hidden state (sb3-contrib's RecurrentPPO)."""
    return algorithm.__name__ == "RecurrentPPO"


class _CurveCallback(BaseCallback):
    """Per-episode ``env_steps``, ``episode_return`` and ``success_rate`` during learning."""

    def __init__(self, logger: ScalarLogger | None = None) -> None:
        super().__init__()
        self.scalars = logger
        """Where each finished episode is reported as it ends (SB3's ``logger`` is its own)."""
        self._logged, self._start = 0, time.perf_counter()
        self.curves: dict[str, list[float]] = {
            "env_steps": [],
            "episode_return": [],
            "success_rate": [],
        }
        self._success: SuccessCount | None = None
        self._return: np.ndarray | None = None

    def _on_step(self) -> bool:
        infos: list[dict[str, Any]] = self.locals["infos"]
        dones = np.asarray(self.locals["dones"], dtype=bool)
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64).reshape(-1)
        n = len(infos)
        if self._success is None or self._return is None:
            self._success, self._return = SuccessCount(n), np.zeros(n)
        self._return += rewards
        # SB3's VecEnv steps every copy each call (it resets in the same step), so all
        # transitions are real; a copy that does not report success in a step adds nothing.
        reported = np.array(["success" in info for info in infos])
        if reported.any():
            success = np.array([float(info.get("success", 0.0)) for info in infos])
            grades = np.array(["graded" in info for info in infos])
            graded = np.array([float(info.get("graded", 0.0)) for info in infos])
            self._success.step(reported & ~grades, success, None)
            self._success.step(reported & grades, success, graded)
        for i in np.flatnonzero(dones):
            episode = infos[i].get("episode")
            ret = float(episode["r"]) if episode else float(self._return[i])
            self.curves["env_steps"].append(float(self.num_timesteps))
            self.curves["episode_return"].append(ret)
            self.curves["success_rate"].append(self._success.finish(int(i)))
            self._return[i] = 0.0
        self._logged = log_episodes(self.scalars, self.curves, self._logged, self._start)
        return True


class _SpacesOnlyEnv(gym.Env[Any, Any]):
    """An env that only carries spaces: SB3 builds a policy from an env's spaces."""

    def __init__(
        self, observation_space: gym.spaces.Space[Any], action_space: gym.spaces.Space[Any]
    ):
        self.observation_space = observation_space
        self.action_space = action_space

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        raise RuntimeError("a loaded SB3 agent has no env: pass one to learn()")

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        raise RuntimeError("a loaded SB3 agent has no env: pass one to learn()")


class SB3Agent:
    """A Stable-Baselines3 algorithm behind the :class:`~lucidgym.agents.protocol.Learner` API.

    Args:
        algo: class name in ``stable_baselines3`` (``"PPO"``, ``"A2C"``, ``"DQN"``, ...).
        env: the env whose spaces the policy is built for (and the default to learn on);
            with ``num_envs`` above 1, an env made by ``gym.make`` (its id builds the
            copies) or an SB3 ``VecEnv`` of ``num_envs`` copies.
        policy: SB3 policy name (default ``"MlpPolicy"``; for a recurrent algorithm
            its LSTM counterpart, ``"MlpLstmPolicy"``).
        deterministic: ``act`` takes the policy's mode (default True).
        num_envs: copies of the env stepped together in training (default: those of a
            ``VecEnv`` given, else 1, SB3's ``DummyVecEnv`` of ``env`` itself); above 1,
            :func:`make_sb3_vec_env` builds them from ``env`` (the native vector env
            where SB3 can use it), so on-policy rollouts hold ``n_steps * num_envs`` steps.
        **kwargs: passed to the algorithm's constructor (JSON-serializable to be saved).

    Raises:
        ValueError: an unknown algorithm, a ``num_envs`` below 1, or an env the
            algorithm cannot act in.
    """

    trained_env_steps: int = 0
    """Real env steps of the last :meth:`learn` (it can pass ``total_steps`` by less than
    one block of steps)."""

    def __init__(
        self,
        algo: str,
        env: gym.Env[Any, Any] | VecEnv,
        policy: str = "MlpPolicy",
        deterministic: bool = True,
        num_envs: int | None = None,
        **kwargs: Any,
    ) -> None:
        algorithms = sb3_algorithms()
        if algo not in algorithms:
            raise ValueError(f"unknown SB3 algorithm {algo!r}; valid: {sorted(algorithms)}")
        if num_envs is None:
            num_envs = env.num_envs if isinstance(env, VecEnv) else 1
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"sb3:{algo}: num_envs must be a positive integer, got {num_envs!r}")
        self.recurrent = _is_recurrent(algorithms[algo])
        """Whether the policy keeps a hidden state over an episode's steps."""
        if self.recurrent:
            policy = RECURRENT_POLICIES.get(policy, policy)
        self.algo = algo
        self.policy_name = policy
        self._hidden: Any = None
        self._episode_start = np.ones(1, dtype=bool)
        self.deterministic = deterministic
        self.num_envs = num_envs
        self.kwargs = dict(kwargs)
        self._built: VecEnv | None = None
        """The copies this agent built for training, closed when it builds others."""
        train_env = self._training_env(env)
        try:
            self.model = algorithms[algo](policy, train_env, **kwargs)
        except AssertionError as err:
            raise ValueError(
                f"sb3:{algo} cannot be used on this env (action space {train_env.action_space}, "
                f"observation space {train_env.observation_space}): {err}"
            ) from err

    def _training_env(self, env: gym.Env[Any, Any] | VecEnv) -> gym.Env[Any, Any] | VecEnv:
        """What SB3 trains on: ``env`` itself, or ``num_envs`` copies of it."""
        if isinstance(env, VecEnv):
            if env.num_envs != self.num_envs:
                raise ValueError(
                    f"sb3:{self.algo}: a VecEnv of {env.num_envs} copies for an agent "
                    f"of num_envs={self.num_envs}"
                )
            return env
        if self.num_envs == 1:
            return env
        built, previous = make_sb3_vec_env(env, self.num_envs), self._built
        if previous is not None:
            previous.close()
        self._built = built
        return built

    def reset(self, *, seed: int | None = None) -> None:
        """A new episode: a recurrent policy forgets its hidden state (others keep none)."""
        self._hidden = None
        self._episode_start = np.ones(1, dtype=bool)
        if seed is not None:
            self.model.set_random_seed(seed)

    def act(self, obs: np.ndarray) -> Any:
        """The policy's action for ``obs`` (its mode unless ``deterministic=False``)."""
        if self.recurrent:
            action, self._hidden = self.model.predict(
                obs,
                state=self._hidden,
                episode_start=self._episode_start,
                deterministic=self.deterministic,
            )
            self._episode_start = np.zeros(1, dtype=bool)
        else:
            action, _ = self.model.predict(obs, deterministic=self.deterministic)
        if isinstance(self.model.action_space, gym.spaces.Discrete):
            return int(action)
        return action

    def observe(self, transition: Transition) -> None:
        """SB3 learns only inside :meth:`learn`; nothing happens here."""

    def learn(
        self,
        env: gym.Env[Any, Any] | VecEnv,
        total_steps: int,
        *,
        seed: int | None = None,
        logger: ScalarLogger | None = None,
    ) -> dict[str, list[float]]:
        """Train for ``total_steps`` more env steps on ``env``; curves per finished episode.

        ``logger`` gets each finished episode (``charts/*``) as it ends; where it has a
        ``log_dir`` (a :class:`~lucidgym.tensorboard.TensorBoardLogger`) and no
        ``tensorboard_log`` was given, SB3's own logger writes its TensorBoard scalars
        (``rollout/ep_rew_mean``, ``train/*``, ``time/fps``) into that folder too.

        Learning goes on from where the agent stands: a loaded or already trained agent
        keeps its optimizer state and its step count (``num_timesteps``, which SB3's
        schedules read and the curves' ``env_steps`` continue from). Episodes start
        afresh on ``env``. With ``num_envs`` above 1, ``env`` gives the id and options
        of the copies.
        """
        if total_steps < 1:
            raise ValueError(f"sb3:{self.algo}: total_steps must be positive, got {total_steps}")
        self.model.set_env(self._training_env(env))
        if seed is not None:
            self.model.set_random_seed(seed)
        log_dir = getattr(logger, "log_dir", None)
        sb3_logger = None
        if log_dir is not None and self.model.tensorboard_log is None:
            from stable_baselines3.common.logger import configure

            formats = ["stdout", "tensorboard"] if self.model.verbose else ["tensorboard"]
            sb3_logger = configure(str(log_dir), formats)
            self.model.set_logger(sb3_logger)
        elif self.model.tensorboard_log is None and not self.model.verbose:
            # SB3's default logger makes a folder under the system temp dir on every
            # learn() even when it writes nothing; a logger without outputs makes none.
            from stable_baselines3.common.logger import Logger

            self.model.set_logger(Logger(folder=None, output_formats=[]))
        callback = _CurveCallback(logger)
        start = int(self.model.num_timesteps)
        # A fresh agent resets as SB3 does by default (a new TensorBoard run folder);
        # one that has learned goes on counting, as SB3 users resume training.
        try:
            self.model.learn(
                total_timesteps=total_steps, callback=callback, reset_num_timesteps=start == 0
            )
        finally:
            if sb3_logger is not None:
                # The folder is this call's; a later learn() sets up its logger afresh.
                sb3_logger.close()
                self.model._custom_logger = False
        # On-policy algorithms collect whole rollouts (PPO: n_steps per env copy), so the
        # count can pass total_steps: 20,480 for 20,000 with PPO's default 2,048.
        self.trained_env_steps = int(self.model.num_timesteps) - start
        return callback.curves

    def settings(self) -> dict[str, Any]:
        """The algorithm, the options given and the hyperparameters SB3 settled on."""
        effective = {}
        for name in SETTINGS_RECORDED:
            value = getattr(self.model, name, None)
            if isinstance(value, bool | int | float | str):
                effective[name] = value
        return {
            "algo": self.algo,
            "policy": self.policy_name,
            "deterministic": self.deterministic,
            "kwargs": self.kwargs,
            "hyperparameters": effective,
        }

    def save(self, path: str | Path) -> None:
        """Write ``model.safetensors`` and ``config.json`` into ``path``.

        They hold the weights, the optimizer states and the step counters: enough for
        :meth:`load` and then :meth:`learn` to go on (see :mod:`~lucidgym.agents.sb3.resume`).
        """
        try:
            spaces = [
                space_to_json(self.model.observation_space),
                space_to_json(self.model.action_space),
            ]
        except TypeError as err:
            raise ValueError(f"sb3 agent: {err}") from err
        tensors, training = training_state(self.model)
        meta = {
            "agent": f"sb3:{self.algo}",
            "algo": self.algo,
            "policy": self.policy_name,
            "deterministic": self.deterministic,
            "num_envs": self.num_envs,
            "kwargs": self.kwargs,
            "observation_space": spaces[0],
            "action_space": spaces[1],
        }
        try:
            json.dumps(meta)
        except TypeError as err:
            raise ValueError(f"sb3:{self.algo}: constructor arguments are not JSON: {err}") from err
        try:
            json.dumps(training)
        except TypeError as err:
            raise ValueError(f"sb3:{self.algo}: optimizer state is not JSON: {err}") from err
        meta["training"] = training
        save_tensors(path, {**self.model.policy.state_dict(), **tensors}, meta)

    @classmethod
    def load(cls, path: str | Path) -> SB3Agent:
        """An agent from a folder written by :meth:`save` (pass an env to learn more).

        A folder saved before optimizer states were kept loads with the weights only,
        as it always did (0 steps, a fresh optimizer).
        """
        if not str(read_config(path).get("agent", "")).startswith("sb3:"):
            raise ValueError(
                f"sb3 agent: {path} holds no saved SB3 agent (its config.json names no "
                "sb3:<ALGO> agent)"
            )
        state, meta = load_tensors(path, ("agent",))
        observation_space = space_from_json(meta["observation_space"])
        action_space = space_from_json(meta["action_space"])
        num_envs = meta.get("num_envs", 1)
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(
                f"{Path(path) / 'config.json'}: num_envs must be a positive integer, "
                f"got {num_envs!r}"
            )
        env: gym.Env[Any, Any] | VecEnv = _SpacesOnlyEnv(observation_space, action_space)
        if num_envs > 1:  # SB3 keeps the number of copies a model was built for
            copies = [lambda: _SpacesOnlyEnv(observation_space, action_space)] * num_envs
            env = DummyVecEnv(copies)  # type: ignore[arg-type]
        agent = cls(
            meta["algo"], env, meta["policy"], meta["deterministic"], num_envs, **meta["kwargs"]
        )
        weights, training = split_tensors(state)
        agent.model.policy.load_state_dict(weights)
        if "training" in meta:
            try:
                restore_training_state(agent.model, training, meta["training"])
            except ValueError as err:
                raise ValueError(f"{Path(path) / 'config.json'}: {err}") from err
        return agent


def make_sb3_agent(algo: str, env: gym.Env[Any, Any], **config: Any) -> SB3Agent:
    """``SB3Agent(algo, env, **config)``: the factory behind ``make_agent("sb3:<ALGO>")``."""
    return SB3Agent(algo, env, **config)
