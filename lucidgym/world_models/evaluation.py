"""Open-loop evaluation of world models against persistence and the true simulator.

``nmae`` at horizon ``H``: on held-out episodes, the model filters a context of real
steps, then dreams ``H`` steps with the real actions; its predicted observation at
step ``H`` is compared with the real one. Observations are scaled to ``[0, 1]`` by the
observation space's bounds (by the data's min and max where a bound is infinite), so
the error is a mean absolute error in units of each signal's range.

``persistence_nmae`` predicts "nothing changes" (the last real observation).
``oracle_nmae`` uses the environment's true dynamics from the true hidden state at the
rollout start: over many sampled futures with the same actions, the element-wise
median observation at ``H`` (the value that minimizes the expected absolute error; the
mean is available as an option). It is the floor that no model beats in expectation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lucidgym.world_models.buffer import Episode
from lucidgym.world_models.collect import play_episode, resolve_policy


@dataclass
class EvalData:
    """Held-out episodes and, where the env exposes them, their true hidden states."""

    episodes: list[Episode]
    """The episodes."""
    observation_space: gym.spaces.Space[Any]
    """The space of one observation."""
    states: list[list[Any]] | None = None
    """Per episode, the ``T + 1`` states (batches of one) before each action, or ``None``."""
    dynamics: Any | None = None
    """The env's true batched dynamics (``step``, ``take``, ``observe``), or ``None``."""


@dataclass
class HorizonErrors:
    """Normalized mean absolute errors at horizons ``1..H`` (index ``h - 1``)."""

    model: np.ndarray
    """``[H]`` the model's open-loop error."""
    persistence: np.ndarray
    """``[H]`` the error of predicting the last real observation."""
    oracle: np.ndarray | None
    """``[H]`` the error of the true simulator's mean prediction, or ``None``."""
    windows: int
    """How many rollout windows the errors average over."""

    @property
    def horizon(self) -> int:
        """``H``."""
        return int(self.model.shape[0])

    def metrics(self) -> dict[str, Any]:
        """``{"horizon", "nmae", "persistence_nmae", "oracle_nmae"}`` at ``H``."""
        return {
            "horizon": self.horizon,
            "nmae": float(self.model[-1]),
            "persistence_nmae": float(self.persistence[-1]),
            "oracle_nmae": None if self.oracle is None else float(self.oracle[-1]),
        }

    def curve(self) -> dict[str, list[float] | None]:
        """The errors against horizon, as lists (for plots and JSON)."""
        return {
            "horizon": [float(h) for h in range(1, self.horizon + 1)],
            "nmae": self.model.tolist(),
            "persistence_nmae": self.persistence.tolist(),
            "oracle_nmae": None if self.oracle is None else self.oracle.tolist(),
        }


def collect_eval_data(
    env_id: str,
    episodes: int,
    seed: int = 10_000,
    policy: Callable[[np.ndarray], Any] | str = "random",
    oracle_seed: int = 0,
) -> EvalData:
    """Run fresh episodes of ``env_id``, recording ``get_state()`` where the env has it."""
    if episodes < 1:
        raise ValueError(f"collect_eval_data: episodes must be positive, got {episodes}")
    env = gym.make(env_id)
    base: Any = env.unwrapped
    has_oracle = hasattr(base, "get_state") and hasattr(base, "get_dynamics")
    act = resolve_policy(policy, env.action_space, seed, "collect_eval_data")
    result, all_states = [], []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        states: list[Any] = [base.get_state()] if has_oracle else []
        record = functools.partial(_record_state, base, states) if has_oracle else None
        result.append(play_episode(env, act, obs, record))
        all_states.append(states)
        obs, _ = env.reset()
    dynamics = base.get_dynamics(oracle_seed) if has_oracle else None
    env.close()
    return EvalData(result, env.observation_space, all_states if has_oracle else None, dynamics)


def _record_state(env: Any, states: list[Any]) -> None:
    states.append(env.get_state())


def observation_scale(
    space: gym.spaces.Space[Any], episodes: list[Episode]
) -> tuple[np.ndarray, np.ndarray]:
    """``(low, range)`` per observation element: the space's bounds, or the data's."""
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"evaluation needs a Box observation space, got {space}")
    low = space.low.astype(np.float64)
    high = space.high.astype(np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        data = np.concatenate([ep.obs for ep in episodes]).astype(np.float64)
        low = np.where(np.isfinite(low), low, data.min(axis=0))
        high = np.where(np.isfinite(high), high, data.max(axis=0))
    span = high - low
    return low, np.where(span > 0, span, 1.0)


def _stack_states(states: list[Any]) -> Any:
    return type(states[0])(*(np.concatenate(fields) for fields in zip(*states, strict=True)))


def evaluate_world_model(
    model: Any,
    data: EvalData,
    horizon: int = 10,
    context: int = 8,
    max_windows: int = 512,
    oracle_samples: int = 64,
    oracle_statistic: str = "median",
    seed: int = 0,
) -> HorizonErrors:
    """Open-loop errors at horizons ``1..H`` on ``data`` (see the module docstring).

    Args:
        model: a world model (``initial_state``, ``observe``, ``rollout``), or ``None``
            to compute only the persistence and oracle baselines (``model`` is then NaN).
        data: held-out episodes, from :func:`collect_eval_data` or a dataset.
        horizon: ``H``, the number of dreamed steps.
        context: the most real steps the model filters before dreaming (fewer at the
            start of an episode).
        max_windows: rollout starts drawn at random (seeded) from all possible ones.
        oracle_samples: futures the true simulator samples per window (``K``).
        oracle_statistic: ``"median"`` (default) or ``"mean"`` of the sampled futures,
            element-wise. The median is what minimizes the expected absolute error, so
            it is the floor of ``nmae``; the mean is the floor of a squared error and
            can be beaten under ``nmae`` where futures are skewed (a one-hot symbol
            drawn at random: predicting all zeros beats predicting 1/8 everywhere).
        seed: seeds the choice of windows.
    """
    if oracle_statistic not in ("mean", "median"):
        raise ValueError(f"oracle_statistic must be 'mean' or 'median', got {oracle_statistic!r}")
    if horizon < 1 or context < 0:
        raise ValueError(f"horizon must be >= 1 and context >= 0, got {horizon}, {context}")
    candidates = [
        (e, s) for e, ep in enumerate(data.episodes) for s in range(0, len(ep) - horizon + 1)
    ]
    if not candidates:
        raise ValueError(f"no held-out episode is longer than the horizon {horizon}")
    rng = np.random.default_rng(seed)
    if len(candidates) > max_windows:
        pick = rng.choice(len(candidates), size=max_windows, replace=False)
        candidates = [candidates[i] for i in np.sort(pick)]
    _, span = observation_scale(data.observation_space, data.episodes)

    def scaled_error(pred: np.ndarray, real: np.ndarray) -> float:
        return float(np.mean(np.abs(pred.astype(np.float64) - real) / span))

    real = np.stack([data.episodes[e].obs[s : s + horizon + 1] for e, s in candidates]).astype(
        np.float64
    )
    persistence = np.array([scaled_error(real[:, 0], real[:, h]) for h in range(1, horizon + 1)])
    model_err = np.full(horizon, np.nan)
    if model is not None:
        preds = _model_predictions(model, data.episodes, candidates, horizon, context)
        model_err = np.array(
            [scaled_error(preds[:, h - 1], real[:, h]) for h in range(1, horizon + 1)]
        )
    oracle = None
    if data.states is not None and data.dynamics is not None:
        oracle_pred = _oracle_predictions(
            data, candidates, horizon, oracle_samples, oracle_statistic
        )
        oracle = np.array(
            [scaled_error(oracle_pred[:, h - 1], real[:, h]) for h in range(1, horizon + 1)]
        )
    return HorizonErrors(model_err, persistence, oracle, len(candidates))


def _model_predictions(
    model: Any, episodes: list[Episode], windows: list[tuple[int, int]], horizon: int, context: int
) -> np.ndarray:
    """``[N, H, *O]`` open-loop predictions, windows grouped by their context length."""
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):
        device = torch.device("cpu")
    obs_shape = episodes[0].obs.shape[1:]
    out = np.zeros((len(windows), horizon, *obs_shape), dtype=np.float64)
    lengths = np.array([min(context, s) for _, s in windows])
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    with torch.no_grad():
        for c in np.unique(lengths):
            rows = np.flatnonzero(lengths == c)
            obs = np.stack(
                [episodes[windows[i][0]].obs[windows[i][1] - c : windows[i][1] + 1] for i in rows]
            )
            act = np.stack(
                [
                    episodes[windows[i][0]].action[windows[i][1] - c : windows[i][1] + horizon]
                    for i in rows
                ]
            )
            obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
            act_t = torch.as_tensor(act, device=device)
            state = model.initial_state(len(rows))
            state, _ = model.observe(state, None, obs_t[:, 0])
            for j in range(1, int(c) + 1):
                state, _ = model.observe(state, act_t[:, j - 1], obs_t[:, j])
            rollout = model.rollout(state, act_t[:, int(c) :])
            out[rows] = rollout.obs.detach().cpu().numpy()
    if was_training:
        model.train()
    return out


def _oracle_predictions(
    data: EvalData, windows: list[tuple[int, int]], horizon: int, samples: int, statistic: str
) -> np.ndarray:
    """``[N, H, *O]`` the true simulator's mean or median observation over ``samples`` futures."""
    assert data.states is not None and data.dynamics is not None
    dyn = data.dynamics
    roots = _stack_states([data.states[e][s] for e, s in windows])
    n = len(windows)
    states = dyn.take(roots, np.repeat(np.arange(n), samples))
    actions = np.stack([data.episodes[e].action[s : s + horizon] for e, s in windows])
    obs_shape = data.episodes[0].obs.shape[1:]
    out = np.zeros((n, horizon, *obs_shape), dtype=np.float64)
    for h in range(horizon):
        states, _, _ = dyn.step(states, np.repeat(actions[:, h], samples, axis=0))
        obs = np.asarray(dyn.observe(states), dtype=np.float64)
        futures = obs.reshape(n, samples, *obs_shape)
        out[:, h] = futures.mean(axis=1) if statistic == "mean" else np.median(futures, axis=1)
    return out
