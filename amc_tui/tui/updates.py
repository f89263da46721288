"""LiveUpdates: the runner's events applied to the live batches, told to the screens coalesced.

Each event is applied to its :class:`~amc_tui.tui.live.LiveBatch` the moment the runner
emits it (cheap, in order, nothing dropped) and the rows it changed are marked dirty.
The screens are told which rows changed at most once per ``interval`` (1/20 s): the
first change after a quiet spell at once, later ones together when the interval is
up.  A screen then draws the *current* state of every dirty row, so a row that
changed five times between two tellings is drawn once, in its last state, and no
change is lost.  The end of a batch is told at once, with every row still dirty.

At thousands of events a second this is what keeps the app answering keys: one
message and one redraw per event would queue the keys behind them.  Nothing here
imports textual; the app gives the callbacks that post its messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from amc_tui.engine.events import BatchFinished, EngineEvent
from amc_tui.tui.live import LiveBatch

FLUSH_INTERVAL = 1 / 20
"""Seconds between two tellings of the same screens, at most 20 a second."""


@dataclass
class Dirty:
    """What changed in one batch since the screens were last told."""

    execution_ids: set[int] = field(default_factory=set)
    finished: bool = False


Tell = Callable[[str, frozenset[int], bool], None]
Announce = Callable[[LiveBatch, BatchFinished], None]


class LiveUpdates:
    """See the module docstring.  ``tell(batch_id, execution_ids, finished)`` tells the
    screens; ``announce(live, event)`` is called once when a batch ends."""

    def __init__(
        self,
        live: dict[str, LiveBatch],
        *,
        now: Callable[[], datetime],
        tell: Tell,
        announce: Announce,
        interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.live = live
        self.interval = interval
        self._now = now
        self._tell = tell
        self._announce = announce
        self._dirty: dict[str, Dirty] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self.events = 0
        """Events applied so far (for the benchmark and the tests)."""
        self.flushes = 0
        """Times the screens were told so far."""

    def on_event(self, event: EngineEvent) -> None:
        """The runner's listener: apply ``event`` now, tell the screens soon."""
        live = self.live.get(event.batch_id)
        if live is None:
            return
        self.events += 1
        changed = live.apply(event, self._now())
        dirty = self._dirty.setdefault(event.batch_id, Dirty())
        dirty.execution_ids |= changed
        if isinstance(event, BatchFinished):
            dirty.finished = True
            self.flush()
            self._announce(live, event)
            return
        loop = asyncio.get_running_loop()
        wait = self._last_flush + self.interval - loop.time()
        if wait <= 0:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(wait, self.flush)

    def flush(self) -> None:
        """Tell the screens every change not told yet (nothing if there is none)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        self._last_flush = asyncio.get_running_loop().time()
        self.flushes += 1
        for batch_id, change in dirty.items():
            self._tell(batch_id, frozenset(change.execution_ids), change.finished)

    @property
    def pending(self) -> bool:
        """Whether some change has not been told to the screens yet."""
        return bool(self._dirty)

    def close(self) -> None:
        """Stop the timer (the app is closing); changes not told yet are dropped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._dirty.clear()
