"""Does a learned planner rank the first actions as the oracle planners do?

``dream`` over the expert rules scores each first action by the mean return of
dreamed rule rollouts after it, and leaves the rules' own choice only where one
scores clearly better. ``scripts/model_action_error.py`` compares one-step rewards;
this compares what decides: the planners' scores themselves, at the same states.

It fits ``dream`` in a learned backend the way the full suite's ``dream[20k steps]``
row does (``--budget`` steps of the rules with 30% random actions, then
``--train-steps`` gradient steps), and builds ``dream`` with the true simulator
(``oracle``, from the student's true state) and with the belief oracle (``belief``,
the true simulator behind a particle filter of the observations), each with its
suite defaults. It then follows the rules on ``--episodes`` held-out students and, at
every step, asks each planner for its scores of every first action. Per planner,
against the oracle's scores:

- the rank correlation of the action scores, per state, averaged;
- how often its best action is the oracle's best;
- the oracle's advantage of its best action over the rules' choice: a planner that
  took its argmax would gain this much a decision by the oracle's reckoning;
- the correlation of its advantages over the rules' choice with the oracle's.

The true simulator searched with the learned planner's horizon and dreams ("oracle,
learned search") tells the search's share of the disagreement from the model's.
A second oracle planner with other random draws ("oracle again") gives the noise
floor of these, and its row is the fair yardstick for the others: the oracle's scores
of its own best action are biased up, since the same draws chose it.

    python scripts/tutoring_plan_agreement.py --budget 20000 --episodes 6
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.agents.protocol import Transition, act_one, expert_policy
from lucidgym.agents.registry import make_agent


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    return ranks


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def collect(args: argparse.Namespace) -> dict[str, np.ndarray]:
    """``{planner: [decisions, actions] scores}`` and ``"rules"``: the rules' actions."""
    env = gym.make(args.env)
    learning = {
        "train_steps": args.train_steps, "refit_steps": 0, "chunks": 1,
        "warmup_fraction": 1.0,
    }  # fmt: skip
    search = {k: v for k, v in (("horizon", args.horizon), ("samples", args.samples)) if v}
    learned = make_agent(
        "dream", env, model=args.backend, seed=args.seed, learning=learning,
        model_config=json.loads(args.model_config), **search,
    )  # fmt: skip
    start = time.perf_counter()
    learned.learn(gym.make(args.env), args.budget, seed=args.seed)  # type: ignore[attr-defined]
    print(f"fitted {args.backend} on {args.budget} steps in {time.perf_counter() - start:.0f} s")
    planners: dict[str, Any] = {
        "learned": learned,
        "oracle": make_agent("dream", env, model="oracle", seed=args.seed),
        "oracle again": make_agent("dream", env, model="oracle", seed=args.seed + 1),
        "belief": make_agent("dream", env, model="belief", seed=args.seed),
    }
    # The true simulator searched as the learned model is (fewer, shorter dreams):
    # what of the learned planner's disagreement is its search rather than its model.
    search = learned.planner.config  # type: ignore[attr-defined]
    planners["oracle, learned search"] = make_agent(
        "dream", env, model="oracle", seed=args.seed, horizon=search.horizon,
        samples=search.samples,
    )  # fmt: skip
    rules = expert_policy(env)
    if rules is None:
        raise SystemExit(f"{args.env} has no expert rules to follow")
    scores: dict[str, list[np.ndarray]] = {name: [] for name in planners}
    taken: list[int] = []
    for episode in range(args.episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        for offset, agent in enumerate(planners.values()):
            # Each planner its own random draws ("oracle again" differs from "oracle" only here).
            agent.reset(seed=(args.seed * 1_000 + episode) * 10 + offset)
        done = False
        while not done:
            action = int(act_one(rules, env.action_space, obs))
            for name, agent in planners.items():
                agent.act(obs)
                planner = agent.planner
                if planner.last_scores is None:
                    raise SystemExit(f"{name}: dream must plan in policy mode")
                scores[name].append(np.asarray(planner.last_scores, dtype=np.float64))
            taken.append(action)
            learned._follow(action)  # type: ignore[attr-defined]  # the filter follows the rules
            next_obs, reward, terminated, truncated, info = env.step(action)
            step = Transition(obs, action, float(reward), next_obs, terminated, truncated, info)
            planners["belief"].observe(step)
            obs, done = next_obs, terminated or truncated
        print(f"episode {episode + 1}/{args.episodes}: {len(taken)} decisions")
    out = {name: np.stack(rows) for name, rows in scores.items()}
    out["rules"] = np.asarray(taken)
    return out


def agreement(scores: np.ndarray, oracle: np.ndarray, rules: np.ndarray) -> dict[str, float]:
    """How ``scores [D, A]`` agree with the ``oracle``'s at the same ``D`` decisions."""
    rows = np.arange(len(rules))
    best, oracle_best = scores.argmax(1), oracle.argmax(1)
    advantage = scores - scores[rows, rules][:, None]
    oracle_advantage = oracle - oracle[rows, rules][:, None]
    others = np.ones_like(scores, dtype=bool)
    others[rows, rules] = False
    return {
        "rank correlation": float(
            np.mean([_corr(_ranks(s), _ranks(o)) for s, o in zip(scores, oracle, strict=True)])
        ),
        "same best action": float(np.mean(best == oracle_best)),
        "oracle advantage of its best": float(oracle_advantage[rows, best].mean()),
        "advantage correlation": _corr(advantage[others], oracle_advantage[others]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="Tutoring-v1")
    parser.add_argument("--backend", default="ensemble")
    parser.add_argument("--model-config", default="{}", help="the backend's config, as JSON")
    parser.add_argument("--horizon", type=int, default=None, help="the learned dream's horizon")
    parser.add_argument("--samples", type=int, default=None, help="the learned dream's dreams")
    parser.add_argument("--budget", type=int, default=20_000)
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    scores = collect(args)
    rules = scores.pop("rules")
    oracle = scores.pop("oracle")
    table = {name: agreement(s, oracle, rules) for name, s in scores.items()}
    # The learned planner against the true simulator searched the same way.
    same_search = agreement(scores["learned"], scores["oracle, learned search"], rules)
    print(f"\nagainst the oracle's scores at {len(rules)} decisions along the rules:")
    for planner, row in table.items():
        print(f"{planner}: " + ", ".join(f"{n} {v:.3f}" for n, v in row.items()))
    print("learned, against the oracle searched as it is: ", end="")
    print(", ".join(f"{n} {v:.3f}" for n, v in same_search.items()))
    # Which actions each planner over- or underrates: mean advantage over the rules' choice.
    rows = np.arange(len(rules))
    by_action = {
        name: (s - s[rows, rules][:, None]).mean(0).round(3).tolist()
        for name, s in {"oracle": oracle, **scores}.items()
    }
    print("mean advantage of each action over the rules' choice:")
    for name, values in by_action.items():
        print(f"  {name}: {values}")
    if args.out is not None:
        figures = {"args": vars(args) | {"out": str(args.out)}, "against oracle": table}
        figures |= {"learned against its search": same_search, "advantage by action": by_action}
        args.out.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
