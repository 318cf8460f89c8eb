"""The reference agents: ``random`` and the ``reactive`` baseline.

``reactive`` maps the current observation to an action with no lookahead. Where the
env offers expert rules (``env.unwrapped.expert_policy()``, as Tutoring does: the rule
set a human tutor would write) it is those rules; on any other env it is a model-free
policy (SB3 PPO by default) trained on the same real-step budget that the model-based
agents get.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lucidgym.agents.protocol import (
    Transition,
    act_one,
    env_name,
    expert_policy,
    register_agent,
    settings_of,
)
from lucidgym.configs import check_keys
from lucidgym.types import BatchedPolicy


class RandomAgent:
    """Uniform actions from the env's action space, seeded.

    Args:
        env: the environment (any action space Gymnasium can sample).
        seed: seeds the draws (``reset(seed=...)`` re-seeds).
    """

    def __init__(self, env: gym.Env[Any, Any], seed: int = 0) -> None:
        self.action_space = copy.deepcopy(env.action_space)
        self.action_space.seed(seed)
        self.seed = seed

    def settings(self) -> dict[str, Any]:
        """The seed."""
        return {"seed": self.seed}

    def reset(self, *, seed: int | None = None) -> None:
        """Re-seed the draws when ``seed`` is given."""
        if seed is not None:
            self.action_space.seed(seed)

    def act(self, obs: np.ndarray) -> Any:
        """A uniform draw from the action space."""
        action = self.action_space.sample()
        return int(action) if isinstance(self.action_space, gym.spaces.Discrete) else action

    def observe(self, transition: Transition) -> None:
        """Random actions learn nothing."""


class ExpertAgent:
    """An env's documented rule set: observation in, action out, nothing remembered.

    Args:
        env: the environment.
        policy: its rules as a batched policy (``env.unwrapped.expert_policy()``).
    """

    def __init__(self, env: gym.Env[Any, Any], policy: BatchedPolicy) -> None:
        self.env = env
        self.policy = policy

    def settings(self) -> dict[str, Any]:
        """The rules have no options."""
        return {"policy": "expert rules"}

    def reset(self, *, seed: int | None = None) -> None:
        """The rules keep no memory."""

    def act(self, obs: np.ndarray) -> Any:
        """Apply the rules to ``obs``."""
        return act_one(self.policy, self.env.action_space, obs)

    def observe(self, transition: Transition) -> None:
        """The rules are fixed."""


class ModelFreeReactiveAgent:
    """A model-free SB3 policy of the current observation (the reactive baseline elsewhere).

    It delegates to the ``sb3:<ALGO>`` agent; ``learn`` spends the same real-step budget
    the model-based agents spend.
    """

    def __init__(self, env: gym.Env[Any, Any], algo: str = "PPO", **config: Any) -> None:
        if importlib.util.find_spec("stable_baselines3") is None:
            raise ValueError(
                f"reactive: {env_name(env)} has no expert rules, and the model-free "
                'baseline there is an SB3 learner: pip install "lucidgym[sb3]"'
            )
        from lucidgym.agents.sb3.agent import make_sb3_agent

        self.algo = algo
        self.inner = make_sb3_agent(algo, env, **config)

    def settings(self) -> dict[str, Any]:
        """The SB3 learner's settings."""
        return settings_of(self.inner)

    @property
    def trained_env_steps(self) -> int:
        """Real env steps of the last ``learn`` (whole SB3 rollouts: may exceed the budget)."""
        return int(self.inner.trained_env_steps)

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode."""
        self.inner.reset(seed=seed)

    def act(self, obs: np.ndarray) -> Any:
        """The policy's action for ``obs``."""
        return self.inner.act(obs)

    def observe(self, transition: Transition) -> None:
        """Passed on to the SB3 agent."""
        self.inner.observe(transition)

    def learn(
        self, env: gym.Env[Any, Any], total_steps: int, *, seed: int | None = None
    ) -> dict[str, list[float]]:
        """Train the SB3 policy for ``total_steps`` real steps."""
        curves: dict[str, list[float]] = self.inner.learn(env, total_steps, seed=seed)
        return curves

    def save(self, path: str | Path) -> None:
        """Write the SB3 policy (safetensors + JSON)."""
        self.inner.save(path)


@register_agent("random")
def make_random(env: gym.Env[Any, Any], **config: Any) -> RandomAgent:
    """Uniform random actions (``seed=0``)."""
    check_keys("random", config, {"seed"})
    return RandomAgent(env, **config)


@register_agent("reactive")
def make_reactive(env: gym.Env[Any, Any], **config: Any) -> Any:
    """The no-lookahead baseline: expert rules where the env has them, else SB3 PPO.

    Config: ``algo`` (``"PPO"`` or ``"DQN"``; model-free only) and the SB3 agent's own
    options (``seed``, ...).
    """
    rules = expert_policy(env)
    if rules is not None:
        check_keys("reactive", config, {"seed"})
        return ExpertAgent(env, rules)
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise ValueError(
            f"reactive: {env_name(env)} has observation space {env.observation_space}; "
            "the model-free baseline needs a Box"
        )
    return ModelFreeReactiveAgent(env, **config)
