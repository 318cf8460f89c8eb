"""``baby``: the WMIL REINFORCE transformer with a world-model head.

A small transformer (2 layers, 64 wide, 4 heads, feed-forward 256; about 117k
parameters) reads a window of the last ``W`` observations, each token the embedded
observation plus the embedded action that led to it. From the newest token it gives a
policy (action head), a value (value head) and, for a candidate action, the RAW next
observation (world-model head: a raw target stays fixed while the encoder drifts).

Training is REINFORCE with a running baseline, an entropy bonus and gradient clipping;
the world-model loss is an auxiliary term (``world_model_coef = 0`` removes it, the
ablation of the WMIL study). Experience comes from ``num_envs`` copies of the env at
once (see :mod:`lucidgym.agents.experience`); the policy is updated every
``rollout_steps`` vector steps from returns-to-go inside that chunk, bootstrapped with
the value head where ``gamma > 0``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from lucidgym.agents.baby_network import BabyModel, ObservationWindows
from lucidgym.agents.experience import EpisodeTracker, make_vector_env, reward_components
from lucidgym.agents.protocol import ScalarLogger, Transition, log_episodes, register_agent
from lucidgym.configs import build_config
from lucidgym.files import load_tensors, save_tensors
from lucidgym.world_models.trainer import resolve_device


@dataclass
class BabyConfig:
    """Hyperparameters of :class:`BabyAgent`."""

    window: int = 8
    """``W``: observations the transformer sees (the newest last)."""
    d_model: int = 64
    """Width of the transformer."""
    num_layers: int = 2
    """Transformer layers."""
    num_heads: int = 4
    """Attention heads."""
    ff_dim: int = 256
    """Width of the feed-forward block."""
    recency_bias: float = 3.0
    """Attention penalty per step of distance in the first head (each next head 1/4 of it)."""
    num_envs: int = 8
    """``N``: env copies stepped together while learning."""
    rollout_steps: int = 1
    """Vector steps between updates (one update sees ``N * rollout_steps`` transitions)."""
    learning_rate: float = 1e-3
    """Adam step size."""
    update_epochs: int = 1
    """Gradient steps on each collected chunk (1 is plain on-policy REINFORCE)."""
    gamma: float = 0.0
    """Discount of returns-to-go (0: each action is credited with its own reward)."""
    baseline_decay: float = 0.9
    """Decay of the running mean of returns used as the REINFORCE baseline."""
    normalize_advantage: bool = True
    """Divide advantages by their standard deviation in each update."""
    entropy_coef: float = 0.3
    """Weight of the entropy bonus (keeps exploring while some observations are unsolved)."""
    world_model_coef: float = 1.0
    """Weight of the world-model (next raw observation) loss; 0 disables the head."""
    value_coef: float = 0.5
    """Weight of the value-head regression to returns."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    greedy: bool = True
    """``act`` picks the most likely action (else samples the policy)."""
    device: str = "cpu"
    """Torch device of the network."""


def _check_spaces(env: gym.Env[Any, Any]) -> tuple[tuple[int, ...], int]:
    if not isinstance(env.observation_space, gym.spaces.Box):
        raise ValueError(f"baby: needs a Box observation space, got {env.observation_space}")
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(f"baby: needs a Discrete action space, got {env.action_space}")
    return tuple(env.observation_space.shape), int(env.action_space.n)


def _make_config(overrides: dict[str, Any]) -> BabyConfig:
    return build_config(BabyConfig, overrides, "baby")


@register_agent("baby")
class BabyAgent:
    """The WMIL baby: a REINFORCE transformer over a window of recent observations.

    Works on any env with a Box observation space and a Discrete action space.

    Example:
        >>> import gymnasium as gym
        >>> import lucidgym  # noqa: F401
        >>> env = gym.make("PatternEcho-v0")
        >>> agent = BabyAgent(env, num_envs=4)
        >>> curves = agent.learn(env, total_steps=256, seed=0)
        >>> curves["env_steps"][-1] <= 256
        True
    """

    trained_env_steps: int = 0
    """Real env steps of the last :meth:`learn` (it can pass ``total_steps`` by less than
    one block of steps)."""

    def __init__(self, env: gym.Env[Any, Any], **config: Any) -> None:
        obs_shape, num_actions = _check_spaces(env)
        self._build(obs_shape, num_actions, _make_config(config))

    def _build(self, obs_shape: tuple[int, ...], num_actions: int, config: BabyConfig) -> None:
        self.config = config
        self.obs_shape = obs_shape
        self.obs_dim = int(np.prod(obs_shape))
        self.num_actions = num_actions
        self.device = resolve_device(config.device)
        self.model = BabyModel(self.obs_dim, num_actions, config).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.baseline = 0.0
        self._generator = torch.Generator(device=self.device)
        self._episode = ObservationWindows(1, config.window, self.obs_dim, num_actions)
        self._prev_action = num_actions
        self._first = True

    # -- acting ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode: clear the window; ``seed`` fixes sampled actions."""
        self._episode = ObservationWindows(1, self.config.window, self.obs_dim, self.num_actions)
        self._prev_action = self.num_actions
        self._first = True
        if seed is not None:
            self._generator.manual_seed(seed)

    def act(self, obs: np.ndarray) -> int:
        """The action for ``obs`` given the episode so far (argmax unless ``greedy=False``)."""
        flat = np.asarray(obs, dtype=np.float32).reshape(1, self.obs_dim)
        self._episode.push(flat, np.array([self._prev_action]), np.array([self._first]))
        self._first = False
        with torch.no_grad():
            logits = self.model.logits(self.model(*self._episode.tensors(self.device)))
        if self.config.greedy:
            action = int(logits.argmax(-1).item())
        else:
            action = int(torch.multinomial(logits.softmax(-1), 1, generator=self._generator))
        self._prev_action = action
        return action

    def observe(self, transition: Transition) -> None:
        """Record the action actually taken; an episode end clears the window."""
        self._prev_action = int(transition.action)
        if transition.terminated or transition.truncated:
            self.reset()

    def evaluate(
        self, env: gym.Env[Any, Any], episodes: int, *, seed: int | None = None
    ) -> dict[str, float]:
        """Mean ``episode_return`` and ``success_rate`` of ``act`` over ``episodes``.

        Runs ``min(episodes, num_envs)`` copies of ``env`` at once.
        """
        if episodes < 1:
            raise ValueError(f"baby: episodes must be at least 1, got {episodes}")
        n = min(episodes, self.config.num_envs)
        vec = make_vector_env(env, n)
        tracker = EpisodeTracker(n)
        windows = ObservationWindows(n, self.config.window, self.obs_dim, self.num_actions)
        obs, _ = vec.reset(seed=seed)
        prev, first = np.full(n, self.num_actions), np.ones(n, dtype=bool)
        while len(tracker.curves["episode_return"]) < episodes:
            windows.push(obs.reshape(n, -1), prev, first)
            with torch.no_grad():
                logits = self.model.logits(self.model(*windows.tensors(self.device)))
            if self.config.greedy:
                action = logits.argmax(-1)
            else:
                action = torch.multinomial(logits.softmax(-1), 1, generator=self._generator)[:, 0]
            prev = action.cpu().numpy()
            obs, reward, terminated, truncated, info = vec.step(prev)
            first = ~tracker.step(reward, terminated, truncated, info)
        vec.close()
        success = np.array(tracker.curves["success_rate"][:episodes])
        return {
            "episode_return": float(np.mean(tracker.curves["episode_return"][:episodes])),
            "success_rate": float(np.nanmean(success)) if np.isfinite(success).any() else np.nan,
        }

    # -- learning --------------------------------------------------------------------

    def learn(
        self,
        env: gym.Env[Any, Any],
        total_steps: int,
        *,
        seed: int | None = None,
        logger: ScalarLogger | None = None,
    ) -> dict[str, list[float]]:
        """Train on ``total_steps`` real env steps from ``num_envs`` copies of ``env``.

        ``logger`` gets each finished episode (``charts/*``) and each update's statistics
        (those of the per-update curves below but ``update/env_steps``) as they come.

        Returns:
            Per finished episode: ``env_steps``, ``episode_return``, ``success_rate``
            (NaN where the env reports no ``success``). Per update: ``update/env_steps``,
            ``loss/policy``, ``loss/world_model``, ``loss/value``, ``policy/entropy``,
            ``charts/sps`` and ``reward/<component>`` (mean per step of each component
            of ``info["reward_vector"]``, when the env gives one).
        """
        if total_steps < 1:
            raise ValueError(f"baby: total_steps must be positive, got {total_steps}")
        cfg = self.config
        if seed is not None:
            torch.manual_seed(seed)
            self._generator.manual_seed(seed)
        n = cfg.num_envs
        vec = make_vector_env(env, n)
        tracker = EpisodeTracker(n)
        windows = ObservationWindows(n, cfg.window, self.obs_dim, self.num_actions)
        obs, _ = vec.reset(seed=seed)
        obs = obs.reshape(n, -1).astype(np.float32)
        prev, first = np.full(n, self.num_actions), np.ones(n, dtype=bool)
        windows.push(obs, prev, first)
        curves: dict[str, list[float]] = {}
        start = time.perf_counter()
        logged = 0
        while tracker.env_steps < total_steps:
            chunk: list[dict[str, Any]] = []
            for _ in range(cfg.rollout_steps):
                win = windows.tensors(self.device)
                with torch.no_grad():
                    logits = self.model.logits(self.model(*win))
                action = torch.multinomial(logits.softmax(-1), 1, generator=self._generator)[:, 0]
                prev = action.cpu().numpy()
                next_obs, reward, terminated, truncated, info = vec.step(prev)
                next_obs = next_obs.reshape(n, -1).astype(np.float32)
                live = tracker.step(reward, terminated, truncated, info)
                done = np.asarray(terminated) | np.asarray(truncated)
                chunk.append(
                    {
                        "window": win,
                        "action": action,
                        "reward": np.asarray(reward, dtype=np.float32),
                        "done": done,
                        "live": live,
                        "next_obs": next_obs,
                        "components": reward_components(info, n),
                    }
                )
                windows.push(next_obs, prev, ~live)
                if tracker.env_steps >= total_steps:
                    break
            logged = log_episodes(logger, tracker.curves, logged, start)
            stats = self._update(chunk, windows)
            if not stats:
                continue
            stats["charts/sps"] = tracker.env_steps / (time.perf_counter() - start)
            if logger is not None:
                logger.log(stats, tracker.env_steps)
            stats["update/env_steps"] = float(tracker.env_steps)
            for key, value in stats.items():
                curves.setdefault(key, []).append(value)
        vec.close()
        self.trained_env_steps = tracker.env_steps
        return {**tracker.curves, **curves}

    def _update(self, chunk: list[dict[str, Any]], windows: ObservationWindows) -> dict[str, float]:
        """One REINFORCE step on a chunk of ``T`` vector steps (``N`` envs each)."""
        cfg, model, dev = self.config, self.model, self.device
        steps = len(chunk)
        reward = torch.as_tensor(np.stack([c["reward"] for c in chunk]), device=dev)
        done = torch.as_tensor(np.stack([c["done"] for c in chunk]), device=dev)
        live = torch.as_tensor(np.stack([c["live"] for c in chunk]), device=dev)
        # Returns-to-go inside the chunk; past its end the value head stands in.
        if cfg.gamma > 0:
            with torch.no_grad():
                future = model.value(model(*windows.tensors(dev)))
        else:
            future = torch.zeros_like(reward[0])
        returns = torch.zeros_like(reward)
        for t in reversed(range(steps)):
            future = reward[t] + cfg.gamma * future * (~done[t]).float()
            returns[t] = future
        keep = live.flatten()
        if not bool(keep.any()):
            return {}
        obs = torch.cat([c["window"][0] for c in chunk])[keep]
        prev = torch.cat([c["window"][1] for c in chunk])[keep]
        mask = torch.cat([c["window"][2] for c in chunk])[keep]
        action = torch.cat([c["action"] for c in chunk])[keep]
        ret = returns.flatten()[keep]
        next_obs = torch.as_tensor(np.concatenate([c["next_obs"] for c in chunk]), device=dev)[keep]

        # REINFORCE against a running mean of returns (the WMIL baseline).
        advantage = ret - self.baseline
        if cfg.normalize_advantage and advantage.numel() > 1:
            advantage = advantage / (advantage.std() + 1e-6)
        for _ in range(cfg.update_epochs):
            features = model(obs, prev, mask)
            dist = torch.distributions.Categorical(logits=model.logits(features))
            policy_loss = -(dist.log_prob(action) * advantage).mean()
            entropy = dist.entropy().mean()
            value_loss = (model.value(features) - ret).pow(2).mean()
            world_model_loss = (model.predict_next(features, action) - next_obs).pow(2).mean()
            loss = policy_loss - cfg.entropy_coef * entropy + cfg.value_coef * value_loss
            if cfg.world_model_coef > 0:
                loss = loss + cfg.world_model_coef * world_model_loss
            self.optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            self.optimizer.step()
        self.baseline = cfg.baseline_decay * self.baseline + (1 - cfg.baseline_decay) * float(
            ret.mean()
        )

        stats = {
            "loss/policy": float(policy_loss.detach()),
            "loss/world_model": float(world_model_loss.detach()),
            "loss/value": float(value_loss.detach()),
            "policy/entropy": float(entropy.detach()),
        }
        live_np = live.cpu().numpy()
        for name in chunk[0]["components"]:
            values = np.stack([c["components"][name] for c in chunk])
            stats[f"reward/{name}"] = float(values[live_np].mean())
        return stats

    # -- files -----------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The config dataclass, as JSON."""
        return dataclasses.asdict(self.config)

    def save(self, path: str | Path) -> None:
        """Write ``model.safetensors`` and ``config.json`` into the folder ``path``."""
        meta = {
            "agent": "baby",
            "obs_shape": list(self.obs_shape),
            "num_actions": self.num_actions,
            "baseline": self.baseline,
            "config": dataclasses.asdict(self.config),
        }
        save_tensors(path, self.model.state_dict(), meta)

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> BabyAgent:
        """An agent from a folder written by :meth:`save` (``overrides`` e.g. ``device``)."""
        tensors, meta = load_tensors(path, ("agent",))
        if meta["agent"] != "baby":
            raise ValueError(f"baby: {path} holds no saved baby agent")
        agent = cls.__new__(cls)
        config = _make_config({**meta["config"], **overrides})
        agent._build(tuple(meta["obs_shape"]), int(meta["num_actions"]), config)
        agent.model.load_state_dict(tensors)
        agent.baseline = float(meta["baseline"])
        return agent
