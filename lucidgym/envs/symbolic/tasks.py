"""The symbolic tasks, written as array functions over a batch of ``N`` episodes.

A task says what is shown and what output is correct; a :class:`~.parent.Parent`
says what an output leads to. Every task shows one of ``NUM_SYMBOLS`` symbols (or a
blank) plus a few task cues, and grades an output only on steps that define a target.
A task may declare ``memory_ranges``, the valid values of its hidden variables, which
``set_state`` then checks (the built-in tasks do).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from lucidgym.envs.checks import FieldRange

NUM_SYMBOLS = 8
BLANK = -1
"""``symbol`` value for a step that shows nothing, and ``target`` value for an ungraded step."""


class SymbolicState(NamedTuple):
    """A batch of ``N`` symbolic episodes (every field has leading dimension ``N``)."""

    symbol: np.ndarray
    """``[N]`` int64: the symbol shown now, ``BLANK`` for none."""
    target: np.ndarray
    """``[N]`` int64: the correct output now, ``BLANK`` if this step is not graded."""
    cue: np.ndarray
    """``[N, C]`` float32: the task cues shown now."""
    memory: np.ndarray
    """``[N, M]`` int64: the task's hidden variables (sequence, rule, stored symbol)."""
    t: np.ndarray
    """``[N]`` int64: steps taken in the episode."""


@runtime_checkable
class Task(Protocol):
    """What a symbolic episode shows and which output is correct."""

    name: str
    """Registry name, e.g. ``"pattern_echo"``."""
    num_cues: int
    """``C``: cue features appended to the one-hot symbol in the observation."""

    def initial(self, rng: np.random.Generator, n: int) -> SymbolicState:
        """``n`` fresh episodes."""
        ...

    def advance(self, state: SymbolicState, rng: np.random.Generator) -> SymbolicState:
        """The next step of every episode, once an output has been given."""
        ...


def _state(
    symbol: np.ndarray, target: np.ndarray, cue: np.ndarray, memory: np.ndarray, t: np.ndarray
) -> SymbolicState:
    return SymbolicState(
        symbol.astype(np.int64),
        target.astype(np.int64),
        cue.astype(np.float32),
        memory.astype(np.int64),
        t.astype(np.int64),
    )


class PatternEcho:
    """Output the symbol shown. Needs only reaction."""

    name = "pattern_echo"
    num_cues = 0
    memory_ranges: tuple[FieldRange, ...] = ()

    def initial(self, rng: np.random.Generator, n: int) -> SymbolicState:
        """A random symbol per episode."""
        symbol = rng.integers(0, NUM_SYMBOLS, size=n)
        return _state(symbol, symbol, np.zeros((n, 0)), np.zeros((n, 0)), np.zeros(n))

    def advance(self, state: SymbolicState, rng: np.random.Generator) -> SymbolicState:
        """A new random symbol."""
        symbol = np.asarray(rng.integers(0, NUM_SYMBOLS, size=state.t.shape[0]))
        return state._replace(symbol=symbol, target=symbol.copy(), t=state.t + 1)


class SequenceNext:
    """Output the next element of a repeating sequence drawn anew each episode.

    The sequence holds ``length`` distinct symbols, so the current symbol names its
    successor uniquely within an episode, but the successor changes from episode to
    episode: it must be inferred from what was seen, and no fixed table solves it.
    """

    name = "sequence_next"
    num_cues = 0

    def __init__(self, length: int = 4) -> None:
        if not 2 <= length <= NUM_SYMBOLS:
            raise ValueError(
                f"SequenceNext: length must be in [2, {NUM_SYMBOLS}] (distinct symbols), "
                f"got {length}"
            )
        self.length = length
        self.memory_ranges = (
            FieldRange("memory", 0, NUM_SYMBOLS - 1, tuple(range(length)), ("sequence",) * length),
            FieldRange("memory", 0, length - 1, (length,), ("position",)),
        )
        """The sequence's symbols, then the position in it."""

    def initial(self, rng: np.random.Generator, n: int) -> SymbolicState:
        """Draw ``n`` sequences of distinct symbols; show their first elements."""
        sequences = np.argsort(rng.random((n, NUM_SYMBOLS)), axis=1)[:, : self.length]
        memory = np.concatenate([sequences, np.zeros((n, 1), dtype=np.int64)], axis=1)
        return self._show(memory, np.zeros(n, dtype=np.int64))

    def advance(self, state: SymbolicState, rng: np.random.Generator) -> SymbolicState:
        """Move one element along each sequence."""
        memory = state.memory.copy()
        memory[:, -1] = (memory[:, -1] + 1) % self.length
        return self._show(memory, state.t + 1)

    def _show(self, memory: np.ndarray, t: np.ndarray) -> SymbolicState:
        rows = np.arange(memory.shape[0])
        pos = memory[:, -1]
        symbol = memory[rows, pos]
        target = memory[rows, (pos + 1) % self.length]
        return _state(symbol, target, np.zeros((memory.shape[0], 0)), memory, t)


class Conditional:
    """The correct output depends on a rule cued only on the first step.

    Rule ``r`` maps a shown symbol ``s`` to ``(s + r * NUM_SYMBOLS // num_rules) % 8``;
    rule 0 is echo. The one-hot rule cue is visible at ``t = 0`` and blank afterwards.
    """

    name = "conditional"

    def __init__(self, num_rules: int = 2) -> None:
        if not 1 <= num_rules <= NUM_SYMBOLS:
            raise ValueError(
                f"Conditional: num_rules must be in [1, {NUM_SYMBOLS}], got {num_rules}"
            )
        self.num_rules = num_rules
        self.num_cues = num_rules
        self.memory_ranges = (FieldRange("memory", 0, num_rules - 1, (0,), ("rule",)),)

    def initial(self, rng: np.random.Generator, n: int) -> SymbolicState:
        """Draw a rule per episode and show it with the first symbol."""
        rule = rng.integers(0, self.num_rules, size=n)
        symbol = rng.integers(0, NUM_SYMBOLS, size=n)
        cue = np.eye(self.num_rules, dtype=np.float32)[rule]
        return _state(symbol, self._apply(rule, symbol), cue, rule[:, None], np.zeros(n))

    def advance(self, state: SymbolicState, rng: np.random.Generator) -> SymbolicState:
        """A new symbol; the rule cue is gone."""
        n = state.t.shape[0]
        rule = state.memory[:, 0]
        symbol = np.asarray(rng.integers(0, NUM_SYMBOLS, size=n))
        return _state(
            symbol,
            self._apply(rule, symbol),
            np.zeros((n, self.num_rules)),
            state.memory,
            state.t + 1,
        )

    def _apply(self, rule: np.ndarray, symbol: np.ndarray) -> np.ndarray:
        return (symbol + rule * (NUM_SYMBOLS // self.num_rules)) % NUM_SYMBOLS


class DelayedRecall:
    """A symbol is shown, then ``delay`` blanks, then a recall cue: output the symbol.

    Trials repeat until the time limit. Only the cue step is graded, so reward arrives
    ``delay + 1`` steps after the information it depends on.
    """

    name = "delayed_recall"
    num_cues = 1

    def __init__(self, delay: int = 3) -> None:
        if delay < 0:
            raise ValueError(f"DelayedRecall: delay must be >= 0, got {delay}")
        self.delay = delay
        self.memory_ranges = (
            FieldRange("memory", 0, NUM_SYMBOLS - 1, (0,), ("stored symbol",)),
            FieldRange("memory", 0, delay + 1, (1,), ("phase",)),
        )
        """The stored symbol, then the trial's phase (0 shows it, ``delay + 1`` cues it)."""

    def initial(self, rng: np.random.Generator, n: int) -> SymbolicState:
        """Start a trial in every episode."""
        stored = rng.integers(0, NUM_SYMBOLS, size=n)
        memory = np.stack([stored, np.zeros(n, dtype=np.int64)], axis=1)
        return self._show(memory, np.zeros(n, dtype=np.int64))

    def advance(self, state: SymbolicState, rng: np.random.Generator) -> SymbolicState:
        """Next phase of each trial; a new trial after the cue."""
        memory = state.memory.copy()
        memory[:, 1] += 1
        new_trial = memory[:, 1] > self.delay + 1
        memory[new_trial, 1] = 0
        memory[new_trial, 0] = rng.integers(0, NUM_SYMBOLS, size=int(new_trial.sum()))
        return self._show(memory, state.t + 1)

    def _show(self, memory: np.ndarray, t: np.ndarray) -> SymbolicState:
        stored, phase = memory[:, 0], memory[:, 1]
        showing = phase == 0
        recall = phase == self.delay + 1
        symbol = np.where(showing, stored, BLANK)
        target = np.where(recall, stored, BLANK)
        return _state(symbol, target, recall[:, None], memory, t)


TASKS: dict[str, type] = {
    PatternEcho.name: PatternEcho,
    SequenceNext.name: SequenceNext,
    Conditional.name: Conditional,
    DelayedRecall.name: DelayedRecall,
}
"""Task classes by registry name."""


def make_task(name: str, **kwargs: int) -> Task:
    """Build a task by name; unknown names and bad arguments raise ``ValueError``."""
    if name not in TASKS:
        raise ValueError(f"unknown symbolic task {name!r}; valid tasks: {sorted(TASKS)}")
    try:
        return TASKS[name](**kwargs)  # type: ignore[no-any-return]
    except TypeError as err:
        raise ValueError(f"bad arguments for task {name!r}: {err}") from err
