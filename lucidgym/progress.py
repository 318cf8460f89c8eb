"""The one progress bar of long work (training, recording, benchmark suites), or nothing."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class ProgressBar:
    """A rich bar counting ``total`` units, with elapsed and remaining time.

    Use it as a context manager; when ``enabled`` is false it draws nothing and every
    call is free, so callers never branch on whether a bar is shown.

    Args:
        description: the label left of the bar.
        total: the units of the whole job.
        enabled: draw the bar.
    """

    def __init__(self, description: str, total: int, enabled: bool = True) -> None:
        self.description = description
        self.total = total
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def advance(self, units: int = 1, description: str | None = None) -> None:
        """Count ``units`` done; ``description`` replaces the label."""
        if self._bar is not None:
            self._bar.update(self._task, advance=units, description=description)

    def update(self, completed: int, description: str | None = None) -> None:
        """Set the units done so far to ``completed``."""
        if self._bar is not None:
            self._bar.update(self._task, completed=completed, description=description)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
