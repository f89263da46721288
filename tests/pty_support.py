"""A real terminal for end-to-end TUI tests: amc-tui on a pseudo-terminal it controls.

:class:`PtySession` starts a command as the leader of a new session whose
controlling terminal is the slave side of a pty, so closing the master side is what
an SSH drop does: the kernel hangs the terminal up and sends SIGHUP.  A thread
drains everything the app draws (a full pty would block it); :meth:`wait_for_text`
looks for words on screen with the escape sequences stripped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Sequence

_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")


def _become_session_leader_on_tty() -> None:
    """In the child, after setsid: make stdin (the pty slave) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _and_hold_sighup() -> None:
    """As above, with SIGHUP blocked: a hang-up stays pending, never handled."""
    _become_session_leader_on_tty()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})


class PtySession:
    """A command running on a pty of ``columns`` x ``rows``.

    With ``hold_sighup``, the command starts with SIGHUP blocked, so that after
    :meth:`hang_up` it goes on drawing on a terminal that is gone, as an app does
    between an SSH drop and the moment it handles the signal.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        *,
        columns: int = 120,
        rows: int = 40,
        hold_sighup: bool = False,
    ) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.master: int | None = master
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)},
            start_new_session=True,
            preexec_fn=_and_hold_sighup if hold_sighup else _become_session_leader_on_tty,
            close_fds=True,
        )
        os.close(slave)
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, args=(master,), daemon=True)
        self._reader.start()

    def _drain(self, master: int) -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return  # the master was closed (hang-up) or the slave side went away
            if not chunk:
                return
            with self._lock:
                self._output.extend(chunk)

    def screen_text(self) -> str:
        """Everything drawn so far, escape sequences removed."""
        with self._lock:
            raw = bytes(self._output)
        return _ESCAPES.sub(b"", raw).decode("utf-8", errors="replace")

    def wait_for_text(self, text: str, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen_text():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the app ended ({self.proc.returncode}) before showing {text!r}:\n"
                    + self.screen_text()[-2000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} not shown in {timeout} s:\n" + self.screen_text()[-2000:]
                )
            time.sleep(0.05)

    def wait_until_quiet(self, *, quiet: float = 0.5, timeout: float = 60.0) -> None:
        """Wait until the app has drawn nothing for ``quiet`` seconds (it is idle)."""
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                now_size = len(self._output)
            if now_size != size:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)
        raise AssertionError(f"the app kept drawing for {timeout} s")

    def send(self, keys: str) -> None:
        assert self.master is not None
        os.write(self.master, keys.encode())

    def hang_up(self) -> None:
        """Close the master side: the terminal is gone, as when an SSH session drops."""
        master, self.master = self.master, None
        if master is not None:
            os.close(master)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self.hang_up()
