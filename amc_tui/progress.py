"""The live progress line of ``amc-tui run`` and ``resume`` on a terminal.

On a terminal, one line on stderr is redrawn in place: counts by state and the
elapsed time, from the runner's events (never by polling the store), and at least
once a second for the clock.  Retries and failures are printed as lines of their own
above it.  When stderr is not a terminal (cron, pipes) nothing live is written; the
final summary says it all.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import TextIO

from amc_tui import output
from amc_tui.domain import Batch, BatchCounts, ExecutionStatus
from amc_tui.engine.events import AttemptFailed, EngineEvent, ExecutionChanged

CLEAR_LINE = "\r\x1b[K"


class ProgressReporter:
    """Keeps the counts of one batch from events and draws them on a terminal."""

    def __init__(self, batch: Batch, *, stream: TextIO) -> None:
        self.batch_id = batch.id
        self.statuses: dict[int, ExecutionStatus] = {
            ex.id or 0: ex.status for ex in batch.executions
        }
        self.stream = stream
        self.live = is_terminal(stream)
        self.started = time.monotonic()
        self._drawn = False

    @property
    def counts(self) -> BatchCounts:
        return BatchCounts.of(self.statuses.values())

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, ExecutionChanged):
            self.statuses[event.execution.id or 0] = event.execution.status
            if event.execution.status is ExecutionStatus.FAILED:
                reason = event.execution.error_message or "failed"
                self._note(
                    f"{event.execution.instance_name} ({event.execution.instance_id}): {reason}"
                )
        elif isinstance(event, AttemptFailed) and event.retry_in is not None:
            self._note(
                f"{event.instance_id}: {event.message} (try {event.attempt} of "
                f"{event.max_attempts}); trying again in {event.retry_in:.0f} s"
            )
        self.draw()

    def draw(self) -> None:
        if not self.live:
            return
        width = line_width()
        line = output.progress_line(
            self.counts, time.monotonic() - self.started, width=width, batch_id=self.batch_id
        )
        self._write(CLEAR_LINE + line)
        self._drawn = True

    def _note(self, text: str) -> None:
        if not self.live:
            return
        self._write(CLEAR_LINE + output.terminal_text(text) + "\n")  # names come from AMC
        self._drawn = False

    async def tick(self, every: float = 1.0) -> None:
        """Redraw once a second (for the elapsed time) until cancelled."""
        while True:
            self.draw()
            await asyncio.sleep(every)

    def close(self) -> None:
        """Take the live line away, leaving the terminal clean for the summary."""
        if self.live and self._drawn:
            self._write(CLEAR_LINE)
            self._drawn = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.live = False  # the terminal went away (SSH dropped): stop drawing


def line_width() -> int:
    """Characters a live line may take: the terminal's width, less one."""
    return max(20, shutil.get_terminal_size((80, 24)).columns - 1)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
