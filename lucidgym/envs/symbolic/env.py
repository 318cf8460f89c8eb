"""``SymbolicEnv`` and its native vector env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from lucidgym.envs.checks import FieldRange, check_action, check_ranges
from lucidgym.envs.kernel import KernelEnv
from lucidgym.envs.rendering import draw_text, fill_rect
from lucidgym.envs.symbolic.kernel import SymbolicKernel
from lucidgym.envs.symbolic.parent import DeterministicParent, Parent
from lucidgym.envs.symbolic.tasks import BLANK, NUM_SYMBOLS, SymbolicState, Task, make_task
from lucidgym.envs.vector import ArrayVectorEnv

STATE_RANGES = (
    FieldRange("symbol", BLANK, NUM_SYMBOLS - 1),
    FieldRange("target", BLANK, NUM_SYMBOLS - 1),
    FieldRange("cue", 0.0, 1.0),
    FieldRange("t", 0, float("inf")),
)
"""What the fields of every task's :class:`SymbolicState` may hold; ``memory`` is the
task's own (its ``memory_ranges``, where it declares them)."""


def _build_kernel(
    task: str | Task, parent: Parent | None, task_kwargs: dict[str, Any]
) -> SymbolicKernel:
    if isinstance(task, str):
        task = make_task(task, **task_kwargs)
    elif task_kwargs:
        raise ValueError(f"task arguments {sorted(task_kwargs)} given with a Task instance")
    if not isinstance(task, Task):
        raise ValueError(f"task must be a task name or a Task, got {type(task).__name__}")
    parent = DeterministicParent() if parent is None else parent
    if not isinstance(parent, Parent):
        raise ValueError(f"parent must implement the Parent protocol, got {type(parent).__name__}")
    return SymbolicKernel(task, parent)


def _observation_space(kernel: SymbolicKernel) -> gym.spaces.Box:
    return gym.spaces.Box(0.0, 1.0, shape=(kernel.obs_dim,), dtype=np.float32)


class SymbolicEnv(KernelEnv[SymbolicState]):
    """Discrete symbols and a parent that answers: the WMIL tasks.

    ## Description
    Each step shows one of 8 symbols (or a blank) and some task cues; the agent outputs
    a symbol; a :class:`~lucidgym.envs.symbolic.Parent` grades the output and moves the
    world on. Four tasks are registered, from pure reaction to memory and delayed credit:

    - ``PatternEcho-v0``: output the symbol shown (reaction).
    - ``SequenceNext-v0``: output the next element of a repeating sequence of ``length``
      distinct symbols drawn anew each episode (memory: infer the sequence).
    - ``Conditional-v0``: output ``(s + r * 8 // num_rules) % 8`` for the shown ``s``,
      where the rule ``r`` is cued only on the first step (memory).
    - ``DelayedRecall-v0``: a symbol, ``delay`` blanks, then a recall cue: output the
      symbol (memory and delayed credit).

    ## Action Space
    ``Discrete(8)``: the symbol to output.

    ## Observation Space
    ``Box(0, 1, (8 + C,), float32)``:

    | index | signal | min | max |
    |-------|--------|-----|-----|
    | 0-7 | one-hot symbol shown (all zero for a blank) | 0 | 1 |
    | 8.. | task cues (see below) | 0 | 1 |

    Cues: ``Conditional`` shows the one-hot rule on the first step only,
    ``DelayedRecall`` a recall flag; the other tasks have none.

    ## Rewards
    ``goal``: 1 for the correct output on a graded step, else 0. ``info["reward_vector"]``
    holds every component the parent gives (``goal`` for :class:`DeterministicParent`).

    ## Starting State
    A random symbol; ``SequenceNext`` draws its sequence, ``Conditional`` its rule and
    ``DelayedRecall`` its first stored symbol, all from ``self.np_random``.

    ## Episode End
    Termination: never (success is reported in ``info``, it does not end an episode).
    Truncation: the registered ``max_episode_steps`` (32; 50 for ``DelayedRecall-v0``),
    through ``gym.make``'s ``TimeLimit``. A ``step`` past the registered limit raises
    ``RuntimeError`` until ``reset()``. An env built directly (``SymbolicEnv()``) has no
    time limit.

    ## Info
    ``success`` (this step's output was correct), ``graded`` (this step had a target),
    ``target`` (the correct output, ``-1`` where none), ``reward_vector``.

    ## Arguments
    ``task``: a task name (``pattern_echo``, ``sequence_next``, ``conditional``,
    ``delayed_recall``) or a :class:`~lucidgym.envs.symbolic.Task`; ``parent``: a
    :class:`~lucidgym.envs.symbolic.Parent` (default :class:`DeterministicParent`);
    ``render_mode``: ``"ansi"``, ``"rgb_array"`` or ``"human"``; further keyword
    arguments go to the task (``length=4``, ``num_rules=2``, ``delay=3``).

    ## Version History
    - v0: initial release.

    Example:
        >>> import gymnasium as gym
        >>> import lucidgym  # noqa: F401
        >>> env = gym.make("PatternEcho-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(int(obs.argmax()))
        >>> float(reward), bool(info["success"])
        (1.0, True)
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array", "human"], "render_fps": 4}
    kernel: SymbolicKernel

    def __init__(
        self,
        task: str | Task = "pattern_echo",
        parent: Parent | None = None,
        render_mode: str | None = None,
        **task_kwargs: Any,
    ) -> None:
        kernel = _build_kernel(task, parent, task_kwargs)
        super().__init__(
            kernel, _observation_space(kernel), gym.spaces.Discrete(NUM_SYMBOLS), render_mode
        )
        self._last: dict[str, Any] = {}

    @property
    def task(self) -> Task:
        """The task being played."""
        return self.kernel.task

    def _unregistered_name(self) -> str:
        return f"SymbolicEnv({self.task.name})"

    def _start_episode(self, options: dict[str, Any] | None) -> None:
        self._last = {}

    def _first_observation(self, state: SymbolicState) -> tuple[np.ndarray, dict[str, Any]]:
        return self.kernel.observe(state)[0], {"target": int(state.target[0])}

    def _advance(
        self, state: SymbolicState, action: Any
    ) -> tuple[SymbolicState, np.ndarray, float, bool, dict[str, Any]]:
        act = check_action(self.action_space, action, self._name)
        new, reward, _, info = self.kernel.transition(state, act.reshape(1), self.np_random)
        r = float(reward[0])
        step_info = {
            "success": bool(info["success"][0]),
            "graded": bool(info["graded"][0]),
            "target": int(info["target"][0]),
            "reward_vector": {k: float(v[0]) for k, v in info["reward_vector"].items()},
        }
        self._last = {"shown": state, "action": int(act), "reward": r, **step_info}
        return new, self.kernel.observe(new)[0], r, False, step_info

    def _check_snapshot(self, state: SymbolicState) -> None:
        memory = getattr(self.task, "memory_ranges", ())
        check_ranges(state, (*STATE_RANGES, *memory), self._name)

    # -- rendering ----------------------------------------------------------------

    def _ansi(self) -> str:
        assert self._state is not None
        t = int(self._state.t[0])
        if not self._last:
            return f"t={t:3d} shown={_symbol_text(int(self._state.symbol[0]))} (start)"
        shown: SymbolicState = self._last["shown"]
        mark = (
            ("correct" if self._last["success"] else "wrong")
            if self._last["graded"]
            else "ungraded"
        )
        cue = "".join(str(int(c)) for c in shown.cue[0])
        return (
            f"t={t - 1:3d} shown={_symbol_text(int(shown.symbol[0]))}"
            + (f" cue={cue}" if cue else "")
            + f" output={self._last['action']} target={_symbol_text(self._last['target'])}"
            + f" {mark} reward={self._last['reward']:.1f} return={self._return:.1f}"
        )

    def _frame(self) -> np.ndarray:
        assert self._state is not None
        return draw_frame(self.task, self._state, self._last, self._return)


def draw_frame(
    task: Task, state: SymbolicState, last: dict[str, Any], episode_return: float
) -> np.ndarray:
    """A ``[104, 188, 3]`` uint8 picture of episode 0 of ``state``.

    The symbols with the one shown lit, the cues, the last output against its target
    (``last``: ``action``, ``target``, ``graded`` and ``success`` of the last step;
    empty at the start) and the return so far.
    """
    cell, pad = 22, 6
    width = pad * 2 + NUM_SYMBOLS * cell
    frame = np.full((104, width, 3), 24, dtype=np.uint8)
    draw_text(frame, f"{task.name.replace('_', ' ')} t={int(state.t[0])}", pad, 4)
    symbol = int(state.symbol[0])
    for s in range(NUM_SYMBOLS):
        x = pad + s * cell
        on = s == symbol
        fill_rect(frame, x + 1, 20, cell - 2, cell - 2, (240, 200, 60) if on else (60, 60, 72))
        draw_text(frame, str(s), x + 8, 26, (20, 20, 20) if on else (150, 150, 160))
    cues = state.cue[0]
    for i, c in enumerate(cues):
        fill_rect(frame, pad + i * 12, 48, 10, 8, (90, 170, 255) if c > 0 else (60, 60, 72))
    if last:
        graded, ok = last["graded"], last["success"]
        color = (80, 200, 100) if ok else (220, 70, 60) if graded else (150, 150, 160)
        draw_text(frame, f"out {last['action']}", pad, 64, color)
        draw_text(frame, f"target {_symbol_text(last['target'])}", pad + 64, 64)
    draw_text(frame, f"return {episode_return:.0f}", pad, 84, (200, 200, 210))
    return frame


def _symbol_text(symbol: int) -> str:
    return "-" if symbol == BLANK else str(symbol)


class SymbolicVectorEnv(ArrayVectorEnv[SymbolicState]):
    """``num_envs`` symbolic episodes stepped in one NumPy call.

    Takes the same arguments as :class:`SymbolicEnv`, plus ``num_envs``,
    ``max_episode_steps`` (passed by ``gym.make_vec`` from the registration) and
    ``autoreset_mode`` (next-step by default; see
    :class:`~lucidgym.envs.vector.ArrayVectorEnv`); its one
    ``render_mode`` is ``"rgb_array"``: ``render()`` gives each episode's picture, as
    :class:`SymbolicEnv` draws it.
    """

    metadata: dict[str, Any] = {
        **ArrayVectorEnv.metadata,
        "render_modes": ["rgb_array"],
        "render_fps": SymbolicEnv.metadata["render_fps"],
    }
    kernel: SymbolicKernel

    def __init__(
        self,
        num_envs: int = 1,
        task: str | Task = "pattern_echo",
        parent: Parent | None = None,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **task_kwargs: Any,
    ) -> None:
        kernel = _build_kernel(task, parent, task_kwargs)
        super().__init__(
            kernel,
            num_envs,
            _observation_space(kernel),
            gym.spaces.Discrete(NUM_SYMBOLS),
            max_episode_steps,
            f"SymbolicVectorEnv({kernel.task.name})",
            render_mode,
            autoreset_mode,
        )

    def _new_record(self) -> dict[str, Any]:
        return {}

    def _next_record(
        self, record: dict[str, Any], i: int, action: Any, reward: float, info: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "action": int(action),
            "reward": reward,
            "success": bool(info["success"][i]),
            "graded": bool(info["graded"][i]),
            "target": int(info["target"][i]),
        }

    def _frame(self, i: int) -> np.ndarray:
        return draw_frame(self.kernel.task, self._row(i), self._records[i], self._returns[i])
