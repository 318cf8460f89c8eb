"""The planning agents ``greedy``, ``dream``, ``mcts`` and ``beam``.

Each pairs a planner (:mod:`lucidgym.agents.planners`) with a model to plan in:

- ``model="oracle"``: the environment's true simulator. Every decision starts from
  ``env.unwrapped.get_state()`` of the env the agent was built with and searches
  ``env.unwrapped.get_dynamics(seed)``; nothing is learned (:class:`OraclePlanningAgent`).
- ``model="<backend>"`` (``mlp``, ``rssm``, ...): a world model learned from real
  experience (:class:`ModelPlanningAgent`, a :class:`~lucidgym.agents.protocol.Learner`).
  While acting it filters the episode into the model's state with ``model.observe``
  and plans from that state.

``make_agent(name, env, **config)`` takes the fields of :class:`PlanningAgentConfig`
and of the planner's config dataclass (``horizon=12``, ``num_simulations=128``, ...)
side by side; an unknown key raises ``ValueError`` listing the valid ones.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lucidgym.agents.planners import (
    BeamConfig,
    BeamPlanner,
    GreedyConfig,
    GreedyPlanner,
    MCTSConfig,
    MCTSPlanner,
    ShootingConfig,
    ShootingPlanner,
)
from lucidgym.agents.planning.dynamics import WorldModelDynamics, oracle_dynamics
from lucidgym.agents.planning.model_learning import ModelLearner, ModelLearningConfig, expert_policy
from lucidgym.agents.protocol import Transition, register_agent
from lucidgym.files import atomic_write_json

PLANNERS: dict[str, tuple[Callable[[Any], Any], type[Any]]] = {
    "greedy": (GreedyPlanner, GreedyConfig),
    "dream": (ShootingPlanner, ShootingConfig),
    "mcts": (MCTSPlanner, MCTSConfig),
    "beam": (BeamPlanner, BeamConfig),
}
"""Planner class and config dataclass by agent name."""

AGENT_FILE = "agent.json"
"""The agent's own settings, written beside the world-model checkpoint."""


@dataclass
class PlanningAgentConfig:
    """Options every planning agent shares (the planner's own options sit beside them)."""

    model: str = "oracle"
    """``"oracle"`` (the env's true simulator) or a world-model backend (``mlp``, ``rssm``, ...)."""
    model_config: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``make_world_model`` for a learned model."""
    learning: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`~lucidgym.agents.planning.model_learning.ModelLearningConfig`."""
    base_policy: str = "auto"
    """Policy inside ``dream`` (mode ``policy``) and ``mcts`` rollouts: ``"expert"`` (the
    env's rule set), ``"none"`` (uniform random) or ``"auto"`` (expert where the env has one)."""
    uncertainty_penalty: float = 0.0
    """Learned models: weight of the model's uncertainty (ensemble disagreement, prior
    spread) subtracted from every imagined reward, so searches avoid what the model
    does not know (0: plan on the predicted rewards as they are)."""
    seed: int = 0
    """Seeds the planner and the oracle's draws."""


def build_planner(
    name: str, env: gym.Env[Any, Any], config: PlanningAgentConfig, planner_config: Any
) -> Any:
    """The planner of agent ``name``, given the base policy the config asks for.

    Raises:
        ValueError: ``base_policy="expert"`` for an env without expert rules, or an
            unknown ``base_policy``.
    """
    if config.base_policy not in ("auto", "expert", "none"):
        raise ValueError(
            f"{name}: base_policy must be 'auto', 'expert' or 'none', got {config.base_policy!r}"
        )
    policy = None if config.base_policy == "none" else expert_policy(env, batched=True)
    if policy is None and config.base_policy == "expert":
        raise ValueError(f"{name}: {_env_name(env)} has no expert rules to use as base_policy")
    planner_cls = PLANNERS[name][0]
    if planner_cls in (ShootingPlanner, MCTSPlanner):
        return planner_cls(planner_config, base_policy=policy)
    return planner_cls(planner_config)


def split_config(name: str, config: dict[str, Any]) -> tuple[PlanningAgentConfig, Any]:
    """Sort flat ``make_agent`` keywords into the agent's and the planner's configs.

    Raises:
        ValueError: naming keys that neither config has, and listing the valid ones.
    """
    _, planner_cls = PLANNERS[name]
    agent_keys = {f.name for f in dataclasses.fields(PlanningAgentConfig)}
    planner_keys = {f.name for f in dataclasses.fields(planner_cls)}
    unknown = sorted(set(config) - agent_keys - planner_keys)
    if unknown:
        valid = sorted(agent_keys | planner_keys)
        raise ValueError(f"{name}: unknown config keys {unknown}; valid keys: {valid}")
    agent = PlanningAgentConfig(**{k: v for k, v in config.items() if k in agent_keys})
    planner_values = {k: v for k, v in config.items() if k in planner_keys}
    if "seed" in config and "seed" in planner_keys:
        planner_values["seed"] = config["seed"]
    return agent, planner_cls(**planner_values)


def _env_name(env: gym.Env[Any, Any]) -> str:
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__


def _to_env_action(space: gym.spaces.Space[Any], action: Any) -> Any:
    if isinstance(space, gym.spaces.Discrete):
        return int(np.asarray(action))
    return np.asarray(action, dtype=np.float32).reshape(space.shape)


def check_planning_spaces(name: str, env: gym.Env[Any, Any], learned: bool) -> None:
    """Refuse spaces a planning agent cannot handle, naming agent, env and space."""
    if not isinstance(env.action_space, gym.spaces.Discrete | gym.spaces.Box):
        raise ValueError(
            f"{name}: cannot plan on {_env_name(env)}: action space {env.action_space} "
            "is neither Discrete nor Box"
        )
    if learned and not isinstance(env.observation_space, gym.spaces.Box):
        raise ValueError(
            f"{name}: a learned model of {_env_name(env)} needs a Box observation space, "
            f"got {env.observation_space}"
        )


class OraclePlanningAgent:
    """Plans with the true simulator of the env it was built with.

    Args:
        name: the agent name (``greedy``, ``dream``, ``mcts`` or ``beam``).
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

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode; the oracle's own random draws are seeded per episode."""
        if seed is not None:
            self._seed, self._episode = seed, 0
        self._dynamics = oracle_dynamics(self.env, self._seed * 100_003 + self._episode)
        self._episode += 1
        self._expected_obs = None
        self.planner.reset()

    def act(self, obs: np.ndarray) -> Any:
        """Plan from the env's current true state."""
        if self._dynamics is None:
            self.reset()
        watch = getattr(self.planner.config, "replan_threshold", None) is not None
        if self._expected_obs is not None and watch:
            self.planner.record_surprise(
                _surprise(self.env.observation_space, self._expected_obs, obs)
            )
        root = self.env.unwrapped.get_state()  # type: ignore[attr-defined]
        action = self.planner.plan(self._dynamics, root)
        if watch and hasattr(self._dynamics, "observe"):
            after, _, _ = self._dynamics.step(root, np.asarray(action)[None])
            self._expected_obs = np.asarray(self._dynamics.observe(after))[0]
        return _to_env_action(self.env.action_space, action)

    def observe(self, transition: Transition) -> None:
        """The simulator is exact: nothing to learn."""


def _surprise(space: gym.spaces.Space[Any], expected: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute prediction error, in units of the space's half-range where bounded."""
    err = np.abs(np.asarray(expected, dtype=np.float64) - np.asarray(actual, dtype=np.float64))
    if isinstance(space, gym.spaces.Box):
        span = (space.high.astype(np.float64) - space.low.astype(np.float64)) / 2
        span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        err = err / span
    return float(err.mean())


class ModelPlanningAgent:
    """Learns a world model from real experience and plans inside it.

    Args:
        name: the agent name (``greedy``, ``dream``, ``mcts`` or ``beam``).
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
        self.learner = ModelLearner(
            env, config.model, config.model_config, ModelLearningConfig(**config.learning), model
        )
        self.dynamics = WorldModelDynamics(
            self.learner.model, env.action_space, config.uncertainty_penalty
        )
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
                if hasattr(self.planner, "record_surprise"):
                    expected = pred.obs[0].cpu().numpy()
                    self.planner.record_surprise(
                        _surprise(self.env.observation_space, expected, obs)
                    )
        self._state = state
        action = self.planner.plan(self.dynamics, self.dynamics.root(state, obs_t))
        self._last_action = np.asarray(action)[None]
        return _to_env_action(self.env.action_space, action)

    def follow(self, action: Any) -> None:
        """Take ``action`` instead of the planned one (exploration): the filter must know."""
        self._last_action = np.asarray(action)[None]

    def observe(self, transition: Transition) -> None:
        """Keep the real transition for the next refit of the model."""
        self.learner.record(transition)

    def learn(
        self, env: gym.Env[Any, Any], total_steps: int, *, seed: int | None = None
    ) -> dict[str, list[float]]:
        """Collect ``total_steps`` real steps (warm-up, then planning), training the model.

        Returns:
            Curves ``env_steps`` and ``episode_return`` (one entry per finished episode)
            and ``model_loss`` (eval loss after each fit).
        """
        return self.learner.learn(env, total_steps, self, seed=seed)

    def save(self, path: str | Path) -> None:
        """Write the world model (``model.safetensors``, ``config.json``) and ``agent.json``."""
        self.learner.save(path)
        settings = {
            "agent": self.name,
            "config": dataclasses.asdict(self.config),
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
        planner_config = PLANNERS[name][1](**settings["planner"])
        return cls(name, env, config, planner_config, model=model)


EXPERT_DREAM_DEFAULTS: dict[str, Any] = {
    "mode": "policy",
    "horizon": 15,
    "samples": 16,
    "confidence": 1.5,
}
"""``dream``'s defaults where the env has expert rules and no ``mode`` is given: improve
on the rules (each first action, then the rules, 16 dreams each), leaving them only on
clear evidence. Searching open-loop sequences there wastes the rules' knowledge."""

LEARNED_EXPERT_DREAM_DEFAULTS: dict[str, Any] = {"confidence": 3.0}
"""What changes of :data:`EXPERT_DREAM_DEFAULTS` with a learned model: its dreams are
biased as well as noisy, so leaving the rules takes stronger evidence."""

STOCHASTIC_DREAMS: dict[str, dict[str, Any]] = {
    "ensemble": {"imagine_mode": "random", "sample": True},
    "rssm": {"imagine_sample": True},
}
"""Backend settings under which repeated dreams differ (a random member and sampled
outputs; sampled latents), used by ``dream``'s policy mode with a confidence margin: its
test of "clear evidence" reads the spread of repeated dreams, which a model that dreams
the same every time does not show (``mlp``, ``lstm``, ``transformer``: the margin is
then zero and every apparent gain is taken)."""

EXPERT_MCTS_DEFAULTS: dict[str, Any] = {"prior_weight": 0.5, "rollout_depth": 12}
"""``mcts``'s defaults where the env has expert rules: priors lean on the rules' action
and new leaves are valued by a 12-step rollout of the rules, so the search looks past
the delayed effects a short uniform tree cannot see."""


def planning_defaults(name: str, env: gym.Env[Any, Any], config: dict[str, Any]) -> dict[str, Any]:
    """``config`` completed with the defaults above that apply to agent ``name`` on ``env``."""
    if config.get("base_policy", "auto") == "none" or expert_policy(env) is None:
        return config
    learned = config.get("model", "oracle") != "oracle"
    if name == "mcts":
        return {**EXPERT_MCTS_DEFAULTS, **config}
    if name != "dream" or "mode" in config:
        return config
    extra = LEARNED_EXPERT_DREAM_DEFAULTS if learned else {}
    config = {**EXPERT_DREAM_DEFAULTS, **extra, **config}
    backend = str(config.get("model"))
    stochastic = STOCHASTIC_DREAMS.get(backend)
    if learned and config["confidence"] > 0 and config["mode"] == "policy":
        if stochastic is not None:
            config["model_config"] = {**stochastic, **config.get("model_config", {})}
        else:
            warnings.warn(
                f"dream: the {backend!r} backend dreams alike every time, so the "
                f"{config['confidence']} standard-error margin over the rules has no "
                "spread to read and every apparent gain of the model is taken; "
                f"{' or '.join(repr(b) for b in STOCHASTIC_DREAMS)} dream stochastically",
                stacklevel=5,  # the caller of make_agent
            )
    return config


def make_planning_agent(name: str, env: gym.Env[Any, Any], **config: Any) -> Any:
    """Build the planning agent ``name`` for ``env`` (see the module docstring)."""
    agent_config, planner_config = split_config(name, planning_defaults(name, env, config))
    if agent_config.model == "oracle":
        return OraclePlanningAgent(name, env, agent_config, planner_config)
    return ModelPlanningAgent(name, env, agent_config, planner_config)


@register_agent("greedy")
def make_greedy(env: gym.Env[Any, Any], **config: Any) -> Any:
    """One-step lookahead through the model."""
    return make_planning_agent("greedy", env, **config)


@register_agent("dream")
def make_dream(env: gym.Env[Any, Any], **config: Any) -> Any:
    """Dream candidate sequences for a horizon (random shooting or CEM), follow the best."""
    return make_planning_agent("dream", env, **config)


@register_agent("mcts")
def make_mcts(env: gym.Env[Any, Any], **config: Any) -> Any:
    """PUCT tree search over the model, leaves evaluated in batches."""
    return make_planning_agent("mcts", env, **config)


@register_agent("beam")
def make_beam(env: gym.Env[Any, Any], **config: Any) -> Any:
    """Beam search over action sequences by imagined return."""
    return make_planning_agent("beam", env, **config)
