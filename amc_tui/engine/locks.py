"""Batch ownership: at most one process runs a batch, and a dead owner is noticed.

The process running a batch holds an exclusive ``flock`` on ``LOCK_DIR/BATCH_ID.lock``
(the file holds its pid, for messages).  The kernel drops the lock when the process
ends, however it ends (``kill -9`` included), so "the owner is gone" is a fact, not a
guess by age: a batch whose lock can be taken is not being run by anyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Self

from amc_tui.errors import InputError, StoreError


class BatchBusyError(InputError):
    """Another live process holds the batch (asking for it again is an input problem)."""


class BatchLock:
    """The exclusive right to run one batch; :meth:`acquire` or use ``with``."""

    def __init__(self, lock_dir: Path, batch_id: str, *, busy: str | None = None) -> None:
        """``busy`` starts the message when another process holds the lock ("... by
        process N"; default: "Batch ID is being run")."""
        self.path = lock_dir / f"{batch_id}.lock"
        self.batch_id = batch_id
        self.busy = busy or f"Batch {batch_id} is being run"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now, or raise :class:`BatchBusyError` naming the owner's pid."""
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StoreError(
                f"Cannot create the lock file {self.path}", detail=str(error)
            ) from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_pid(fd)
            os.close(fd)
            who = f"process {owner}" if owner else "another process"
            raise BatchBusyError(f"{self.busy} by {who}") from None
        except OSError as error:
            os.close(fd)
            raise StoreError(f"Cannot lock {self.path}", detail=str(error)) from error
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the flock

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def is_owned_elsewhere(lock_dir: Path, batch_id: str) -> bool:
    """Whether another process holds the batch right now."""
    probe = BatchLock(lock_dir, batch_id)
    try:
        probe.acquire()
    except BatchBusyError:
        return True
    probe.release()
    return False


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
