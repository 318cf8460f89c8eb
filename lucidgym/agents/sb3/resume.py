"""What a saved SB3 agent needs to go on learning, written without pickles.

SB3's own zip keeps this through ``torch.save`` and cloudpickle; a lucidgym agent
folder keeps it in its two files: tensors in ``model.safetensors`` beside the policy's
weights (under ``optim/<optimizer>/<param>/<name>`` and ``var/<name>`` keys, which no
module path of a policy takes), and everything else in ``config.json`` under
``"training"`` (counters, optimizer hyperparameters, non-tensor optimizer state).

Kept, so that ``learn`` after ``load`` goes on where the saved agent stopped:

- the state of every optimizer SB3 itself saves (``_get_torch_save_params``):
  ``policy.optimizer`` (PPO, A2C, DQN), or ``actor.optimizer`` and
  ``critic.optimizer`` (SAC, TD3, DDPG) and SAC's ``ent_coef_optimizer``;
- SAC's entropy coefficient (``log_ent_coef``, or the fixed ``ent_coef_tensor``);
- the counters that schedules and updates read: ``num_timesteps`` (learning-rate,
  clip-range and exploration schedules run on it), ``_episode_num``, ``_n_updates``
  (TD3's delayed policy updates) and DQN's ``_n_calls`` (target network updates).

The target networks of DQN, SAC, TD3 and DDPG are part of the policy's ``state_dict``
and come back with the weights.

Not kept:

- the replay buffer of the off-policy algorithms: it holds up to ``buffer_size``
  transitions (a million by default, hundreds of megabytes), far more than the agent,
  and SB3 leaves it out of its own zip too. A loaded off-policy agent starts with an
  empty buffer, so its first updates sample only the transitions collected since it
  was loaded, as after SB3's ``load`` without ``load_replay_buffer``;
- PPO's and A2C's rollout buffer, which every rollout fills afresh anyway;
- random generator states and the episode in progress: ``learn`` always starts new
  episodes on the env it is given, and ``learn(seed=...)`` reseeds every generator.
  For PPO and A2C this makes ``learn(env, n, seed=s)`` after ``load`` take exactly the
  updates that the saved agent would have taken in memory.
"""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import recursive_getattr

OPTIM_PREFIX = "optim/"
"""Key prefix of optimizer state tensors in ``model.safetensors``."""
VAR_PREFIX = "var/"
"""Key prefix of the algorithm's own tensors (SAC's entropy coefficient)."""
COUNTERS = ("num_timesteps", "_episode_num", "_n_updates", "_n_calls")
"""Integer attributes of an algorithm kept where it has them."""


def _optimizers(model: BaseAlgorithm) -> list[tuple[str, torch.optim.Optimizer]]:
    names, _ = model._get_torch_save_params()
    out = []
    for name in names:
        if name == "policy":  # its state_dict is the agent's weights
            continue
        optimizer = recursive_getattr(model, name)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"{type(model).__name__}.{name} is not an optimizer")
        out.append((name, optimizer))
    return out


def split_tensors(
    tensors: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(policy weights, training state)`` of the tensors of a saved agent."""
    policy: dict[str, torch.Tensor] = {}
    training: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        target = training if key.startswith((OPTIM_PREFIX, VAR_PREFIX)) else policy
        target[key] = value
    return policy, training


def training_state(model: BaseAlgorithm) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the JSON-ready rest of ``model``'s state beyond its weights."""
    tensors: dict[str, torch.Tensor] = {}
    optimizers: dict[str, Any] = {}
    for name, optimizer in _optimizers(model):
        state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, values in state["state"].items():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{OPTIM_PREFIX}{name}/{index}/{key}"] = value
                else:
                    scalars.setdefault(str(index), {})[key] = value
        optimizers[name] = {"param_groups": state["param_groups"], "scalars": scalars}
    _, variables = model._get_torch_save_params()
    for name in variables:
        tensors[VAR_PREFIX + name] = recursive_getattr(model, name)
    counters = {}
    for name in COUNTERS:
        value = getattr(model, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            counters[name] = value
    return tensors, {"counters": counters, "optimizers": optimizers, "variables": list(variables)}


def _param_groups(saved: Any, optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Saved param groups with the tuples JSON turned into lists made tuples again."""
    if not isinstance(saved, list) or len(saved) != len(optimizer.param_groups):
        raise ValueError(
            f"{len(saved) if isinstance(saved, list) else saved!r} param groups for an "
            f"optimizer with {len(optimizer.param_groups)}"
        )
    groups = []
    for group, current in zip(saved, optimizer.param_groups, strict=True):
        if not isinstance(group, dict):
            raise ValueError(f"a param group must be a JSON object, got {group!r}")
        groups.append(
            {
                k: tuple(v) if isinstance(current.get(k), tuple) and isinstance(v, list) else v
                for k, v in group.items()
            }
        )
    return groups


def restore_training_state(
    model: BaseAlgorithm, tensors: dict[str, torch.Tensor], saved: dict[str, Any]
) -> None:
    """Put what :func:`training_state` gave back into ``model`` (built for the same spaces).

    Raises:
        ValueError: the saved state does not fit ``model`` (another algorithm or
            network, a missing optimizer or tensor, a malformed entry).
    """
    if not isinstance(saved, dict):
        raise ValueError(f"training state must be a JSON object, got {saved!r}")
    try:
        optimizers = saved["optimizers"]
        for name, optimizer in _optimizers(model):
            entry = optimizers[name]
            state: dict[int, dict[str, Any]] = {}
            prefix = f"{OPTIM_PREFIX}{name}/"
            for key, value in tensors.items():
                if key.startswith(prefix):
                    index, _, field = key[len(prefix) :].partition("/")
                    state.setdefault(int(index), {})[field] = value
            for index, values in entry["scalars"].items():
                state.setdefault(int(index), {}).update(values)
            groups = _param_groups(entry["param_groups"], optimizer)
            optimizer.load_state_dict({"state": state, "param_groups": groups})
        _, variables = model._get_torch_save_params()
        for name in variables:
            with torch.no_grad():  # in place: the optimizers hold these very tensors
                recursive_getattr(model, name).copy_(tensors[VAR_PREFIX + name])
        counters = saved["counters"]
        for name in COUNTERS:
            if name in counters:
                value = counters[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(
                        f"counter {name} must be a non-negative integer, got {value!r}"
                    )
                setattr(model, name, value)
    except KeyError as err:
        raise ValueError(f"training state lacks {err}") from err
    except (TypeError, RuntimeError, AttributeError) as err:
        raise ValueError(f"training state does not fit {type(model).__name__}: {err}") from err
