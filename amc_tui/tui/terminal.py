"""The terminal's output, made safe for the moment the terminal goes away.

Textual writes every frame from a writer thread that takes text from a queue of 30
and writes it to the terminal.  If one write fails (``EIO``: the SSH session dropped
and the pty is gone), that thread ends, the queue fills, and the app's next write
blocks for ever: the app hangs instead of leaving.  The hang-up signal that would
point the output at ``/dev/null`` (:mod:`amc_tui.tui.stop_signals`) comes through the
event loop, so a frame written between the drop and that handler is enough; the
busier the dashboard, the likelier.

:class:`TerminalOutput` wraps the terminal's file: a failed write or flush marks the
terminal gone and every later write is dropped, so the writer thread keeps emptying
its queue and the app can exit.  :class:`SafeLinuxDriver` is Textual's Linux driver
writing through it.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver

log = logging.getLogger(__name__)


class TerminalOutput:
    """A text file that drops what it cannot write, once its terminal has gone."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.gone: BaseException | None = None
        """The error that showed the terminal had gone (None while it is there)."""

    def write(self, text: str) -> int:
        if self.gone is None:
            try:
                return self._file.write(text)
            except (OSError, ValueError) as exc:
                self._lost(exc)
        return len(text)

    def flush(self) -> None:
        if self.gone is None:
            try:
                self._file.flush()
            except (OSError, ValueError) as exc:
                self._lost(exc)

    def _lost(self, exc: BaseException) -> None:
        self.gone = exc
        log.warning("the terminal has gone (%s); nothing more is drawn", exc)

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class SafeLinuxDriver(LinuxDriver):
    """Textual's Linux driver, writing through :class:`TerminalOutput`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._file = TerminalOutput(self._file)  # type: ignore[assignment,arg-type]
