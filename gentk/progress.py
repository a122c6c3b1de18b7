"""What a run tells its user outside ``fit``: progress on long phases (reading a large file,
scoring every user, writing recommendations), a ``rich`` bar on stderr that appears only once a
phase has run for ``DELAY`` seconds, so short phases print nothing (``quiet()``, ``gentk run
-q``, turns it off); and ``note``s, one-line messages through ``logging`` (``gentk.notes``)
that the ``gentk`` command prints on stderr and every run's ``run.log`` keeps.
"""

from __future__ import annotations

import contextlib
import logging
import time

__all__ = ["DELAY", "NOTES", "note", "quiet", "task"]

NOTES = "gentk.notes"


def note(message: str) -> None:
    """Tell the user one line about what the run did with their data or options (a summary
    of what was read, a step skipped and why). Library code never prints: the ``gentk``
    command shows these on stderr; a Python caller sees them through ``logging``."""
    logging.getLogger(NOTES).info(message)


DELAY = 2.0
_enabled = True


@contextlib.contextmanager
def quiet(on: bool = True):
    """No progress bars inside the block when ``on``."""
    global _enabled
    before, _enabled = _enabled, _enabled and not on
    try:
        yield
    finally:
        _enabled = before


class _Task:
    def __init__(self, description: str, total: float | None, unit: str):
        self.description, self.total, self.unit = description, total, unit
        self.done = 0.0
        self.start = time.monotonic()
        self.bar = None
        self.task_id = None

    def advance(self, amount: float = 1.0) -> None:
        self.done += amount
        if self.bar is None:
            if not _enabled or time.monotonic() - self.start < DELAY:
                return
            self._open()
        self.bar.update(self.task_id, completed=self.done)

    def _open(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [TextColumn("{task.description}"), BarColumn()]
        if self.unit == "bytes":
            from rich.progress import DownloadColumn

            columns.append(DownloadColumn())
        else:
            columns += [MofNCompleteColumn(), TextColumn(self.unit)]
        columns += [TimeElapsedColumn(), TimeRemainingColumn()]
        self.bar = Progress(*columns, console=Console(stderr=True), transient=False)
        self.bar.start()
        self.task_id = self.bar.add_task(self.description, total=self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.task_id, completed=self.done)
            self.bar.stop()


@contextlib.contextmanager
def task(description: str, total: float | None = None, unit: str = ""):
    """``with task("reading x.csv", total=size, unit="bytes") as advance: advance(n)``."""
    t = _Task(description, total, unit)
    try:
        yield t.advance
    finally:
        t.close()
