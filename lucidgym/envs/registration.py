"""Every lucidgym environment id, registered from this one table."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym


@dataclass(frozen=True)
class EnvEntry:
    """One registered id: where its single and native vector envs live."""

    id: str
    entry_point: str
    max_episode_steps: int
    vector_entry_point: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


_SYMBOLIC = "lucidgym.envs.symbolic:SymbolicEnv"
_SYMBOLIC_VEC = "lucidgym.envs.symbolic:SymbolicVectorEnv"

ENVS: tuple[EnvEntry, ...] = (
    EnvEntry("PatternEcho-v0", _SYMBOLIC, 32, _SYMBOLIC_VEC, {"task": "pattern_echo"}),
    EnvEntry("SequenceNext-v0", _SYMBOLIC, 32, _SYMBOLIC_VEC, {"task": "sequence_next"}),
    EnvEntry("Conditional-v0", _SYMBOLIC, 32, _SYMBOLIC_VEC, {"task": "conditional"}),
    EnvEntry("DelayedRecall-v0", _SYMBOLIC, 50, _SYMBOLIC_VEC, {"task": "delayed_recall"}),
    EnvEntry(
        "Tutoring-v0",
        "lucidgym.envs.tutoring:TutoringEnv",
        80,
        "lucidgym.envs.tutoring:TutoringVectorEnv",
    ),
    EnvEntry(
        "Tutoring-v1",
        "lucidgym.envs.tutoring.v1:TutoringV1Env",
        80,
        "lucidgym.envs.tutoring.v1:TutoringV1VectorEnv",
    ),
    EnvEntry(
        "MovingDot-v0",
        "lucidgym.envs.moving_dot:MovingDotEnv",
        100,
        "lucidgym.envs.moving_dot:MovingDotVectorEnv",
        {"continuous": True},
    ),
    EnvEntry(
        "MovingDotDiscrete-v0",
        "lucidgym.envs.moving_dot:MovingDotEnv",
        100,
        "lucidgym.envs.moving_dot:MovingDotVectorEnv",
        {"continuous": False},
    ),
)
"""The registration table: add a row to add an environment."""


NAMESPACE = "lucidgym"
"""Where an id another package registered first is registered instead (``lucidgym/<id>``)."""


def register_envs() -> None:
    """Register every id of :data:`ENVS`.

    An id another package registered first with another entry point is left to it:
    lucidgym's env is then registered as ``lucidgym/<id>`` and a warning says so (an env
    that silently stood in for another would give wrong results without a word).
    """
    for entry in ENVS:
        env_id = entry.id
        taken = gym.registry.get(env_id)
        if taken is not None:
            if taken.entry_point == entry.entry_point:
                continue  # lucidgym's own, registered already
            env_id = f"{NAMESPACE}/{entry.id}"
            if env_id in gym.registry:
                continue  # registered aside, and said so, already
            warnings.warn(
                f"{entry.id!r} is already registered by another package (entry point "
                f"{taken.entry_point!r}); gym.make({entry.id!r}) makes that env, and "
                f"lucidgym's is gym.make({env_id!r})",
                stacklevel=2,
            )
        gym.register(
            id=env_id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            max_episode_steps=entry.max_episode_steps,
            kwargs=dict(entry.kwargs),
        )


def env_ids() -> list[str]:
    """The ids lucidgym registers, in table order."""
    return [entry.id for entry in ENVS]
