"""``lucidgym render``: one episode as a GIF, an MP4, PNG frames or a window.

With ``--model``, the real episode beside the world model's open-loop dream of it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lucidgym.cli.options import (
    CLIError,
    add_set_option,
    check_env,
    check_out_folder,
    check_positive,
    fresh_output,
    parse_sets,
)


def add_parser(sub: Any) -> None:
    """Add ``lucidgym render`` to the sub-command parsers ``sub``."""
    p = sub.add_parser(
        "render",
        help="render an episode as GIF/MP4/PNG frames, or real beside a model's dream",
        description="Play one episode and write it as FILE.gif, FILE.mp4 or a folder of "
        "PNG frames; with --model, the real episode beside the model's open-loop dream. "
        "Without --out, opens a window (envs with a human render mode).",
    )
    p.add_argument("--env", required=True, metavar="ID", help="Gymnasium env id")
    p.add_argument("--agent", default=None, metavar="NAME", help="acting agent (default random)")
    add_set_option(p, "the agent's config", "--set model=belief --set horizon=12")
    p.add_argument("--model", default=None, metavar="DIR", help="world-model checkpoint folder")
    p.add_argument("--seed", type=int, default=0, help="episode seed")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the env's)")
    p.add_argument("--out", default=None, metavar="FILE.gif|FILE.mp4|DIR", help="output")
    p.add_argument("--force", action="store_true", help="replace an --out that exists")
    p.set_defaults(func=run)


def actor(
    env: Any, agent_name: str | None, seed: int, config: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """``(act, observe)`` of the agent ``agent_name`` on ``env``, built with ``config``.

    ``act`` maps an observation to an action; ``observe`` takes each step's transition,
    as in evaluation, so that agents with memory (a belief, a recurrent model) track the
    episode. ``None`` is a seeded random policy, which observes nothing.
    """
    if agent_name is None:
        if config:
            raise CLIError("--set configures an agent; name one with --agent")
        env.action_space.seed(seed)
        return (lambda obs: env.action_space.sample()), None
    from lucidgym.benchmarks.runner import check_agents, resolve_agent_maker
    from lucidgym.benchmarks.specs import derived_seed

    make_agent, names = resolve_agent_maker()
    check_agents([agent_name], names)
    agent = make_agent(agent_name, env, **(config or {}))
    agent.reset(seed=derived_seed(seed))
    return agent.act, agent.observe


def run(args: argparse.Namespace) -> int:
    """Render one episode."""
    check_env(args.env)
    check_positive("--max-steps", args.max_steps)
    check_positive("--fps", args.fps)
    config = parse_sets(args.set)
    import gymnasium as gym

    from lucidgym.video import compose_dream_frames, dream_episode, play_episode, write_frames

    modes = _render_modes(args.env)
    if args.out is None:
        if args.model is not None:
            raise CLIError("--model needs --out (a .gif, .mp4 or a folder)")
        if "human" not in modes:
            raise CLIError(f"{args.env} has no human render mode; give --out FILE.gif|FILE.mp4|DIR")
        env = gym.make(args.env, render_mode="human")
        act, observe = actor(env, args.agent, args.seed, config)
        played = play_episode(env, act, args.seed, args.max_steps, observe=observe)
        env.close()
        print(f"played {len(played.rewards)} steps, return {played.rewards.sum():.3f}")
        return 0
    _check_target(Path(args.out), args.force)
    if args.model is None and "rgb_array" not in modes:
        raise CLIError(
            f"{args.env} has no rgb_array render mode; render --model draws observations"
        )
    model = None
    if args.model is not None:
        from lucidgym.world_models.checkpoint import load_world_model

        model = load_world_model(args.model)
    env = gym.make(args.env, render_mode="rgb_array" if "rgb_array" in modes else None)
    act, observe = actor(env, args.agent, args.seed, config)
    played = play_episode(env, act, args.seed, args.max_steps, observe=observe)
    fps = args.fps or int(env.metadata.get("render_fps") or 4)
    if model is not None:
        frames = compose_dream_frames(
            played, dream_episode(model, played.obs, played.actions), env.observation_space
        )
    else:
        frames = played.frames
    env.close()
    path = Path(args.out)
    if path.suffix:
        write_frames(frames, path, fps)
    else:  # a folder of PNG frames: replaced whole, so no frame of an older render stays
        with fresh_output(path, args.force) as work:
            write_frames(frames, work, fps)
    print(f"wrote {len(frames)} frames of {args.env} ({len(played.rewards)} steps, "
          f"return {played.rewards.sum():.3f}) to {path}")  # fmt: skip
    return 0


def _check_target(out: Path, force: bool) -> None:
    """Refuse to overwrite an existing file, or a folder that holds files, unless ``force``."""
    if out.suffix:
        if out.is_dir():
            raise CLIError(f"--out {str(out)!r} is a folder; name a .gif or .mp4 file")
        if out.exists() and not force:
            raise CLIError(f"{out} already exists; pass --force to overwrite it")
    else:
        check_out_folder(out, force)


def _render_modes(env_id: str) -> list[str]:
    import gymnasium as gym

    env = gym.make(env_id)
    modes = list(env.metadata.get("render_modes", []))
    env.close()
    return modes
