"""The planning agents: one per row of :data:`~lucidgym.agents.planners.PLANNERS`.

Each pairs a planner (:mod:`lucidgym.agents.planners`) with a model to plan in:

- ``model="oracle"``: the environment's true simulator. Every decision starts from
  ``env.unwrapped.get_state()`` of the env the agent was built with and searches
  ``env.unwrapped.get_dynamics(seed)``; nothing is learned (:class:`OraclePlanningAgent`).
- ``model="belief"``: the same true simulator, but every decision starts from a
  particle filter's belief over the hidden state, fed only the observations and actions
  (:class:`BeliefPlanningAgent`, :mod:`~lucidgym.agents.planning.belief`): the ceiling
  for a learned model of an env with hidden state.
- ``model="<backend>"`` (``mlp``, ``rssm``, ...): a world model learned from real
  experience (:class:`ModelPlanningAgent`, a :class:`~lucidgym.agents.protocol.Learner`).
  While acting it filters the episode into the model's state with ``model.observe``
  and plans from that state.

Options are described in :mod:`lucidgym.agents.planning.config`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lucidgym.agents.planners import PLANNERS, Planner
from lucidgym.agents.planning.belief import ParticleBelief
from lucidgym.agents.planning.config import PlanningAgentConfig, planning_defaults, split_config
from lucidgym.agents.planning.dynamics import (
    TimeLimitedDynamics,
    WorldModelDynamics,
    oracle_dynamics,
)
from lucidgym.agents.planning.model_learning import ModelLearner
from lucidgym.agents.protocol import (
    Transition,
    act_one,
    env_name,
    expert_policy,
    register_agent,
    to_env_action,
)
from lucidgym.files import atomic_write_json
from lucidgym.world_models.registry import config_to_dict

AGENT_FILE = "agent.json"
"""The agent's own settings, written beside the world-model checkpoint."""


def build_planner(
    name: str, env: gym.Env[Any, Any], config: PlanningAgentConfig, planner_config: Any
) -> Planner:
    """The planner of agent ``name``, given the base policy the config asks for.

    Raises:
        ValueError: ``base_policy="expert"`` for an env without expert rules.
    """
    policy = None if config.base_policy == "none" else expert_policy(env)
    if policy is None and config.base_policy == "expert":
        raise ValueError(f"{name}: {env_name(env)} has no expert rules to use as base_policy")
    return PLANNERS[name].build(planner_config, policy)


def check_planning_spaces(name: str, env: gym.Env[Any, Any], learned: bool) -> None:
    """Refuse spaces a planning agent cannot handle, naming agent, env and space."""
    if not isinstance(env.action_space, gym.spaces.Discrete | gym.spaces.Box):
        raise ValueError(
            f"{name}: cannot plan on {env_name(env)}: action space {env.action_space} "
            "is neither Discrete nor Box"
        )
    if learned and not isinstance(env.observation_space, gym.spaces.Box):
        raise ValueError(
            f"{name}: a learned model of {env_name(env)} needs a Box observation space, "
            f"got {env.observation_space}"
        )


def time_limit(env: gym.Env[Any, Any]) -> int | None:
    """The env's registered ``max_episode_steps`` (``None`` where it has none)."""
    return env.spec.max_episode_steps if env.spec is not None else None


class _EpisodeClock:
    """The steps of the episode so far, and the dynamics that end where the episode does."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        self.limit = time_limit(env)
        self.steps = 0

    def limited(self, dynamics: Any) -> Any:
        """``dynamics`` with states ending at the time limit (as they are without one)."""
        return dynamics if self.limit is None else TimeLimitedDynamics(dynamics, self.limit)

    def root(self, dynamics: Any, state: Any) -> Any:
        """The planning root of ``state`` in :meth:`limited` dynamics, now."""
        return state if self.limit is None else dynamics.root(state, self.steps)


def _surprise(space: gym.spaces.Space[Any], expected: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute prediction error, in units of the space's half-range where bounded."""
    err = np.abs(np.asarray(expected, dtype=np.float64) - np.asarray(actual, dtype=np.float64))
    if isinstance(space, gym.spaces.Box):
        span = (space.high.astype(np.float64) - space.low.astype(np.float64)) / 2
        span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        err = err / span
    return float(err.mean())


class OraclePlanningAgent:
    """Plans with the true simulator of the env it was built with.

    Args:
        name: the agent name (a key of ``PLANNERS``).
        env: the environment it will act in; must expose ``get_state``/``get_dynamics``.
        config: the shared options.
        planner_config: the planner's options.
    """

    def __init__(
        self, name: str, env: gym.Env[Any, Any], config: PlanningAgentConfig, planner_config: Any
    ) -> None:
        check_planning_spaces(name, env, learned=False)
        oracle_dynamics(env, 0)  # raises a clear error when there is no simulator
        self.name, self.env, self.config = name, env, config
        self.planner = build_planner(name, env, config, planner_config)
        self._episode = 0
        self._seed = config.seed
        self._dynamics: Any = None
        self._expected_obs: np.ndarray | None = None
        self._clock = _EpisodeClock(env)

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode; the oracle's own random draws are seeded per episode."""
        if seed is not None:
            self._seed, self._episode = seed, 0
        oracle = oracle_dynamics(self.env, self._seed * 100_003 + self._episode)
        self._dynamics = self._clock.limited(oracle)
        self._clock.steps = 0
        self._episode += 1
        self._expected_obs = None
        self.planner.reset()

    def act(self, obs: np.ndarray) -> Any:
        """Plan from the env's current true state."""
        if self._dynamics is None:
            self.reset()
        watch = self.planner.watches_surprise
        if self._expected_obs is not None and watch:
            self.planner.record_surprise(
                _surprise(self.env.observation_space, self._expected_obs, obs)
            )
        root = self._clock.root(self._dynamics, self._root_state(obs))
        action = self.planner.plan(self._dynamics, root)
        if watch and hasattr(self._dynamics, "observe"):
            after, _, _ = self._dynamics.step(root, np.asarray(action)[None])
            self._expected_obs = np.asarray(self._dynamics.observe(after))[0]
        self._clock.steps += 1
        return to_env_action(self.env.action_space, action)

    def _root_state(self, obs: np.ndarray) -> Any:
        """The state the search starts from: the env's true state."""
        return self.env.unwrapped.get_state()  # type: ignore[attr-defined]

    def settings(self) -> dict[str, Any]:
        """The shared options and the planner's."""
        return {"agent": self.config.to_dict(), "planner": dataclasses.asdict(self.planner.config)}

    def observe(self, transition: Transition) -> None:
        """The simulator is exact: nothing to learn."""


class BeliefPlanningAgent(OraclePlanningAgent):
    """Plans with the true simulator from a belief inferred from observations alone.

    A particle filter (:class:`~lucidgym.agents.planning.belief.ParticleBelief`, of
    ``config.particles`` particles) follows the episode through :meth:`observe`; it
    never reads the env's hidden state. Each decision searches from states drawn from
    the belief: as many as the planner dreams per candidate (``dream``'s ``samples``,
    the ``i``-th dream of every candidate from the ``i``-th draw, so candidates are
    compared on the same students), one for the other planners.
    """

    def __init__(
        self, name: str, env: gym.Env[Any, Any], config: PlanningAgentConfig, planner_config: Any
    ) -> None:
        super().__init__(name, env, config, planner_config)
        ParticleBelief(oracle_dynamics(env, 0), 1, config.belief_bandwidth, 0)  # checks
        self.belief: ParticleBelief | None = None

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode with a belief that knows only the env's population."""
        super().reset(seed=seed)
        stream = self._seed * 100_003 + self._episode + 7_919
        self.belief = ParticleBelief(
            oracle_dynamics(self.env, stream), self.config.particles,
            self.config.belief_bandwidth, stream,
        )  # fmt: skip

    def _root_state(self, obs: np.ndarray) -> Any:
        """Draws from the belief, started on the episode's first observation."""
        assert self.belief is not None
        if not self.belief.started:
            self.belief.start(obs)
        draws = int(getattr(self.planner.config, "samples", 1))
        if getattr(self.planner.config, "mode", "policy") != "policy":
            draws = 1
        return self.belief.sample(draws)

    def observe(self, transition: Transition) -> None:
        """Filter the real step into the belief."""
        if self.belief is None or not self.belief.started:
            return
        action = np.asarray(transition.action)
        if isinstance(self.env.action_space, gym.spaces.Discrete):
            action = action.astype(np.int64)
        self.belief.update(action, np.asarray(transition.next_obs), bool(transition.terminated))


class ModelPlanningAgent:
    """Learns a world model from real experience and plans inside it.

    The agent owns the loop of :meth:`learn`; its :class:`ModelLearner` holds the model,
    the replay buffer and the fit schedule.

    Args:
        name: the agent name (a key of ``PLANNERS``).
        env: the environment (its spaces size the model).
        config: the shared options (``config.model`` is the backend name).
        planner_config: the planner's options.
        model: an already trained backend to plan with (e.g. loaded from a checkpoint).
    """

    def __init__(
        self,
        name: str,
        env: gym.Env[Any, Any],
        config: PlanningAgentConfig,
        planner_config: Any,
        model: torch.nn.Module | None = None,
    ) -> None:
        check_planning_spaces(name, env, learned=True)
        self.name, self.env, self.config = name, env, config
        self.planner_config = planner_config
        self.planner = build_planner(name, env, config, planner_config)
        self.learner = ModelLearner(env, config.model, config.model_config, config.learning, model)
        self.dynamics = WorldModelDynamics(
            self.learner.model, env.action_space, config.uncertainty_penalty, config.done
        )
        self.trained_env_steps = 0
        self._clock = _EpisodeClock(env)
        self._planned = self._clock.limited(self.dynamics)
        self._state: Any = None
        self._last_action: Any = None

    @property
    def model(self) -> torch.nn.Module:
        """The world model planned in."""
        return self.learner.model

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode: forget the filtered model state and the plan."""
        self._state = None
        self._last_action = None
        self._clock.steps = 0
        self.planner.reset()

    def act(self, obs: np.ndarray) -> Any:
        """Fold ``obs`` into the model state, then plan from it."""
        model = self.learner.model
        with torch.no_grad():
            obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32)[None], device=model.device)
            if self._state is None:
                state, _ = model.observe(model.initial_state(1), None, obs_t)
            else:
                state, pred = model.observe(
                    self._state, self.dynamics.action_tensor(self._last_action), obs_t
                )
                if self.planner.watches_surprise:
                    expected = pred.obs[0].cpu().numpy()
                    self.planner.record_surprise(
                        _surprise(self.env.observation_space, expected, obs)
                    )
        self._state = state
        root = self._clock.root(self._planned, self.dynamics.root(state, obs_t))
        action = self.planner.plan(self._planned, root)
        self._last_action = np.asarray(action)[None]
        self._clock.steps += 1
        return to_env_action(self.env.action_space, action)

    def _follow(self, action: Any) -> None:
        """Take ``action`` instead of the planned one (exploration): the filter must know."""
        self._last_action = np.asarray(action)[None]

    def observe(self, transition: Transition) -> None:
        """Keep the real transition for the next refit of the model."""
        self.learner.record(transition)

    def learn(
        self, env: gym.Env[Any, Any], total_steps: int, *, seed: int | None = None
    ) -> dict[str, list[float]]:
        """Spend ``total_steps`` real steps: warm-up, fit, then plan-and-refit in chunks.

        Returns:
            Curves ``env_steps`` and ``episode_return`` (one entry per finished episode)
            and ``model_loss`` (eval loss after each fit).
        """
        learner, c = self.learner, self.config.learning
        warm, fit_at = learner.schedule(total_steps)
        rng = np.random.default_rng(c.seed if seed is None else seed)
        expert = expert_policy(env) if c.warmup_policy != "random" else None
        curves: dict[str, list[float]] = {"env_steps": [], "episode_return": [], "model_loss": []}
        steps, first = 0, True
        while steps < total_steps:
            obs, _ = env.reset(seed=seed if first else None)
            if first:
                env.action_space.seed(None if seed is None else seed + 1)
            first = False
            self.reset()
            ep_return, done = 0.0, False
            while not done and steps < total_steps:
                if steps < warm:
                    if expert is None or rng.random() < c.warmup_epsilon:
                        action = env.action_space.sample()
                    else:
                        action = act_one(expert, env.action_space, obs)
                else:
                    action = self.act(obs)
                    if rng.random() < c.explore_epsilon:
                        action = env.action_space.sample()
                        self._follow(action)
                next_obs, reward, terminated, truncated, info = env.step(action)
                self.observe(
                    Transition(obs, action, float(reward), next_obs, terminated, truncated, info)
                )
                steps += 1
                ep_return += float(reward)
                done = terminated or truncated
                if not done and steps == total_steps:
                    learner.close_episode(next_obs)
                obs = next_obs
                if steps in fit_at:
                    loss = learner.fit(fit_at[steps])
                    if loss is not None:
                        curves["model_loss"].append(loss)
            if done:
                curves["env_steps"].append(float(steps))
                curves["episode_return"].append(ep_return)
        self.trained_env_steps = steps
        return curves

    def settings(self) -> dict[str, Any]:
        """The shared options, the planner's and the world model's whole config."""
        return {
            "agent": self.config.to_dict(),
            "planner": dataclasses.asdict(self.planner_config),
            "model": {
                "backend": self.learner.model.name,
                **config_to_dict(self.learner.model.config),
            },
        }

    def save(self, path: str | Path) -> None:
        """Write the world model (``model.safetensors``, ``config.json``) and ``agent.json``."""
        self.learner.save(path)
        settings = {
            "agent": self.name,
            "config": self.config.to_dict(),
            "planner": dataclasses.asdict(self.planner_config),
        }
        atomic_write_json(Path(path) / AGENT_FILE, settings)

    @classmethod
    def load(cls, path: str | Path, env: gym.Env[Any, Any]) -> ModelPlanningAgent:
        """Rebuild an agent written by :meth:`save` for ``env``.

        Raises:
            ValueError: when the folder holds no planning agent.
        """
        folder = Path(path)
        settings_file = folder / AGENT_FILE
        if not settings_file.is_file():
            raise ValueError(f"{folder}: no {AGENT_FILE}; not a saved planning agent")
        settings = json.loads(settings_file.read_text())
        name = settings.get("agent")
        if name not in PLANNERS:
            raise ValueError(f"{settings_file}: unknown planning agent {name!r}")
        model = ModelLearner.load_model(folder)
        config = PlanningAgentConfig(**settings["config"])
        planner_config = PLANNERS[name].config(**settings["planner"])
        return cls(name, env, config, planner_config, model=model)


def make_planning_agent(
    name: str, env: gym.Env[Any, Any], **config: Any
) -> OraclePlanningAgent | ModelPlanningAgent:
    """Build the planning agent ``name`` for ``env`` (see the module docstring)."""
    agent_config, planner_config = split_config(name, planning_defaults(name, env, config))
    if agent_config.learned:
        return ModelPlanningAgent(name, env, agent_config, planner_config)
    if agent_config.model == "belief":
        return BeliefPlanningAgent(name, env, agent_config, planner_config)
    return OraclePlanningAgent(name, env, agent_config, planner_config)


for _name in PLANNERS:
    register_agent(_name)(functools.partial(make_planning_agent, _name))
