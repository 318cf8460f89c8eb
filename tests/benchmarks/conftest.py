"""Toy agents with known returns on PatternEcho-v0, injected in place of the registry.

``echo`` outputs the shown symbol (return 32 per episode, success 1); ``stuck`` always
outputs symbol 0 (right on about 1 step in 8); ``random`` draws from its own seeded
generator. ``reactive`` is an alias of ``stuck``, so that improvements have a baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lucidgym.benchmarks import runner


class EchoAgent:
    def __init__(self, env: Any) -> None:
        self.env = env

    def reset(self, *, seed: int | None = None) -> None:
        pass

    def act(self, obs: np.ndarray) -> int:
        return int(np.argmax(obs[:8]))

    def observe(self, transition: Any) -> None:
        pass


class StuckAgent(EchoAgent):
    def act(self, obs: np.ndarray) -> int:
        return 0


class RandomAgent(EchoAgent):
    def reset(self, *, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray) -> int:
        return int(self.rng.integers(self.env.action_space.n))


class CountingLearner(RandomAgent):
    """A learner that only counts: it plays ``total_steps`` random steps and saves the count."""

    trained_env_steps = 0

    def learn(
        self, env: Any, total_steps: int, *, seed: int | None = None
    ) -> dict[str, list[float]]:
        self.reset(seed=seed)
        curves: dict[str, list[float]] = {"env_steps": [], "episode_return": []}
        obs, _ = env.reset(seed=seed)
        total = 0.0
        for step in range(1, total_steps + 1):
            obs, reward, terminated, truncated, _ = env.step(self.act(obs))
            total += float(reward)
            if terminated or truncated:
                curves["env_steps"].append(float(step))
                curves["episode_return"].append(total)
                obs, _ = env.reset()
                total = 0.0
        self.steps = self.trained_env_steps = total_steps
        return curves

    def save(self, path: Any) -> None:
        import json
        from pathlib import Path

        import torch
        from safetensors.torch import save_file

        Path(path).mkdir(parents=True, exist_ok=True)
        save_file({"steps": torch.tensor([self.steps])}, str(Path(path) / "model.safetensors"))
        (Path(path) / "config.json").write_text(json.dumps({"agent": "counter"}))


class SleepingLearner(CountingLearner):
    """A learner whose training takes long without using the CPU (a second per 100k steps)."""

    def learn(
        self, env: Any, total_steps: int, *, seed: int | None = None
    ) -> dict[str, list[float]]:
        import time

        for _ in range(total_steps // 1000):
            time.sleep(0.01)
        self.steps = self.trained_env_steps = total_steps
        return {"env_steps": [], "episode_return": []}


TOY_AGENTS = {
    "echo": EchoAgent,
    "stuck": StuckAgent,
    "reactive": StuckAgent,
    "random": RandomAgent,
    "counter": CountingLearner,
    "sleeper": SleepingLearner,
}


def make_toy_agent(name: str, env: Any, **config: Any) -> Any:
    if config:
        raise ValueError(f"toy agent {name} takes no config, got {sorted(config)}")
    return TOY_AGENTS[name](env)


@pytest.fixture
def toy_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "resolve_agent_maker", lambda: (make_toy_agent, list(TOY_AGENTS)))
