"""``dyna``: learn a world model from real episodes, train an actor-critic in its dreams.

Real and imagined experience interleave (Dyna, in the Dreamer form): every
``train_every`` vector steps the world model (``rssm`` by default, any
:class:`~lucidgym.world_models.protocol.WorldModel` backend by name) takes gradient steps
on replayed real sequences; then posterior states filtered from a fresh replay sample
start ``horizon``-step imagined rollouts in which the actor samples actions. The
critic regresses to lambda-returns of the imagined rewards (bootstrapped by a slow
target critic), and the actor follows REINFORCE on those returns with an entropy bonus
(imagination runs without gradients, so any backend and discrete actions work).
The agent acts with the actor on the model state filtered from real observations.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from lucidgym.agents.dyna_config import DynaConfig, make_dyna_config
from lucidgym.agents.experience import EpisodeTracker, make_vector_env
from lucidgym.agents.protocol import ScalarLogger, Transition, log_episodes, register_agent
from lucidgym.files import load_tensors, save_tensors
from lucidgym.threads import torch_threads
from lucidgym.world_models.buffer import Episode, SequenceReplayBuffer
from lucidgym.world_models.layers import TwoHot, zero_last_layer
from lucidgym.world_models.protocol import SequenceBatch
from lucidgym.world_models.registry import make_world_model
from lucidgym.world_models.trainer import resolve_device, train_step


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.SiLU(),
        nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.SiLU(),
        nn.Linear(hidden, out_dim),
    )  # fmt: skip


def _features(state: Any) -> Tensor:
    """``[B, F]``: every field of a backend state, flattened and concatenated."""
    return torch.cat([f.reshape(f.shape[0], -1).float() for f in state], dim=-1)


def _select(mask: Tensor, a: Any, b: Any) -> Any:
    """Row-wise ``a if mask else b`` over two states of the same backend."""
    shaped = (mask.view(-1, *([1] * (x.dim() - 1))) for x in a)
    return type(a)(*(torch.where(m, x, y) for m, x, y in zip(shaped, a, b, strict=True)))


@register_agent("dyna")
class DynaAgent:
    """Dyna-style agent: a learned world model and an actor-critic trained in imagination.

    Works on envs with a Box observation space and a Discrete action space.
    """

    trained_env_steps: int = 0
    """Real env steps of the last :meth:`learn` (it can pass ``total_steps`` by less than
    one block of steps)."""

    def __init__(self, env: gym.Env[Any, Any], **config: Any) -> None:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(f"dyna: needs a Discrete action space, got {env.action_space}")
        if not isinstance(env.observation_space, gym.spaces.Box):
            raise ValueError(f"dyna: needs a Box observation space, got {env.observation_space}")
        self._build(env.observation_space, env.action_space, make_dyna_config(config))

    def _build(
        self, obs_space: gym.spaces.Box, act_space: gym.spaces.Discrete, config: DynaConfig
    ) -> None:
        self.config = config
        self.observation_space, self.action_space = obs_space, act_space
        self.num_actions = int(act_space.n)
        self.device = resolve_device(config.device)
        self.model: Any = make_world_model(
            config.model, obs_space, act_space, **config.model_config
        )
        self.model.to(self.device)
        feat = _features(self.model.initial_state(1)).shape[-1]
        self.actor = _mlp(feat, config.hidden, self.num_actions).to(self.device)
        self.twohot: TwoHot | None = None
        if config.critic_head == "twohot":
            self.twohot = TwoHot(config.critic_bins).to(self.device)
            self.critic = zero_last_layer(_mlp(feat, config.hidden, config.critic_bins))
            self.critic.to(self.device)
        else:
            self.critic = _mlp(feat, config.hidden, 1).to(self.device)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.model_opt = torch.optim.Adam(self.model.parameters(), lr=config.model_lr)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr)
        self.normalized = False
        self.return_range: list[float] | None = None
        """The moving ``[P5, P95]`` of imagined returns (``return_norm_decay > 0``)."""
        self._generator = torch.Generator(device=self.device)
        self.reset()

    # -- acting ----------------------------------------------------------------------

    def _filter(self, state: Any, prev_action: Tensor, obs: Tensor, first: Tensor) -> Any:
        """Fold real ``obs [N, *O]`` into ``state``; rows where ``first`` start episodes."""
        fresh, _ = self.model.observe(self.model.initial_state(obs.shape[0]), None, obs)
        if bool(first.all()):
            return fresh
        cont, _ = self.model.observe(state, prev_action, obs)
        return _select(first, fresh, cont)

    def _policy(self, state: Any, greedy: bool) -> Tensor:
        logits = self.actor(_features(state))
        if greedy:
            return logits.argmax(-1)
        return torch.multinomial(logits.softmax(-1), 1, generator=self._generator)[:, 0]

    def reset(self, *, seed: int | None = None) -> None:
        """Start an episode: forget the filtered state; ``seed`` fixes sampled actions."""
        self._state: Any = None
        self._prev_action = torch.zeros(1, dtype=torch.int64, device=self.device)
        if seed is not None:
            self._generator.manual_seed(seed)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> int:
        """The actor's action on the model state filtered from the episode so far."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)[None], device=self.device)
        first = torch.tensor([self._state is None], device=self.device)
        state = self.model.initial_state(1) if self._state is None else self._state
        self._state = self._filter(state, self._prev_action, x, first)
        action = int(self._policy(self._state, self.config.greedy)[0])
        self._prev_action = torch.tensor([action], device=self.device)
        return action

    def observe(self, transition: Transition) -> None:
        """Record the action actually taken; an episode end clears the filtered state."""
        self._prev_action = torch.tensor([int(transition.action)], device=self.device)
        if transition.terminated or transition.truncated:
            self.reset()

    # -- learning --------------------------------------------------------------------

    def learn(
        self, env: gym.Env[Any, Any], total_steps: int, *, seed: int | None = None,
        logger: ScalarLogger | None = None,
    ) -> dict[str, list[float]]:  # fmt: skip
        """Interleave ``total_steps`` real env steps with model and imagination updates.

        ``logger`` gets each finished episode (``charts/*``) and each round's statistics.

        Returns:
            Per finished episode ``env_steps``, ``episode_return``, ``success_rate``; per
            training round ``update/env_steps``, ``loss/<model terms>``, ``loss/actor``,
            ``loss/critic``, ``policy/entropy`` and ``imagined/return``.
        """
        if total_steps < 1:
            raise ValueError(f"dyna: total_steps must be positive, got {total_steps}")
        with torch_threads(self.config.threads):
            return self._learn(env, total_steps, seed, logger)

    def _learn(self, env: Any, total_steps: int, seed: Any, logger: Any) -> dict[str, list[float]]:
        cfg, dev = self.config, self.device
        if seed is not None:
            torch.manual_seed(seed)
            self._generator.manual_seed(seed)
        # A stream apart from the env's: the same seed must not replay its draws.
        rng = np.random.default_rng(None if seed is None else [seed, 1])
        buffer = SequenceReplayBuffer(
            self.observation_space, self.action_space, cfg.buffer_capacity, seed
        )
        n = cfg.num_envs
        vec = make_vector_env(env, n)
        tracker = EpisodeTracker(n)
        obs, _ = vec.reset(seed=seed)
        episodes: list[dict[str, list[Any]]] = [self._new_episode(o) for o in obs]
        state = self.model.initial_state(n)
        prev = torch.zeros(n, dtype=torch.int64, device=dev)
        first = torch.ones(n, dtype=torch.bool, device=dev)
        curves: dict[str, list[float]] = {}
        vector_steps, logged, start = 0, 0, time.perf_counter()
        while tracker.env_steps < total_steps:
            with torch.no_grad():
                x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=dev)
                state = self._filter(state, prev, x, first)
                if tracker.env_steps < cfg.prefill_steps:
                    action = torch.as_tensor(rng.integers(0, self.num_actions, n), device=dev)
                else:
                    action = self._policy(state, greedy=False)
            act_np = action.cpu().numpy()
            obs, reward, terminated, truncated, info = vec.step(act_np)
            live = tracker.step(reward, terminated, truncated, info)
            done = live & (np.asarray(terminated) | np.asarray(truncated))
            for i in range(n):
                if not live[i]:
                    episodes[i] = self._new_episode(obs[i])
                    continue
                ep = episodes[i]
                ep["action"].append(int(act_np[i]))
                ep["reward"].append(float(reward[i]))
                ep["terminal"].append(bool(terminated[i]))
                ep["obs"].append(np.asarray(obs[i], dtype=np.float32))
                if done[i]:
                    buffer.add_episode(
                        Episode(
                            np.stack(ep["obs"]),
                            np.asarray(ep["action"], dtype=np.int64),
                            np.asarray(ep["reward"], dtype=np.float32),
                            np.asarray(ep["terminal"], dtype=bool),
                        )
                    )
            prev, first = action, torch.as_tensor(~live, device=dev)
            vector_steps += 1
            logged = log_episodes(logger, tracker.curves, logged, start)
            ready = tracker.env_steps >= cfg.prefill_steps and len(buffer) >= cfg.seq_len
            if ready and vector_steps % cfg.train_every == 0:
                stats = self._train_round(buffer)
                if logger is not None:
                    logger.log(stats, tracker.env_steps)
                stats["update/env_steps"] = float(tracker.env_steps)
                for key, value in stats.items():
                    curves.setdefault(key, []).append(value)
        vec.close()
        self.trained_env_steps = tracker.env_steps
        return {**tracker.curves, **curves}

    @staticmethod
    def _new_episode(obs: np.ndarray) -> dict[str, list[Any]]:
        return {"obs": [np.asarray(obs, dtype=np.float32)], "action": [], "reward": [],
                "terminal": []}  # fmt: skip

    def _train_round(self, buffer: SequenceReplayBuffer) -> dict[str, float]:
        cfg = self.config
        updates = cfg.model_updates
        if not self.normalized:
            self.model.fit_normalization(buffer.sample(256, cfg.seq_len))
            self.normalized = True
            updates += cfg.pretrain_updates
        stats: dict[str, float] = {}
        self.model.train()
        for _ in range(updates):
            batch = buffer.sample(cfg.batch_size, cfg.seq_len).to(self.device)
            terms = train_step(self.model, self.model_opt, batch, grad_clip=cfg.max_grad_norm)
            stats.update({k if k.startswith("loss/") else f"loss/{k}": float(v)
                          for k, v in terms.items()})  # fmt: skip
        self.model.eval()
        for _ in range(cfg.actor_updates):
            starts = self._posterior_starts(buffer.sample(cfg.batch_size, cfg.seq_len))
            stats.update(self._imagination_update(starts))
        return stats

    @torch.no_grad()
    def _posterior_starts(self, batch: SequenceBatch) -> Any:
        """The filtered model states of every valid row of ``batch`` (``[B * T]`` states)."""
        batch = batch.to(self.device)
        b, t = batch.reward.shape
        state = self.model.initial_state(b)
        states = []
        for i in range(t):
            first = batch.is_first[:, i] | torch.tensor(i == 0, device=self.device)
            prev = batch.action[:, i - 1] if i > 0 else batch.action[:, 0]
            state = self._filter(state, prev, batch.obs[:, i], first)
            states.append(state)
        keep = batch.valid.transpose(0, 1).reshape(-1)
        return type(state)(*(torch.cat(fields)[keep] for fields in zip(*states, strict=True)))

    def _imagination_update(self, start: Any) -> dict[str, float]:
        """One actor and one critic step on ``H``-step dreams from ``start`` states."""
        cfg = self.config
        feats, actions, rewards, conts = [], [], [], []
        state = start
        with torch.no_grad():
            for _ in range(cfg.horizon):
                feats.append(_features(state))
                action = self._policy(state, greedy=False)
                state, pred = self.model.imagine(state, action)
                actions.append(action)
                rewards.append(pred.reward)
                conts.append(1.0 - pred.done)
            feats.append(_features(state))
            feat = torch.stack(feats)  # [H + 1, M, F]
            target = self._value(self.slow_critic if cfg.slow_critic else self.critic, feat)
            reward, cont = torch.stack(rewards), torch.stack(conts)  # [H, M]
            returns = torch.zeros_like(reward)
            last = target[-1]
            for h in reversed(range(cfg.horizon)):
                last = reward[h] + cfg.gamma * cont[h] * (
                    (1 - cfg.lambda_) * target[h + 1] + cfg.lambda_ * last
                )
                returns[h] = last
            # Weight each step by the imagined probability that the episode is still on.
            weight = torch.cat([torch.ones_like(cont[:1]), torch.cumprod(cont[:-1], 0)])
        out = self.critic(feat[:-1])
        if self.twohot is not None:
            value = self.twohot.decode(out)
            critic_loss = (weight * self.twohot.loss(out, returns)).mean()
        else:
            value = out.squeeze(-1)
            critic_loss = (weight * (value - returns).pow(2)).mean()
        self.critic_opt.zero_grad()
        critic_loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.max_grad_norm)
        self.critic_opt.step()

        dist = torch.distributions.Categorical(logits=self.actor(feat[:-1]))
        advantage = returns - value.detach()
        scale = self._return_scale(returns)
        entropy = dist.entropy()
        actor_loss = -(weight * (dist.log_prob(torch.stack(actions)) * advantage / scale)).mean()
        actor_loss = actor_loss - cfg.entropy_coef * (weight * entropy).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.max_grad_norm)
        self.actor_opt.step()
        with torch.no_grad():
            for slow, fast in zip(
                self.slow_critic.parameters(), self.critic.parameters(), strict=True
            ):
                slow.lerp_(fast, 1 - cfg.slow_critic_decay)
        return {
            "loss/actor": float(actor_loss.detach()),
            "loss/critic": float(critic_loss.detach()),
            "policy/entropy": float(entropy.mean().detach()),
            "imagined/return": float(returns[0].mean()),
        }

    def _value(self, critic: nn.Module, feat: Tensor) -> Tensor:
        """``[...]`` values of ``feat [..., F]`` by ``critic`` (this or the slow one)."""
        out = critic(feat)
        return self.twohot.decode(out) if self.twohot is not None else out.squeeze(-1)

    def _return_scale(self, returns: Tensor) -> Tensor:
        """``max(1, P95 - P5)`` of the returns, or of their moving percentiles."""
        low, high = returns.quantile(0.05), returns.quantile(0.95)
        decay = self.config.return_norm_decay
        if decay == 0.0:
            return torch.clamp(high - low, min=1.0)
        now = [float(low), float(high)]
        if self.return_range is None:
            self.return_range = now
        else:
            self.return_range = [
                decay * old + (1.0 - decay) * new
                for old, new in zip(self.return_range, now, strict=True)
            ]
        return torch.tensor(max(1.0, self.return_range[1] - self.return_range[0]))

    def _parts(self) -> nn.ModuleDict:
        """Every trained network, under the prefixes its tensors are saved with."""
        return nn.ModuleDict(
            {"model": self.model, "actor": self.actor, "critic": self.critic,
             "slow_critic": self.slow_critic}
        )  # fmt: skip

    def settings(self) -> dict[str, Any]:
        """The config dataclass, as JSON."""
        return dataclasses.asdict(self.config)

    def save(self, path: str | Path) -> None:
        """Write ``model.safetensors`` (model, actor, critics) and ``config.json``."""
        space = self.observation_space
        meta = {
            "agent": "dyna",
            "obs_low": space.low.tolist(),
            "obs_high": space.high.tolist(),
            "num_actions": self.num_actions,
            "normalized": self.normalized,
            "return_range": self.return_range,
            "config": dataclasses.asdict(self.config),
        }
        save_tensors(path, self._parts().state_dict(), meta)

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> DynaAgent:
        """An agent from a folder written by :meth:`save` (``overrides`` e.g. ``device``)."""
        tensors, meta = load_tensors(path, ("agent",))
        if meta["agent"] != "dyna":
            raise ValueError(f"dyna: {path} holds no saved dyna agent")
        obs_space = gym.spaces.Box(
            np.array(meta["obs_low"], np.float32), np.array(meta["obs_high"], np.float32)
        )
        agent = cls.__new__(cls)
        config = make_dyna_config({**meta["config"], **overrides})
        agent._build(obs_space, gym.spaces.Discrete(meta["num_actions"]), config)
        agent._parts().load_state_dict(tensors)
        agent.normalized = bool(meta["normalized"])
        agent.return_range = meta.get("return_range")
        return agent
