"""Every lucidgym environment id, registered from this one table."""

from __future__ import annotations

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


def register_envs() -> None:
    """Register every id of :data:`ENVS` that is not registered yet."""
    for entry in ENVS:
        if entry.id in gym.registry:
            continue
        gym.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            max_episode_steps=entry.max_episode_steps,
            kwargs=dict(entry.kwargs),
        )


def env_ids() -> list[str]:
    """The ids lucidgym registers, in table order."""
    return [entry.id for entry in ENVS]
