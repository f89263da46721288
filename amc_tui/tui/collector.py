"""CollectorTuning: Python's garbage collector set for a TUI that must answer keys under load.

A batch running thousands of events a second makes the app allocate objects by the
million (HTTP answers, models, rendered segments).  With the default thresholds the
collector runs a young pass every 700 allocations and, every so often, a full pass
over every object of the process; the event loop, keys and frames included, stops
for it: 100-140 ms for a full pass on the benchmark machine, two or three times in a
1,000-execution batch (``bench/dashboard_load.py`` reports the pauses).

While the app runs, :class:`CollectorTuning` freezes what exists once the app is up
(modules, styles, the first screen: they live as long as the app), so that full
passes no longer walk it, and makes young passes rarer, so that fewer short-lived
objects survive into the older generations.  Both are undone when the app stops
(tests run many apps in one process).  Nothing here imports textual.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations between two young passes (Python's default: 700)."""


class CollectorTuning:
    """See the module docstring; :meth:`start` once the app is up, :meth:`stop` at its end."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def start(self) -> None:
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        _, middle, old = self._saved
        gc.freeze()
        gc.set_threshold(max(YOUNG_THRESHOLD, self._saved[0]), middle, old)

    def stop(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None

    @property
    def active(self) -> bool:
        return self._saved is not None
