"""How well a learned model ranks the actions: its expected one-step reward against the truth.

A planner in a learned model can only beat the rules where the model tells the actions
apart. This script fits a backend the way the suites' planners fit it (``--budget`` real
steps of the rules with ``--epsilon`` random actions, then ``--train-steps`` gradient
steps). It then follows the rules on held-out students. Every ``--every`` steps it asks,
for each action from the current state:

- the true simulator, for the mean reward over ``--draws`` draws from the env's true state;
- the model, for the mean of ``--draws`` dreamed rewards from its state, filtered from
  the episode's observations and actions so far (a recurrent backend keeps the history;
  ``ensemble`` and ``mlp`` see the last observation only).

It prints per action the true and the model's mean, their mean absolute error and
correlation. It also prints how often the two agree on the best action, and the
correlation of the action advantages (each action's reward less the mean over actions),
which is what decides a planner's choice.

    python scripts/model_action_error.py --backend rssm --budget 20000 --train-steps 3000
"""

from __future__ import annotations

import argparse
import warnings

import gymnasium as gym
import numpy as np
import torch

import lucidgym  # noqa: F401  (registers the envs)
from lucidgym.agents.protocol import act_one, expert_policy
from lucidgym.agents.registry import make_agent
from lucidgym.batched import batch_take


def action_values(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """``[decisions, actions]`` true and modelled mean one-step rewards."""
    learning = {
        "train_steps": args.train_steps, "refit_steps": 0, "chunks": 1,
        "warmup_fraction": 1.0, "warmup_epsilon": args.epsilon,
    }  # fmt: skip
    env = gym.make(args.env)
    agent = make_agent("dream", env, model=args.backend, seed=args.seed, learning=learning)
    agent.learn(gym.make(args.env), args.budget, seed=args.seed)  # type: ignore[attr-defined]
    model = agent.model  # type: ignore[attr-defined]
    rules = expert_policy(env)
    if rules is None:
        raise SystemExit(f"{args.env} has no expert rules to follow")
    n = int(env.action_space.n)  # type: ignore[attr-defined]
    draws = args.draws
    actions = np.repeat(np.arange(n), draws)
    truth, modelled = [], []
    for episode in range(args.students):
        obs, _ = env.reset(seed=10_000 + episode)
        oracle = env.unwrapped.get_dynamics(episode)  # type: ignore[attr-defined]
        with torch.no_grad():
            state, _ = model.observe(model.initial_state(1), None, torch.as_tensor(obs[None]))
        for t in range(args.steps):
            if t % args.every == 0:
                rows = np.zeros(n * draws, dtype=np.int64)
                _, reward, _ = oracle.step(oracle.take(oracle_state(env), rows), actions)
                truth.append(np.asarray(reward).reshape(n, draws).mean(1))
                with torch.no_grad():
                    starts = batch_take(state, torch.as_tensor(rows))
                    _, pred = model.imagine(starts, torch.as_tensor(actions))
                modelled.append(pred.reward.cpu().numpy().reshape(n, draws).mean(1))
            action = act_one(rules, env.action_space, obs)
            obs, _, terminated, truncated, _ = env.step(action)
            with torch.no_grad():
                state, _ = model.observe(
                    state, torch.as_tensor([int(action)]), torch.as_tensor(obs[None])
                )
            if terminated or truncated:
                break
    return np.array(truth), np.array(modelled)


def oracle_state(env: gym.Env) -> object:
    """The env's true state (a batch of one)."""
    return env.unwrapped.get_state()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="Tutoring-v1")
    parser.add_argument("--backend", default="ensemble")
    parser.add_argument("--budget", type=int, default=2000, help="real steps to learn from")
    parser.add_argument("--train-steps", type=int, default=800)
    parser.add_argument("--epsilon", type=float, default=0.3, help="random actions' share")
    parser.add_argument("--students", type=int, default=6, help="held-out episodes")
    parser.add_argument("--steps", type=int, default=100, help="steps per episode at most")
    parser.add_argument("--every", type=int, default=5, help="steps between two checks")
    parser.add_argument("--draws", type=int, default=64, help="draws per action and check")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(1)
    truth, modelled = action_values(args)
    print(f"{args.backend} on {args.env}, {args.budget} steps, {len(truth)} decisions")
    print("action  true mean  model mean  mean abs error  correlation")
    for a in range(truth.shape[1]):
        err = np.abs(truth[:, a] - modelled[:, a]).mean()
        corr = np.corrcoef(truth[:, a], modelled[:, a])[0, 1]
        print(f"{a:6d} {truth[:, a].mean():10.4f} {modelled[:, a].mean():11.4f} "
              f"{err:14.4f} {corr:12.2f}")  # fmt: skip
    same = np.mean(truth.argmax(1) == modelled.argmax(1))
    adv_t = truth - truth.mean(1, keepdims=True)
    adv_m = modelled - modelled.mean(1, keepdims=True)
    corr = np.corrcoef(adv_t.ravel(), adv_m.ravel())[0, 1]
    print(f"same best action: {same:.2f}; correlation of the action advantages: {corr:.2f}")


if __name__ == "__main__":
    main()
