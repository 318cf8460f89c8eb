"""PUCT tree search over a :class:`~lucidgym.types.Dynamics`, leaves evaluated in batches.

Each round selects up to ``leaf_batch`` leaves, one per simulation, with a virtual
loss on every edge a pending simulation passes through (so the next selection of the
round looks elsewhere), then evaluates all of them with one batched ``step`` call
(plus ``rollout_depth`` calls for random rollouts), then backs every simulation up.
A selection that lands on a leaf already pending in the round adds one more virtual
loss to its path and selects again; a round ends early only after
``collision_retries`` such collisions. So rounds stay full where a strong prior keeps
pointing at one edge, and the number of simulations is exactly ``num_simulations``
whatever the batch size.

Two ways to handle a stochastic model:

- ``stochastic=False`` (closed loop): each node caches the state, reward and ``done``
  of the one transition sampled when it was created. Exact for deterministic models.
- ``stochastic=True`` (open loop): nodes stand for action sequences; every simulation
  re-samples the transitions along its whole path from the root (the paths of a round
  are re-simulated together, in lockstep), so a node's value averages over outcomes.

Q-values are normalised by the range seen in the tree (as in MuZero), so
``c_puct`` does not depend on the scale of the rewards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from lucidgym.agents.planners.common import (
    ActionSet,
    PlannerBase,
    PriorFn,
    ValueFn,
    concat_states,
    continuation,
    rollout_policy,
)
from lucidgym.types import BatchedPolicy, Dynamics


@dataclass
class MCTSConfig:
    """Options of :class:`MCTSPlanner`."""

    num_simulations: int = 64
    """Simulations per decision."""
    leaf_batch: int = 8
    """Leaves evaluated together per ``Dynamics.step`` call (1: one call per simulation)."""
    c_puct: float = 1.25
    """Weight of the exploration term."""
    gamma: float = 0.99
    """Discount of imagined rewards."""
    max_depth: int = 8
    """Depth at which nodes become leaves that are never expanded."""
    rollout_depth: int = 0
    """Rollout steps (base policy, else random) valuing a new leaf without a value function."""
    stochastic: bool = False
    """Re-sample transitions on every visit (open loop) instead of caching one per node."""
    prior_weight: float = 0.0
    """With a base policy and no prior function: share of each node's prior put on the
    base policy's action in the node's (real or imagined) observation, the rest spread
    uniformly (0: uniform priors)."""
    virtual_loss: float = 1.0
    """Pending visits counted against an edge while its simulation is in flight."""
    collision_retries: int = 0
    """Selections per round that may land on a leaf already pending (each adds one more
    virtual loss to its path and selects again) before the round ends early."""
    num_box_candidates: int = 16
    """Candidate actions drawn for a ``Box`` action space."""
    seed: int = 0
    """Seed of the rollout actions and ``Box`` candidates."""


class _Node:
    """One node: the state after an action sequence from the root."""

    __slots__ = (
        "children",
        "depth",
        "done",
        "pending",
        "priors",
        "q_sum",
        "reward",
        "state",
        "value",
        "virtual",
        "visits",
    )

    def __init__(self, depth: int) -> None:
        self.children: dict[int, _Node] = {}
        self.depth = depth
        self.done = False
        self.pending: dict[int, float] = {}
        self.priors: np.ndarray | None = None
        self.q_sum = 0.0
        self.reward = 0.0
        self.state: Any = None
        self.value = 0.0
        self.virtual = 0.0
        self.visits = 0


class MCTSPlanner(PlannerBase):
    """PUCT search with an optional policy prior and value function."""

    def __init__(
        self,
        config: MCTSConfig | None = None,
        value_fn: ValueFn | None = None,
        prior_fn: PriorFn | None = None,
        base_policy: BatchedPolicy | None = None,
    ) -> None:
        self.config = config = config or MCTSConfig()
        for name in ("num_simulations", "leaf_batch", "max_depth"):
            if getattr(config, name) < 1:
                raise ValueError(f"MCTSConfig.{name} must be positive, got {getattr(config, name)}")
        if config.collision_retries < 0:
            raise ValueError(
                f"MCTSConfig.collision_retries must be >= 0, got {config.collision_retries}"
            )
        if config.rollout_depth < 0:
            raise ValueError(f"MCTSConfig.rollout_depth must be >= 0, got {config.rollout_depth}")
        if not 0.0 <= config.prior_weight <= 1.0:
            raise ValueError(
                f"MCTSConfig.prior_weight must be in [0, 1], got {config.prior_weight}"
            )
        self.value_fn = value_fn
        self.prior_fn = prior_fn
        self.base_policy = base_policy
        self.rng = np.random.default_rng(config.seed)
        self.step_calls = 0
        """``Dynamics.step`` calls made so far (a measure of batching)."""
        self.root_visits: np.ndarray | None = None
        """Visit counts of the root's actions at the last decision."""
        self.root_q: np.ndarray | None = None
        """Mean return of the root's actions at the last decision (NaN where unvisited)."""
        self._actions: ActionSet | None = None
        self._q_min = math.inf
        self._q_max = -math.inf

    def plan(self, dynamics: Dynamics[Any], root_state: Any) -> Any:
        """Search from ``root_state`` (a batch of one) and return the most visited action."""
        cfg = self.config
        if self._actions is None:
            self._actions = ActionSet(dynamics.action_space, cfg.num_box_candidates, cfg.seed)
        actions = self._actions
        self._q_min, self._q_max = math.inf, -math.inf
        root = _Node(0)
        root.state = root_state
        root.priors = self._priors(dynamics, root_state, 1)[0]
        done = 0
        while done < cfg.num_simulations:
            leaves: list[tuple[list[_Node], int | None]] = []
            collided: list[tuple[list[_Node], int | None]] = []
            while len(leaves) < cfg.leaf_batch and done + len(leaves) < cfg.num_simulations:
                path, action = self._select(root)
                if action is not None and action in path[-1].pending:
                    # A leaf already pending: weigh its path down once more and look
                    # again, at most collision_retries times per round.
                    if len(collided) >= cfg.collision_retries:
                        break
                    collided.append((path, action))
                else:
                    leaves.append((path, action))
                self._add_virtual(path, action, cfg.virtual_loss)
            for path, action in collided:
                self._add_virtual(path, action, -cfg.virtual_loss)
            self._evaluate(dynamics, root, leaves)
            done += len(leaves)
        visits = np.zeros(actions.n)
        q = np.full(actions.n, np.nan)
        for a, child in root.children.items():
            visits[a] = child.visits
            q[a] = child.q_sum / max(child.visits, 1)
        self.root_visits, self.root_q = visits, q
        best = max(root.children, key=lambda a: (visits[a], q[a], -a))
        return actions.actions(np.asarray(best))

    # -- selection ------------------------------------------------------------------

    def _normalise(self, q: float) -> float:
        if self._q_max > self._q_min:
            return (q - self._q_min) / (self._q_max - self._q_min)
        return 0.5

    def _select(self, root: _Node) -> tuple[list[_Node], int | None]:
        """Descend by PUCT to an unexpanded edge (or a terminal node: action ``None``)."""
        cfg, node, path = self.config, root, [root]
        while True:
            assert node.priors is not None
            total = node.visits + node.virtual
            first_play = node.value / node.visits if node.visits else 0.0
            best_a, best_score = 0, -math.inf
            for a in range(len(node.priors)):
                child = node.children.get(a)
                if child is not None:
                    n, v = child.visits, child.virtual
                    q = child.q_sum / n if n else first_play
                else:
                    n, v, q = 0, node.pending.get(a, 0.0), first_play
                value = self._normalise(q)
                if v:
                    # Pending visits count as the worst value seen (0 once normalised),
                    # also before any range is known, so a round spreads its leaves.
                    value = n * value / (n + v)
                explore = cfg.c_puct * node.priors[a] * math.sqrt(total + 1) / (1 + n + v)
                score = value + explore
                if score > best_score:
                    best_a, best_score = a, score
            child = node.children.get(best_a)
            if child is None:
                return path, best_a
            path.append(child)
            if child.done or child.depth >= cfg.max_depth:
                return path, None
            node = child

    def _add_virtual(self, path: list[_Node], action: int | None, amount: float) -> None:
        for node in path:
            node.virtual += amount
        if action is not None:
            pending = path[-1].pending
            pending[action] = pending.get(action, 0.0) + amount

    # -- evaluation and backup --------------------------------------------------------

    def _evaluate(
        self, dynamics: Dynamics[Any], root: _Node, leaves: list[tuple[list[_Node], int | None]]
    ) -> None:
        """Simulate every leaf's new transitions in one batch, then back each one up."""
        cfg = self.config
        assert self._actions is not None
        rows: list[int] = []
        starts: list[Any] = []
        sequences: list[list[int]] = []
        for i, (path, action) in enumerate(leaves):
            tail = [] if action is None else [action]
            if cfg.stochastic:
                # Open loop: re-sample the whole path from the root on every visit.
                edges = [self._edge_action(path[j], path[j + 1]) for j in range(len(path) - 1)]
                rows.append(i)
                starts.append(root.state)
                sequences.append(edges + tail)
            elif tail:
                rows.append(i)
                starts.append(path[-1].state)
                sequences.append(tail)
        fresh_rewards: dict[int, np.ndarray] = {}
        leaf_values: dict[int, float] = {}
        ended: dict[int, bool] = {}
        finals: list[Any] = []
        if rows:
            length = max(len(s) for s in sequences)
            states = concat_states(starts)
            rewards = np.zeros((len(rows), length))
            alive = np.ones(len(rows), dtype=bool)
            final_at: list[Any] = [None] * len(rows)
            for d in range(length):
                index = np.array([s[d] if d < len(s) else 0 for s in sequences])
                states, r, dn = dynamics.step(states, self._actions.actions(index))
                self.step_calls += 1
                rewards[:, d] = np.asarray(r, dtype=np.float64) * alive
                alive &= ~np.asarray(dn, dtype=bool)
                for k, s in enumerate(sequences):
                    if len(s) == d + 1:
                        final_at[k] = (dynamics.take(states, np.array([k])), bool(not alive[k]))
            finals = [f[0] for f in final_at]
            final_states = concat_states(finals)
            values = self._leaf_values(dynamics, final_states, len(rows))
            priors = self._priors(dynamics, final_states, len(rows))
            for k, i in enumerate(rows):
                fresh_rewards[i] = rewards[k, : len(sequences[k])]
                ended[i] = final_at[k][1]
                leaf_values[i] = 0.0 if ended[i] else float(values[k])
                path, action = leaves[i]
                if action is not None:
                    child = _Node(path[-1].depth + 1)
                    child.priors = priors[k]
                    if not cfg.stochastic:
                        child.state, child.done = finals[k], ended[i]
                        child.reward = float(rewards[k, 0])
                    path[-1].children[action] = child
        for i, (path, action) in enumerate(leaves):
            self._add_virtual(path, action, -cfg.virtual_loss)
            if action is not None:
                path[-1].pending.pop(action, None)
                path = [*path, path[-1].children[action]]
            self._backup(path, fresh_rewards.get(i), leaf_values.get(i))

    def _backup(
        self, path: list[_Node], fresh: np.ndarray | None, leaf_value: float | None
    ) -> None:
        """Add one simulation's return to every node on ``path`` (root first)."""
        gamma = self.config.gamma
        leaf = path[-1]
        if leaf_value is None:
            # A terminal node met again in closed loop: its value is known.
            leaf_value = 0.0 if leaf.done else leaf.value / max(leaf.visits, 1)
        g = leaf_value
        edges = len(path) - 1
        for j in range(edges, 0, -1):
            node = path[j]
            node.visits += 1
            node.value += g
            offset = j - 1 - (edges - len(fresh)) if fresh is not None else -1
            reward = float(fresh[offset]) if fresh is not None and offset >= 0 else node.reward
            g = reward + gamma * g
            node.q_sum += g
            self._q_min, self._q_max = min(self._q_min, g), max(self._q_max, g)
        path[0].visits += 1
        path[0].value += g

    @staticmethod
    def _edge_action(parent: _Node, child: _Node) -> int:
        for a, c in parent.children.items():
            if c is child:
                return a
        raise RuntimeError("tree edge lost")

    def _leaf_values(self, dynamics: Dynamics[Any], states: Any, k: int) -> np.ndarray:
        """``[K]`` values of new leaves: the value function, a random rollout, or zero."""
        cfg = self.config
        assert self._actions is not None
        if self.value_fn is not None:
            values = np.asarray(self.value_fn(states), dtype=np.float64)
            return values * continuation(dynamics, states)
        total = np.zeros(k)
        alive = np.ones(k, dtype=bool)
        policy = rollout_policy(dynamics, self.base_policy, self._actions, self.rng)
        for d in range(cfg.rollout_depth):
            states, r, dn = dynamics.step(states, policy(states))
            self.step_calls += 1
            total += cfg.gamma**d * alive * np.asarray(r, dtype=np.float64)
            alive &= ~np.asarray(dn, dtype=bool)
        return total

    def _priors(self, dynamics: Dynamics[Any], states: Any, k: int) -> np.ndarray:
        """``[K, N]`` action priors: the prior function, the base policy's lean, or uniform."""
        assert self._actions is not None
        n = self._actions.n
        weight = self.config.prior_weight
        if self.prior_fn is None and self.base_policy is not None and weight > 0:
            if not isinstance(dynamics.action_space, gym.spaces.Discrete):
                raise ValueError("MCTSConfig.prior_weight needs a Discrete action space")
            policy = rollout_policy(dynamics, self.base_policy, self._actions, self.rng)
            chosen = np.asarray(policy(states), dtype=np.int64).reshape(-1)
            chosen = chosen - int(dynamics.action_space.start)
            p = np.full((k, n), (1.0 - weight) / n)
            p[np.arange(k), chosen] += weight
            return p
        if self.prior_fn is None:
            return np.full((k, n), 1.0 / n)
        p = np.asarray(self.prior_fn(states), dtype=np.float64)
        if p.shape != (k, n):
            raise ValueError(f"prior_fn returned shape {p.shape}, expected {(k, n)}")
        return p / p.sum(axis=1, keepdims=True).clip(min=1e-12)


EXPERT_MCTS_DEFAULTS: dict[str, Any] = {"prior_weight": 0.5, "rollout_depth": 12}
"""``mcts``'s defaults where the env has expert rules: priors lean on the rules' action
and new leaves are valued by a 12-step rollout of the rules, so the search looks past
the delayed effects a short uniform tree cannot see."""


def expert_defaults(given: Mapping[str, Any], learned: bool) -> dict[str, Any]:
    """``mcts``'s defaults over expert rules (the same for the oracle and learned models)."""
    return dict(EXPERT_MCTS_DEFAULTS)
