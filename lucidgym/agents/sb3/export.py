"""An ``sb3:<ALGO>`` agent folder as Stable-Baselines3's own zip, for rl-zoo and the hub.

lucidgym writes and reads only safetensors and JSON. SB3's zip, which
``stable_baselines3.PPO.load``, rl-baselines3-zoo and the Hugging Face hub's
``load_from_hub`` expect, holds pickled objects (cloudpickle of the spaces, the
schedules and the policy's arguments) besides its ``torch.save`` weights: loading one
runs whatever code the pickles name. :func:`export_sb3_zip` writes one only when asked;
load such a file only from a source you trust.

The zip holds what SB3 saves: the weights, the optimizer states and ``num_timesteps``,
so ``PPO.load(path, env=env).learn(n, reset_num_timesteps=False)`` goes on in SB3 too.

Example:
    >>> from lucidgym.agents.sb3.export import export_sb3_zip
    >>> export_sb3_zip("runs/ppo", "ppo-tutoring.zip")  # doctest: +SKIP
    >>> from stable_baselines3 import PPO
    >>> model = PPO.load("ppo-tutoring.zip")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from lucidgym.agents.sb3.agent import SB3Agent
from lucidgym.files import atomic_write_bytes


def export_sb3_zip(
    folder: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write the agent saved in ``folder`` as SB3's zip ``out`` (see the module docstring).

    Args:
        folder: an agent folder written by :meth:`SB3Agent.save` (``lucidgym train agent``).
        out: the zip to write, named ``*.zip`` (SB3 adds that suffix to what it loads).
        overwrite: replace an existing ``out``.

    Returns:
        ``out``, written whole or not at all.

    Raises:
        FileNotFoundError: ``folder`` or one of its files is missing.
        FileExistsError: ``out`` exists and ``overwrite`` is not given.
        ValueError: ``out`` is not named ``*.zip`` or is a folder, or ``folder`` holds
            no readable SB3 agent.
    """
    path = Path(out)
    if path.suffix != ".zip":
        raise ValueError(f"{path}: an SB3 zip must be named *.zip (SB3 loads NAME as NAME.zip)")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; name the .zip file to write")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; overwrite it explicitly to replace it")
    agent = SB3Agent.load(Path(folder))
    buffer = io.BytesIO()
    agent.model.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path
