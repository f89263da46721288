"""SIGHUP and SIGTERM for the TUI: leave AMC running, the batches resumable, and exit.

An SSH session that drops sends SIGHUP and takes the terminal with it.  Left to the
default, the process would die on the spot; with a handler but the terminal still
wired in, Textual's writer thread fails on the dead terminal and the next writes
block, so the app would hang.  :class:`StopSignals` does what a daemon does on a
hangup: it points standard input, output and error at ``/dev/null`` first (nothing
more reaches the terminal, nothing blocks), then asks the app to exit.  The app's
unmount interrupts the batches it runs (:meth:`BatchRunner.interrupt`: no cancel
reaches AMC) and waits for their last writes, so each ends ``interrupted`` and the
next start offers to resume it.  SIGTERM does the same with the terminal left alone.
The exit code is 128 + the signal's number, as for the headless commands.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def detach_from_terminal() -> None:
    """Point fds 0, 1 and 2 at /dev/null (the terminal is gone or going)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class StopSignals:
    """Installs the handlers on the running loop; ``stop(code)`` is the app's exit."""

    def __init__(self, stop: Callable[[int], None]) -> None:
        self._stop = stop
        self.received: int | None = None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self.on_signal, signum)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)

    def on_signal(self, signum: int) -> None:
        if self.received is not None:
            return  # already stopping
        self.received = signum
        if signum == signal.SIGHUP:
            detach_from_terminal()
        log.warning(
            "%s: leaving; batches running here stay running on AMC and end interrupted",
            signal.Signals(signum).name,
        )
        self._stop(128 + signum)
