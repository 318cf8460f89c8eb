"""The dream planner: imagine candidate action sequences, follow the best one.

Every candidate of an iteration is dreamed in one batch (one ``rollout`` call for a
learned model, one loop of ``H`` batched ``step`` calls otherwise). Two modes:

- ``random``: random shooting. Small discrete problems (``n ** H`` sequences at most
  ``num_candidates``) are enumerated exhaustively, so the best plan is exact; larger
  ones sample sequences, always including the rest of the previous plan and every
  constant sequence.
- ``cem``: the cross-entropy method: sample, keep the elites, refit the sampling
  distribution (per-step categoricals for discrete actions, diagonal Gaussians for
  ``Box`` actions) and repeat.

- ``policy``: every first action (all of a ``Discrete`` space, ``num_candidates``
  draws of a ``Box``) followed by a base policy (uniform random without one) for the
  rest of the horizon: one step of policy improvement over the base policy.

The planner keeps the plan it chose. The agent reports how surprised the model was by
each real step (:meth:`ShootingPlanner.record_surprise`); with a ``replan_threshold``
the planner follows the rest of its plan while surprise stays at or below it and
re-plans otherwise (without one it re-plans every step, model-predictive control).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from lucidgym.agents.planners.common import (
    ActionSet,
    PlannerBase,
    ValueFn,
    imagine_returns,
    rollout_policy,
)
from lucidgym.types import BatchedPolicy, Dynamics


@dataclass
class ShootingConfig:
    """Options of :class:`ShootingPlanner`."""

    mode: str = "random"
    """``"random"`` (random shooting), ``"cem"`` (cross-entropy method) or ``"policy"``."""
    horizon: int = 8
    """Imagined steps per candidate sequence."""
    num_candidates: int = 256
    """Sequences dreamed per iteration."""
    samples: int = 1
    """Imagined rollouts averaged per sequence (more for stochastic models)."""
    gamma: float = 0.99
    """Discount of imagined rewards."""
    iterations: int = 4
    """CEM: refits of the sampling distribution (``random`` mode uses one)."""
    elite_fraction: float = 0.1
    """CEM: fraction of the candidates kept as elites."""
    smoothing: float = 0.2
    """CEM: weight of the previous distribution when it is refitted."""
    confidence: float = 0.0
    """``policy`` mode: leave the base policy's own action only for one whose mean return
    beats it by this many standard errors (0: always take the best mean)."""
    common_random: bool = True
    """``policy`` mode: dream every candidate on the same random numbers (the rollouts
    of sample ``i`` share their draws across candidates) where the dynamics offer it, so
    that their differences are the candidates' and not the dice's."""
    replan_threshold: float | None = None
    """Follow the plan while the reported surprise stays at or below this (None: always re-plan)."""
    seed: int = 0
    """Seed of the candidate draws."""


class ShootingPlanner(PlannerBase):
    """Random-shooting and CEM planning over a :class:`~lucidgym.types.Dynamics`."""

    def __init__(
        self,
        config: ShootingConfig | None = None,
        value_fn: ValueFn | None = None,
        base_policy: BatchedPolicy | None = None,
    ) -> None:
        self.config = config = config or ShootingConfig()
        if config.mode not in ("random", "cem", "policy"):
            raise ValueError(
                f"ShootingConfig.mode must be 'random', 'cem' or 'policy', got {config.mode!r}"
            )
        for name in ("horizon", "num_candidates", "samples", "iterations"):
            if getattr(config, name) < 1:
                raise ValueError(
                    f"ShootingConfig.{name} must be positive, got {getattr(config, name)}"
                )
        if not 0.0 < config.elite_fraction <= 1.0:
            raise ValueError(
                f"ShootingConfig.elite_fraction must be in (0, 1], got {config.elite_fraction}"
            )
        self.value_fn = value_fn
        self.base_policy = base_policy
        self.rng = np.random.default_rng(config.seed)
        self.surprises: list[float] = []
        """Surprise reported after each real step, in order."""
        self.replans = 0
        """How many decisions re-planned (the rest followed the previous plan)."""
        self.last_plan: np.ndarray | None = None
        """The sequence chosen at the last re-plan: ``[H]`` or ``[H, A]``."""
        self.last_score = 0.0
        """Its imagined return."""
        self.last_scores: np.ndarray | None = None
        """``mode="policy"``: each candidate first action's mean imagined return at the
        last re-plan, in the order of the candidates (a ``Discrete`` space's actions in
        order), before the confidence test; else ``None``."""
        self.last_base: int | None = None
        """``mode="policy"``: the candidate index of the base policy's own choice at the
        last re-plan, where there is a base policy; else ``None``."""
        self._remaining: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the current plan (a new episode starts)."""
        self._remaining = None

    @property
    def watches_surprise(self) -> bool:
        """With a ``replan_threshold``, surprise decides whether to follow the plan."""
        return self.config.replan_threshold is not None

    def record_surprise(self, surprise: float) -> None:
        """Report how far the last real step was from what the model expected."""
        self.surprises.append(float(surprise))

    def plan(self, dynamics: Dynamics[Any], root: Any) -> Any:
        """The next action from ``root`` (a batch of one state)."""
        threshold = self.config.replan_threshold
        if (
            threshold is not None
            and self._remaining is not None
            and len(self._remaining) > 0
            and self.surprises
            and self.surprises[-1] <= threshold
        ):
            action, self._remaining = self._remaining[0], self._remaining[1:]
            return action
        space = dynamics.action_space
        if self.config.mode == "policy":
            best, score = self._plan_policy(dynamics, root, space)
        elif isinstance(space, gym.spaces.Discrete):
            best, score = self._plan_discrete(dynamics, root, space)
        elif isinstance(space, gym.spaces.Box):
            best, score = self._plan_box(dynamics, root, space)
        else:
            raise ValueError(f"ShootingPlanner needs a Discrete or Box action space, got {space}")
        self.replans += 1
        self.last_plan, self.last_score = best, score
        self._remaining = best[1:]
        return best[0]

    # -- evaluation ----------------------------------------------------------------

    def _scores(self, dynamics: Dynamics[Any], root: Any, sequences: np.ndarray) -> np.ndarray:
        """Mean imagined return of each of ``N`` sequences over ``samples`` dreams."""
        k = self.config.samples
        repeated = np.repeat(sequences, k, axis=0)
        returns = imagine_returns(dynamics, root, repeated, self.config.gamma, self.value_fn)
        return returns.reshape(len(sequences), k).mean(axis=1)

    def _warm_start(self, horizon: int) -> np.ndarray | None:
        """The rest of the previous plan, padded with its last action to ``horizon``."""
        if self._remaining is None or len(self._remaining) == 0:
            return None
        tail = np.repeat(self._remaining[-1:], horizon - len(self._remaining), axis=0)
        return np.concatenate([self._remaining, tail], axis=0)[:horizon]

    def _plan_policy(
        self, dynamics: Dynamics[Any], root: Any, space: gym.spaces.Space[Any]
    ) -> tuple[np.ndarray, float]:
        cfg = self.config
        candidates = ActionSet(space, cfg.num_candidates, cfg.seed)
        policy = rollout_policy(dynamics, self.base_policy, candidates, self.rng)
        first = candidates.actions(np.repeat(np.arange(candidates.n), cfg.samples))[:, None]
        groups = candidates.n if cfg.common_random else 1
        returns = imagine_returns(
            dynamics, root, first, cfg.gamma, self.value_fn, policy, cfg.horizon, groups
        )
        samples = returns.reshape(candidates.n, cfg.samples)
        scores = samples.mean(axis=1)
        best = int(np.argmax(scores))
        self.last_scores, self.last_base = scores, None
        if (
            cfg.confidence > 0
            and isinstance(space, gym.spaces.Discrete)
            and self.base_policy is not None
            and cfg.samples > 1
        ):
            # Sampled returns are noisy: an argmax over them alone often picks an action
            # worse than the base policy's own. Deviate from it only on clear evidence.
            root_one = dynamics.take(root, np.zeros(1, dtype=np.int64))
            base = int(np.asarray(policy(root_one)).reshape(-1)[0]) - int(space.start)
            self.last_base = base
            se = samples.std(axis=1, ddof=1) / np.sqrt(cfg.samples)
            margin = cfg.confidence * np.sqrt(se[best] ** 2 + se[base] ** 2)
            if scores[best] - scores[base] <= margin:
                best = base
        return candidates.actions(np.array([best])), float(scores[best])

    # -- discrete actions -----------------------------------------------------------

    def _plan_discrete(
        self, dynamics: Dynamics[Any], root: Any, space: gym.spaces.Discrete
    ) -> tuple[np.ndarray, float]:
        cfg, n, start = self.config, int(space.n), int(space.start)
        if cfg.mode == "random" and n**cfg.horizon <= cfg.num_candidates:
            grid = np.array(list(itertools.product(range(n), repeat=cfg.horizon)), dtype=np.int64)
            scores = self._scores(dynamics, root, grid + start)
            best = int(np.argmax(scores))
            return grid[best] + start, float(scores[best])
        probs = np.full((cfg.horizon, n), 1.0 / n)
        warm = self._warm_start(cfg.horizon)
        best_seq, best_score = np.zeros(cfg.horizon, dtype=np.int64), -np.inf
        iterations = cfg.iterations if cfg.mode == "cem" else 1
        for it in range(iterations):
            cum = probs.cumsum(axis=1)
            draws = self.rng.random((cfg.num_candidates, cfg.horizon, 1))
            seqs = (draws > cum[None]).sum(axis=2).clip(0, n - 1)
            if it == 0:
                fixed = [np.tile(np.arange(n)[:, None], (1, cfg.horizon))]
                if warm is not None:
                    fixed.append((warm - start)[None])
                seqs = np.concatenate([*fixed, seqs], axis=0)[: max(cfg.num_candidates, n + 1)]
            scores = self._scores(dynamics, root, seqs + start)
            top = int(np.argmax(scores))
            if scores[top] > best_score:
                best_seq, best_score = seqs[top].copy(), float(scores[top])
            if cfg.mode == "cem":
                elites = seqs[np.argsort(-scores, kind="stable")[: self._num_elites(len(seqs))]]
                freq = (elites[:, :, None] == np.arange(n)).mean(axis=0)
                probs = cfg.smoothing * probs + (1 - cfg.smoothing) * freq
        return best_seq + start, best_score

    # -- continuous actions -----------------------------------------------------------

    def _plan_box(
        self, dynamics: Dynamics[Any], root: Any, space: gym.spaces.Box
    ) -> tuple[np.ndarray, float]:
        cfg = self.config
        low, high = space.low.astype(np.float32), space.high.astype(np.float32)
        shape = (cfg.horizon, *space.shape)
        mean = np.broadcast_to((low + high) / 2, shape).astype(np.float64)
        warm = self._warm_start(cfg.horizon)
        if warm is not None:
            mean = warm.astype(np.float64)
        std = np.broadcast_to((high - low) / 2, shape).astype(np.float64)
        best_seq, best_score = mean.astype(np.float32), -np.inf
        iterations = cfg.iterations if cfg.mode == "cem" else 1
        for _ in range(iterations):
            if cfg.mode == "cem":
                noise = self.rng.standard_normal((cfg.num_candidates, *shape))
                seqs = np.clip(mean + std * noise, low, high).astype(np.float32)
            else:
                seqs = self.rng.uniform(low, high, (cfg.num_candidates, *shape)).astype(np.float32)
            seqs[0] = np.clip(mean, low, high)
            scores = self._scores(dynamics, root, seqs)
            top = int(np.argmax(scores))
            if scores[top] > best_score:
                best_seq, best_score = seqs[top].copy(), float(scores[top])
            if cfg.mode == "cem":
                elites = seqs[np.argsort(-scores, kind="stable")[: self._num_elites(len(seqs))]]
                mean = cfg.smoothing * mean + (1 - cfg.smoothing) * elites.mean(axis=0)
                std = cfg.smoothing * std + (1 - cfg.smoothing) * elites.std(axis=0)
        return best_seq, best_score

    def _num_elites(self, population: int) -> int:
        return max(2, int(round(self.config.elite_fraction * population)))


ORACLE_EXPERT_DREAM_DEFAULTS: dict[str, Any] = {
    "mode": "policy",
    "horizon": 40,
    "samples": 128,
    "confidence": 0.0,
    "gamma": 1.0,
}
"""``dream``'s defaults over an env's expert rules with its true simulator: improve on
the rules (each first action, then the rules for 40 steps or to the episode's end, 128
dreams each on common random numbers, undiscounted) and take the best mean. Measured on
Tutoring-v0 (30 ``mixed`` students): +13.9% over the rules (standard error 1.6), where
16 dreams of 15 steps behind a 1.5-standard-error gate gave +5.3%, and the same 128
dreams on independent random numbers about half the gain."""

LEARNED_EXPERT_DREAM_DEFAULTS: dict[str, Any] = {
    "mode": "policy",
    "horizon": 15,
    "samples": 16,
    "confidence": 3.0,
}
"""``dream``'s defaults over expert rules with a learned model: its dreams are biased as
well as noisy, so shorter dreams, and leaving the rules only on strong evidence (three
standard errors of the spread of repeated dreams)."""


def expert_defaults(given: Mapping[str, Any], learned: bool) -> dict[str, Any]:
    """``dream``'s defaults over expert rules, unless the options choose a ``mode``."""
    if "mode" in given:
        return {}
    return dict(LEARNED_EXPERT_DREAM_DEFAULTS if learned else ORACLE_EXPERT_DREAM_DEFAULTS)


RULE_FREE_CEM_DEFAULTS: dict[str, Any] = {"mode": "cem", "horizon": 20, "num_candidates": 128}
"""``dream``'s defaults for ``Box`` actions where the env has no expert rules: the
cross-entropy method (PETS, PlaNet) over 20-step sequences, 128 a round, four rounds a
decision. Random shooting samples a continuous space too thinly: on Pendulum-v1 in an
``ensemble`` learned from 10,000 steps it scored -802 (8-step sequences, one seed),
these defaults -146 [-159, -132] from 5,000 steps (5 seeds, ``docs/results/pendulum/``)."""


def rule_free_defaults(
    given: Mapping[str, Any], action_space: gym.spaces.Space[Any], learned: bool
) -> dict[str, Any]:
    """``dream``'s defaults where the env has no expert rules (none if a ``mode`` is given).

    ``Box`` actions get the cross-entropy method. Discrete actions keep random
    shooting, which finds the one path to a goal (MovingDotDiscrete-v0); where every
    step pays alike, as on CartPole-v1, its best sequence is a tie among the sequences
    that survive, and ``mode="policy"`` over random continuations with
    ``done="expected"`` does better (``lucidgym.benchmarks.suites.CARTPOLE_DREAM``).
    """
    if "mode" in given or not isinstance(action_space, gym.spaces.Box):
        return {}
    return dict(RULE_FREE_CEM_DEFAULTS)


def reads_dream_spread(config: Mapping[str, Any]) -> bool:
    """Whether the options test "clear evidence" on the spread of repeated dreams.

    The policy mode with a confidence margin does; a model that dreams the same every
    time shows no spread, so the margin is then zero and every apparent gain is taken.
    """
    return config.get("mode") == "policy" and float(config.get("confidence", 0.0)) > 0
