"""The named benchmark suites: what runs, on which envs, with which budgets.

``quick`` (the default of ``lucidgym bench``) is sized to finish in a few minutes on
2 CPU cores; ``full`` is the paper-scale suite; ``throughput`` measures speed; ``tiny``
is for tests. A custom suite crosses ``--env`` with ``--agent`` over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lucidgym.agents.planners import PLANNERS
from lucidgym.benchmarks.specs import RunSpec, WorldModelSpec
from lucidgym.benchmarks.throughput import ThroughputSpec

SUITES = ("quick", "full", "throughput", "tiny")
"""Suite names accepted by :func:`make_suite`."""


@dataclass
class Suite:
    """A benchmark: world-model evaluations, agent runs and optionally a speed section."""

    name: str
    """Name written into ``results.json``."""
    runs: list[RunSpec] = field(default_factory=list)
    """Agent runs, one per (env, agent, model, seed)."""
    world_models: list[WorldModelSpec] = field(default_factory=list)
    """World models trained and evaluated for open-loop error against horizon."""
    throughput: ThroughputSpec | None = None
    """Speed measurements (the throughput suite)."""


def _cross(
    env: str,
    agents: list[tuple[str, str]],
    seeds: int,
    episodes: int,
    budget: int,
    **extra: Any,
) -> list[RunSpec]:
    """Runs of each (agent, model) at seeds ``0 .. seeds - 1``."""
    return [
        RunSpec(env, agent, model, seed, episodes, budget, **extra)
        for agent, model in agents
        for seed in range(seeds)
    ]


QUICK_LEARNING = {"train_steps": 400, "refit_steps": 0, "chunks": 1, "warmup_fraction": 1.0}
"""Model fitting of the quick suite's learned-model planners (a few CPU seconds): every
real step is collected by the warm-up policy, then the model is fitted once."""

QUICK_MCTS = {"num_simulations": 16, "leaf_batch": 8, "rollout_depth": 6}
"""A smaller search for the quick suite's learned-model ``mcts`` (rule rollouts dominate
its cost)."""

QUICK_LEARNED_PLANNERS = ("dream", "mcts")
"""The planners the quick suite runs in a learned model: those that build on the rules.
``beam`` and ``greedy`` search without them and fall far below the rules in a learned
model (-90% on Tutoring); the full suite keeps their rows."""

QUICK_DYNA = {"train_every": 4, "actor_updates": 1, "batch_size": 16}
"""A quarter of ``dyna``'s default updates per env step (the quick suite's time budget)."""

LEARNED_TUTORING_MODEL = "ensemble"
"""The backend the suites' Tutoring planners learn: its members' disagreement shows in
``dream``'s repeated dreams, which keeps the planner from trusting one model's errors."""

TUTORING = "Tutoring-v1"
"""The Tutoring env of the suites' planner, learner and generalization rows."""

TUTORING_V0 = "Tutoring-v0"
"""The first Tutoring env: the full suite keeps a row group of it (and its sample-efficiency
study) so that published v0 figures stay reproducible."""

TINY_RSSM = {
    "cnn_depth": 8,
    "deter_size": 64,
    "stoch_size": 16,
    "hidden_size": 64,
    "embed_size": 32,
    "encoder_hidden": 64,
    "decoder_hidden": 64,
    "rollout_horizon": 0,
}
"""A pixel RSSM small enough to train in seconds on a CPU (about 130k parameters)."""


def quick_suite() -> Suite:
    """Tutoring planners (oracle, belief and learned), pixel MovingDot, symbolic learners.

    Sized for a few minutes on 2 CPU cores: 3 seeds (2 for the pixel RSSM planners),
    learners train on 1,000 to 4,000 real steps, models take a few hundred gradient steps.
    """
    runs = _cross(TUTORING, [("reactive", "none")], seeds=3, episodes=5, budget=0)
    runs += _cross(TUTORING, [(p, "oracle") for p in PLANNERS], 3, 5, 0)
    runs += _cross(TUTORING, [("dream", "belief")], 3, 5, 0)
    learned = {"learning": QUICK_LEARNING}
    for planner in QUICK_LEARNED_PLANNERS:
        config = {**learned, **QUICK_MCTS} if planner == "mcts" else learned
        runs += _cross(
            TUTORING, [(planner, LEARNED_TUTORING_MODEL)], 3, 5, 1000, agent_config=config
        )
    runs += _cross(TUTORING, [("dyna", "none")], 3, 5, 4000, agent_config=QUICK_DYNA)
    runs += _cross("MovingDotDiscrete-v0", [("random", "none")], 3, 3, 0)
    pixel = {
        "model_config": TINY_RSSM,
        "learning": {**QUICK_LEARNING, "train_steps": 150, "refit_steps": 50, "seq_len": 8},
    }
    runs += _cross(
        "MovingDotDiscrete-v0", [("dream", "rssm")], 2, 1, 400,
        agent_config={**pixel, "num_candidates": 32},
    )  # fmt: skip
    runs += _cross(
        "MovingDotDiscrete-v0", [("mcts", "rssm")], 2, 1, 400,
        agent_config={**pixel, "num_simulations": 16},
    )  # fmt: skip
    for env in ("PatternEcho-v0", "SequenceNext-v0"):
        runs += _cross(env, [("random", "none"), ("baby", "none")], 3, 5, 3000)
    world_models = [
        WorldModelSpec(TUTORING, "mlp", train_episodes=40, train_steps=600),
        WorldModelSpec(
            "MovingDot-v0", "rssm", train_episodes=20, train_steps=150, eval_windows=128,
            config=TINY_RSSM,
        ),
    ]  # fmt: skip
    return Suite("quick", runs, world_models)


BACKENDS = ("mlp", "lstm", "transformer", "ensemble", "rssm")
"""Every world-model backend; the full suite evaluates each."""

FULL_SEEDS = 10
"""Seeds of the full suite's runs (each its own training run and evaluation episodes)."""

FULL_LONG_SEEDS = 5
"""Seeds of the full suite's long trainings (``dyna`` at 20k steps, PPO at 200k)."""

FULL_LEARNING = {"train_steps": 800, "refit_steps": 0, "chunks": 1, "warmup_fraction": 1.0}
"""Model fitting of the full suite's Tutoring planners: 2,000 steps of the rules (with
30% random actions) and 800 gradient steps."""

FULL_LEARNING_20K = {**FULL_LEARNING, "train_steps": 3000}
"""The same at ten times the data: 20,000 steps of the rules (30% random actions) and
3,000 gradient steps. On Tutoring-v1 the ``ensemble`` then tells the actions apart
well enough for ``dream`` to gain over the rules (10 seeds x 10 students: +4.7% [-1.2,
+11.2]; +0.0% at 2,000 steps in the quick suite); its one-step reward advantages
correlate with the truth at 0.59, against 0.43 at 2,000 steps
(``scripts/model_action_error.py``)."""

FULL_PIXEL_LEARNING = {**FULL_LEARNING, "train_steps": 300, "seq_len": 8}
"""Pixel-RSSM fitting of the full suite's MovingDot planners."""

CARTPOLE_DREAM = {
    "mode": "policy",
    "horizon": 20,
    "samples": 128,
    "done": "expected",
    "model_config": {"terminal_weight": 30.0, "done_scale": 10.0},
}
"""``dream`` in a learned ``ensemble`` of CartPole-v1, an env without expert rules.

Every step pays 1 until the pole falls, so the model's done head carries all the signal.
Unweighted it stays under 0.5 on 80% of true terminals (mean p 0.28 on 200 random
episodes) and plans tie: 9.6 with the default random shooting, 85 to 111 in policy mode
with an unweighted head (one seed each). Terminal steps weighted 30 times and the done
loss 10 times put p above 0.5 on every terminal (mean 0.97; 3.5% of other steps): 490
[475, 500] over 5 seeds after 10,000 steps, PPO 451 (``docs/results/cartpole/``). ``policy`` mode
ranks each first action by its mean return over 128 random 20-step continuations, where
random shooting's best single sequence is a tie among survivors (with the true dynamics
that reaches 500 in 3 of 3 episodes, random shooting 369 on average)."""

SYMBOLIC_ENVS = ("PatternEcho-v0", "SequenceNext-v0", "Conditional-v0", "DelayedRecall-v0")
"""The symbolic family."""

NO_WORLD_MODEL_HEAD = "no world-model head"
"""Variant name of ``baby`` with ``world_model_coef=0`` (the WMIL study's ablation)."""


def full_suite() -> Suite:
    """Paper-scale: 10 seeds, PPO baselines, every backend, populations the model never saw.

    The recorded run took 108 minutes on 2 CPU cores with ``--jobs 2`` (204
    run-minutes of runs; ``docs/results/full/``), before the CartPole-v1 and Pendulum-v1
    rows were added (about 28 run-minutes more; ``docs/results/cartpole/``,
    ``docs/results/pendulum/``). ``--jobs`` spreads it over a bigger
    machine's cores, ``--executor ray`` over a cluster.
    """
    seeds, episodes = FULL_SEEDS, 10
    learned = {"learning": FULL_LEARNING}
    tutoring = TUTORING
    runs = _cross(tutoring, [("reactive", "none"), ("random", "none")], seeds, episodes, 0)
    runs += _cross(tutoring, [(p, "oracle") for p in PLANNERS], seeds, episodes, 0)
    runs += _cross(tutoring, [("dream", "belief"), ("mcts", "belief")], seeds, episodes, 0)
    learned_planners = [(planner, LEARNED_TUTORING_MODEL) for planner in PLANNERS]
    runs += _cross(tutoring, learned_planners, seeds, episodes, 2000, agent_config=learned)
    runs += _cross(
        tutoring, [("dream", LEARNED_TUTORING_MODEL)], seeds, episodes, 20_000,
        agent_config={"learning": FULL_LEARNING_20K}, variant="20k steps",
    )  # fmt: skip
    others = [b for b in BACKENDS if b != LEARNED_TUTORING_MODEL]
    runs += _cross(
        tutoring, [("dream", b) for b in others], seeds, episodes, 2000, agent_config=learned
    )
    # The strongest model-free peers: do they beat the rules?
    for baseline in ("sb3:PPO", "sb3:DQN"):
        runs += _cross(
            tutoring, [(baseline, "none")], FULL_LONG_SEEDS, episodes, 200_000,
            variant="200k steps",
        )  # fmt: skip
    # Tutoring-v0 as one row group: the rules, the planners' ceiling and a learned model.
    v0 = [("reactive", "none"), ("dream", "oracle"), ("dream", "belief")]
    runs += _cross(TUTORING_V0, v0, seeds, episodes, 0)
    runs += _cross(
        TUTORING_V0, [("dream", LEARNED_TUTORING_MODEL)], seeds, episodes, 2000,
        agent_config=learned,
    )  # fmt: skip
    # Sample efficiency on v0: dyna at 20k steps against PPO at the same budget and at
    # ten times it.
    runs += _cross(TUTORING_V0, [("dyna", "none")], FULL_LONG_SEEDS, episodes, 20_000)
    runs += _cross(TUTORING_V0, [("sb3:PPO", "none")], seeds, episodes, 20_000)
    runs += _cross(
        TUTORING_V0, [("sb3:PPO", "none")], FULL_LONG_SEEDS, episodes, 200_000,
        variant="200k steps",
    )  # fmt: skip
    # Generalization: everything learns on average students, then tutors other populations.
    for population in ("average", "novice", "anxious"):
        shifted = [("reactive", "none"), ("dream", "oracle")]
        runs += _cross(
            tutoring, shifted, seeds, episodes, 0, eval_options={"population": population}
        )
        runs += _cross(
            tutoring, [("dream", LEARNED_TUTORING_MODEL)], seeds, episodes, 2000,
            env_kwargs={"population": "average"}, eval_options={"population": population},
            agent_config=learned,
        )  # fmt: skip
    dot = "MovingDotDiscrete-v0"
    runs += _cross(dot, [("random", "none"), ("dream", "oracle")], seeds, 3, 0)
    runs += _cross(dot, [("reactive", "none")], seeds, 3, 2000)
    pixel = {"model_config": TINY_RSSM, "learning": FULL_PIXEL_LEARNING}
    runs += _cross(
        dot, [("dream", "rssm")], seeds, 3, 2000, agent_config={**pixel, "num_candidates": 32}
    )
    runs += _cross(
        dot, [("mcts", "rssm")], seeds, 3, 2000, agent_config={**pixel, "num_simulations": 16}
    )
    runs += _cross(dot, [("sb3:PPO", "none")], FULL_LONG_SEEDS, 3, 50_000, variant="50k steps")
    # Classic control as a new user tries it: a planner in a learned model beside PPO
    # at 10,000 real steps (on Pendulum the planner gets 5,000, and its defaults for Box
    # actions: the cross-entropy method).
    classic: tuple[tuple[str, dict[str, Any], int], ...] = (
        ("CartPole-v1", CARTPOLE_DREAM, 10_000),
        ("Pendulum-v1", {}, 5_000),
    )
    for env, dream_config, dream_budget in classic:
        runs += _cross(env, [("random", "none")], seeds, 5, 0)
        runs += _cross(env, [("reactive", "none")], FULL_LONG_SEEDS, 5, 10_000)
        runs += _cross(
            env, [("dream", "ensemble")], FULL_LONG_SEEDS, 5, dream_budget,
            agent_config=dream_config,
        )  # fmt: skip
    for env in SYMBOLIC_ENVS:
        symbolic = [("random", "none"), ("reactive", "none"), ("baby", "none")]
        runs += _cross(env, symbolic, seeds, episodes, 10_000)
        if env in ("SequenceNext-v0", "DelayedRecall-v0"):
            runs += _cross(
                env, [("baby", "none")], seeds, episodes, 10_000,
                agent_config={"world_model_coef": 0.0}, variant=NO_WORLD_MODEL_HEAD,
            )  # fmt: skip
    world_models = [
        WorldModelSpec(env, backend, train_episodes=100, train_steps=2000)
        for env in (tutoring, "SequenceNext-v0")
        for backend in BACKENDS
    ]
    world_models.append(
        WorldModelSpec(
            "MovingDot-v0", "rssm", train_episodes=40, train_steps=600, eval_windows=128,
            config=TINY_RSSM,
        )
    )  # fmt: skip
    return Suite("full", runs, world_models)


def throughput_suite() -> Suite:
    """Env-steps/s of every lucidgym env (single and 1,024 copies) and planner decisions/s."""
    return Suite("throughput", throughput=ThroughputSpec())


def tiny_suite() -> Suite:
    """Two agents on one symbolic env, two seeds: seconds, for tests."""
    runs = _cross("PatternEcho-v0", [("random", "none"), ("reactive", "none")], 2, 2, 0)
    return Suite("tiny", runs)


def make_suite(name: str) -> Suite:
    """The suite called ``name`` (one of :data:`SUITES`)."""
    factories = {
        "quick": quick_suite,
        "full": full_suite,
        "throughput": throughput_suite,
        "tiny": tiny_suite,
    }
    if name not in factories:
        raise ValueError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    return factories[name]()


def custom_suite(
    envs: list[str],
    agents: list[str],
    *,
    model: str | None = None,
    seeds: int = 3,
    episodes: int = 10,
    budget: int = 5000,
) -> Suite:
    """Every agent on every env at seeds ``0 .. seeds - 1``.

    Planners use ``model`` (default: ``"oracle"`` where the env exposes its dynamics,
    else the ``mlp`` backend); other agents have no model.
    """
    runs = []
    for env in envs:
        for agent in agents:
            agent_model = "none"
            if agent in PLANNERS:
                agent_model = model or ("oracle" if _has_oracle(env) else "mlp")
            runs += _cross(env, [(agent, agent_model)], seeds, episodes, budget)
    return Suite("custom", runs)


def _has_oracle(env_id: str) -> bool:
    import gymnasium as gym

    env = gym.make(env_id)
    try:
        return hasattr(env.unwrapped, "get_dynamics")
    finally:
        env.close()


def with_overrides(
    suite: Suite,
    *,
    seeds: int | None = None,
    episodes: int | None = None,
    budget: int | None = None,
) -> Suite:
    """``suite`` with its seed count, evaluation episodes or training budget replaced."""
    runs = suite.runs
    if seeds is not None:
        firsts = [r for r in runs if r.seed == 0]
        runs = [replace(r, seed=s) for r in firsts for s in range(seeds)]
    if episodes is not None:
        runs = [replace(r, episodes=episodes) for r in runs]
    if budget is not None:
        runs = [replace(r, budget=budget) for r in runs]
    return replace(suite, runs=runs)
