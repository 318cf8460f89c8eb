"""Planners on dummy dynamics whose best plan is known in closed form."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import pytest

from lucidgym.agents.planners import (
    BeamConfig,
    BeamPlanner,
    GreedyConfig,
    GreedyPlanner,
    MCTSConfig,
    MCTSPlanner,
    ShootingConfig,
    ShootingPlanner,
    imagine_returns,
)


class TableState(NamedTuple):
    s: np.ndarray


# A trap: action 0 pays 1 now and falls into a pit worth nothing; action 1 pays nothing
# now but opens state 1, where action 2 pays 3 and leads to state 4, where action 0
# pays 1 per step; action 2 leads to a meadow paying 0.4 per step. With horizon 3 and no
# discount the best plan is [1, 2, 0] (return 4), then [2, *, *] (1.3), then [0, *, *]
# (1); greedy takes the 1 of action 0.
NEXT = np.array(
    [
        [3, 1, 2],  # 0: start
        [1, 1, 4],  # 1: door open
        [2, 2, 2],  # 2: meadow
        [3, 3, 3],  # 3: pit
        [4, 4, 4],  # 4: treasure room
    ]
)
REWARD = np.array(
    [
        [1.0, 0.0, 0.5],
        [0.0, 0.0, 3.0],
        [0.4, 0.4, 0.4],
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
    ]
)
BEST_PLAN = [1, 2, 0]


class TableDynamics:
    """Deterministic tabular dynamics (optionally with reward noise)."""

    def __init__(self, noise: float = 0.0, seed: int = 0) -> None:
        self.action_space = gym.spaces.Discrete(3)
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.calls = 0

    def step(self, states: TableState, actions: np.ndarray):
        self.calls += 1
        s, a = states.s, np.asarray(actions)
        r = REWARD[s, a] + self.noise * self.rng.standard_normal(len(s))
        return TableState(NEXT[s, a]), r.astype(np.float32), np.zeros(len(s), dtype=bool)

    def take(self, states: TableState, index: np.ndarray) -> TableState:
        return TableState(states.s[index])


ROOT = TableState(np.array([0]))


def q_star(first_action: int, horizon: int = 3) -> float:
    """The best return over every plan of ``horizon`` steps starting with ``first_action``."""
    best = -np.inf
    for rest in itertools.product(range(3), repeat=horizon - 1):
        s, total = 0, 0.0
        for a in (first_action, *rest):
            total += REWARD[s, a]
            s = NEXT[s, a]
        best = max(best, total)
    return best


def test_closed_form_best_plan_is_the_trap_escape():
    scores = {plan: 0.0 for plan in itertools.product(range(3), repeat=3)}
    seqs = np.array(list(scores))
    returns = imagine_returns(TableDynamics(), ROOT, seqs, gamma=1.0)
    assert seqs[int(np.argmax(returns))].tolist() == BEST_PLAN
    assert returns.max() == pytest.approx(4.0)
    assert q_star(1) == 4.0 and q_star(2) == pytest.approx(1.3) and q_star(0) == 1.0


def test_greedy_falls_into_the_trap():
    assert GreedyPlanner(GreedyConfig(gamma=1.0)).plan(TableDynamics(), ROOT) == 0


@pytest.mark.parametrize("mode", ["random", "cem"])
def test_dream_finds_the_exact_best_plan(mode):
    cfg = ShootingConfig(mode=mode, horizon=3, num_candidates=64, gamma=1.0, iterations=3)
    planner = ShootingPlanner(cfg)
    assert planner.plan(TableDynamics(), ROOT) == 1
    assert planner.last_plan is not None and planner.last_plan.tolist() == BEST_PLAN
    assert planner.last_score == pytest.approx(4.0)


def test_dream_evaluates_all_candidates_in_one_batched_loop():
    dynamics = TableDynamics()
    ShootingPlanner(ShootingConfig(horizon=3, num_candidates=27, gamma=1.0)).plan(dynamics, ROOT)
    assert dynamics.calls == 3  # one step call per imagined step, all 27 plans at once


def test_dream_follows_its_plan_until_surprised():
    planner = ShootingPlanner(ShootingConfig(horizon=3, gamma=1.0, replan_threshold=0.5))
    dynamics = TableDynamics()
    assert planner.plan(dynamics, ROOT) == 1
    planner.record_surprise(0.1)  # as expected: follow the plan
    assert planner.plan(dynamics, TableState(np.array([1]))) == 2
    assert planner.replans == 1
    planner.record_surprise(2.0)  # surprised: re-plan from the pit
    assert planner.plan(dynamics, TableState(np.array([2]))) in (0, 1, 2)
    assert planner.replans == 2
    assert planner.surprises == [0.1, 2.0]


def test_beam_finds_the_exact_best_plan():
    planner = BeamPlanner(BeamConfig(width=3, depth=3, gamma=1.0))
    assert planner.plan(TableDynamics(), ROOT) == 1
    assert planner.last_plan is not None and planner.last_plan.tolist() == BEST_PLAN


def test_beam_of_width_one_is_greedy():
    assert BeamPlanner(BeamConfig(width=1, depth=3, gamma=1.0)).plan(TableDynamics(), ROOT) == 0


def test_mcts_escapes_the_trap():
    planner = MCTSPlanner(MCTSConfig(num_simulations=64, max_depth=3, rollout_depth=3, gamma=1.0))
    assert planner.plan(TableDynamics(), ROOT) == 1
    assert planner.root_visits is not None and int(planner.root_visits.argmax()) == 1


def test_mcts_with_more_simulations_never_does_worse():
    values = []
    for sims in (4, 8, 16, 32, 64, 128, 256):
        planner = MCTSPlanner(
            MCTSConfig(num_simulations=sims, max_depth=3, rollout_depth=3, gamma=1.0)
        )
        values.append(q_star(int(planner.plan(TableDynamics(), ROOT))))
    assert values == sorted(values)
    assert values[-1] == 4.0


def test_batched_leaves_decide_as_unbatched_with_fewer_calls():
    decisions, calls = [], []
    for leaf_batch in (1, 8):
        dynamics = TableDynamics()
        planner = MCTSPlanner(
            MCTSConfig(
                num_simulations=64, leaf_batch=leaf_batch, max_depth=3, rollout_depth=3, gamma=1.0
            )
        )
        decisions.append(int(planner.plan(dynamics, ROOT)))
        calls.append(dynamics.calls)
    assert decisions == [1, 1]
    assert calls[1] * 3 < calls[0]


def test_mcts_open_loop_averages_noisy_rewards():
    planner = MCTSPlanner(
        MCTSConfig(num_simulations=300, max_depth=3, gamma=1.0, stochastic=True, leaf_batch=8)
    )
    assert planner.plan(TableDynamics(noise=0.3), ROOT) == 1


def test_mcts_prior_steers_the_search():
    # With a prior that puts all its weight on action 1, two simulations suffice.
    def prior(states: TableState) -> np.ndarray:
        p = np.full((len(states.s), 3), 1e-3)
        p[:, 1] = 1.0
        return p

    # One leaf at a time: a batch would spread its three leaves over the root's actions.
    config = MCTSConfig(num_simulations=3, max_depth=3, gamma=1.0, leaf_batch=1)
    planner = MCTSPlanner(config, prior_fn=prior)
    assert planner.plan(TableDynamics(), ROOT) == 1


def test_mcts_rounds_stay_full_when_a_prior_points_at_a_pending_leaf():
    # A prior on one action sends every selection of a round to the same pending edge;
    # with retries its virtual losses push the next selections elsewhere.
    def prior(states: TableState) -> np.ndarray:
        p = np.full((len(states.s), 3), 0.05)
        p[:, 1] = 0.9
        return p

    calls, decisions = [], []
    for retries in (0, 8):
        dynamics = TableDynamics()
        config = MCTSConfig(
            num_simulations=64, leaf_batch=8, max_depth=3, rollout_depth=3, gamma=1.0,
            collision_retries=retries,
        )  # fmt: skip
        planner = MCTSPlanner(config, prior_fn=prior)
        decisions.append(int(planner.plan(dynamics, ROOT)))
        calls.append(dynamics.calls)
        assert planner.root_visits is not None and planner.root_visits.sum() == 64
    assert decisions == [1, 1]
    assert calls[1] * 2 < calls[0]


class PointState(NamedTuple):
    x: np.ndarray


class QuadraticDynamics:
    """A point moved by its action; reward ``-|x' - goal|^2``. Best first action: ``goal - x``."""

    goal = np.array([0.3, -0.5])

    def __init__(self) -> None:
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def step(self, states: PointState, actions: np.ndarray):
        x = states.x + actions
        r = -((x - self.goal) ** 2).sum(axis=1)
        return PointState(x), r.astype(np.float32), np.zeros(len(x), dtype=bool)

    def take(self, states: PointState, index: np.ndarray) -> PointState:
        return PointState(states.x[index])


def test_cem_finds_the_optimum_of_a_quadratic():
    cfg = ShootingConfig(mode="cem", horizon=1, num_candidates=200, iterations=8, seed=1)
    action = ShootingPlanner(cfg).plan(QuadraticDynamics(), PointState(np.zeros((1, 2))))
    np.testing.assert_allclose(action, QuadraticDynamics.goal, atol=0.02)


def test_cem_beats_random_shooting_on_a_quadratic():
    root = PointState(np.zeros((1, 2)))
    errors = {}
    for mode in ("random", "cem"):
        cfg = ShootingConfig(mode=mode, horizon=1, num_candidates=50, iterations=6, seed=3)
        action = ShootingPlanner(cfg).plan(QuadraticDynamics(), root)
        errors[mode] = float(np.abs(action - QuadraticDynamics.goal).sum())
    assert errors["cem"] < errors["random"]


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="mode"):
        ShootingPlanner(ShootingConfig(mode="grid"))
    with pytest.raises(ValueError, match="num_simulations"):
        MCTSPlanner(MCTSConfig(num_simulations=0))
    with pytest.raises(ValueError, match="width"):
        BeamPlanner(BeamConfig(width=0))


class BanditDynamics:
    """One state; action ``a`` pays ``means[a]`` plus Gaussian noise."""

    def __init__(self, means: list[float], noise: float) -> None:
        self.action_space = gym.spaces.Discrete(len(means))
        self.means, self.noise = np.array(means), noise
        self.rng = np.random.default_rng(0)

    def step(self, states: TableState, actions: np.ndarray):
        r = self.means[np.asarray(actions)] + self.noise * self.rng.standard_normal(len(states.s))
        return states, r.astype(np.float32), np.zeros(len(states.s), dtype=bool)

    def take(self, states: TableState, index: np.ndarray) -> TableState:
        return TableState(states.s[index])

    def observe(self, states: TableState) -> np.ndarray:
        return np.zeros((len(states.s), 1), dtype=np.float32)


def always_zero(obs: np.ndarray) -> np.ndarray:
    return np.zeros(len(obs), dtype=np.int64)


def test_policy_mode_keeps_the_base_action_without_clear_evidence():
    cfg = ShootingConfig(mode="policy", horizon=2, samples=8, confidence=2.0)
    noisy = BanditDynamics([1.0, 1.1, 0.5], noise=3.0)
    assert ShootingPlanner(cfg, base_policy=always_zero).plan(noisy, ROOT) == 0
    clear = BanditDynamics([1.0, 5.0, 0.5], noise=0.1)
    planner = ShootingPlanner(cfg, base_policy=always_zero)
    assert planner.plan(clear, ROOT) == 1
    assert planner.last_base == 0 and int(np.argmax(planner.last_scores)) == 1


def test_policy_mode_improves_on_its_base_policy_through_the_trap():
    # The base policy plays 2 in the open-door state and 0 elsewhere. Over 3 steps the
    # first action worth most under it is 1 (0 + 3 + 1), not greedy's 0 (1 + 0 + 0).
    def base(obs: np.ndarray) -> np.ndarray:
        return np.where(obs[:, 0] == 1, 2, 0)

    dynamics = TableDynamics()
    dynamics.observe = lambda states: states.s[:, None].astype(np.float32)  # type: ignore[attr-defined]
    planner = ShootingPlanner(ShootingConfig(mode="policy", horizon=3, gamma=1.0), base_policy=base)
    assert planner.plan(dynamics, ROOT) == 1
    assert planner.last_score == pytest.approx(4.0)
    # Every first action's value under the base policy: 1 (pit), 4 (door), 1.3 (meadow).
    np.testing.assert_allclose(planner.last_scores, [1.0, 4.0, 1.3], rtol=1e-6)
    assert planner.last_base is None  # no confidence test, so no base choice is read


def _door_policy_dynamics() -> tuple[TableDynamics, object]:
    """The trap model with observations (the state index) and a base policy that knows
    the way (1 from the start, 2 at the open door, 0 elsewhere)."""

    def base(obs: np.ndarray) -> np.ndarray:
        s = obs[:, 0].astype(np.int64)
        return np.select([s == 0, s == 1], [1, 2], default=0)

    dynamics = TableDynamics()
    dynamics.observe = lambda states: states.s[:, None].astype(np.float32)  # type: ignore[attr-defined]
    return dynamics, base


def test_mcts_prior_weight_leans_on_the_base_policy():
    # Three simulations with uniform priors do not find the way; leaning the priors on a
    # base policy that knows it makes them enough.
    # One leaf at a time, as a sequential search would descend.
    dynamics, base = _door_policy_dynamics()
    cfg = dict(num_simulations=3, max_depth=3, gamma=1.0, leaf_batch=1)
    uniform = MCTSPlanner(MCTSConfig(**cfg), base_policy=base)
    assert uniform.plan(dynamics, ROOT) == 0
    leaning = MCTSPlanner(MCTSConfig(**cfg, prior_weight=0.9), base_policy=base)
    assert leaning.plan(dynamics, ROOT) == 1
    assert leaning.root_visits is not None and leaning.root_visits.tolist() == [0, 3, 0]


def test_mcts_prior_weight_is_checked():
    with pytest.raises(ValueError, match="prior_weight"):
        MCTSPlanner(MCTSConfig(prior_weight=1.5))
    with pytest.raises(ValueError, match="collision_retries"):
        MCTSPlanner(MCTSConfig(collision_retries=-1))


@pytest.mark.parametrize(
    ("steps_left", "best"),
    [(3, 1), (2, 1), (1, 0)],  # the door (3 after one more step) needs 2 steps left
)
def test_planners_count_no_reward_past_the_episodes_last_step(steps_left, best):
    from lucidgym.agents.planning.dynamics import TimeLimitedDynamics

    limited = TimeLimitedDynamics(TableDynamics(), limit=10)
    root = limited.root(ROOT, steps_taken=10 - steps_left)
    beam = BeamPlanner(BeamConfig(width=27, depth=3, gamma=1.0))
    shooting = ShootingPlanner(ShootingConfig(horizon=3, num_candidates=512, gamma=1.0))
    mcts = MCTSPlanner(MCTSConfig(num_simulations=400, max_depth=3, gamma=1.0, rollout_depth=0))
    for planner in (beam, shooting, mcts):
        assert int(planner.plan(limited, root)) == best, type(planner).__name__


def test_policy_rollouts_of_every_candidate_share_their_random_numbers():
    # Noisy rewards drawn per row: on common random numbers, two candidates with the same
    # true value score exactly alike, whatever the noise.
    class NoisyCoin:
        action_space = gym.spaces.Discrete(2)

        def __init__(self) -> None:
            self.rng = np.random.default_rng(0)

        def _step(self, states, actions, noise):
            return states, (1.0 + noise).astype(np.float32), np.zeros(len(states.s), bool)

        def step(self, states, actions):
            return self._step(states, actions, self.rng.standard_normal(len(states.s)))

        def step_common(self, states, actions, groups):
            block = self.rng.standard_normal(len(states.s) // groups)
            return self._step(states, actions, np.tile(block, groups))

        def take(self, states, index):
            return TableState(states.s[index])

    first = np.repeat(np.arange(2), 16)[:, None]
    common = imagine_returns(NoisyCoin(), ROOT, first, 1.0, horizon=1, groups=2)
    assert np.array_equal(common[:16], common[16:])
    independent = imagine_returns(NoisyCoin(), ROOT, first, 1.0, horizon=1)
    assert not np.allclose(independent[:16], independent[16:])
