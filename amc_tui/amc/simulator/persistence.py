"""The simulator's optional state file: executions that outlive the process that made them.

:class:`ExecutionFile` owns the file (the demo's ``simulator-state.json``): it loads the
executions recorded there, saves after every request that changed them, picks up what
other processes wrote, and keeps the file bounded (30 days, newest ``MAX_RECORDS``).
Several processes may share it (a TUI and a headless run): every change is made under an
exclusive ``flock`` on the sibling ``<name>.lock``, after merging the file into memory,
and written atomically (temporary file, fsync, rename; mode 0600), so nobody loses
anybody's records.  Records are immutable but for a cancel, so merging is a union by
execution id in which a cancel, once made anywhere, stays.

Monotonic clock readings mean nothing in another process, so the file holds wall-clock
times, turned back into this process's clock on load: an execution keeps progressing in
real time while no process runs.  A damaged or unreadable file is renamed aside to
``<name>.unreadable-<time>`` (never deleted) and the simulator starts empty; a file that
cannot be written or locked leaves the simulator running in memory, with a warning.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

from amc_tui.amc.simulator.records import EXPIRE_AFTER, ExecutionRecord
from amc_tui.amc.simulator.state import SimulatorState
from amc_tui.amc.simulator.stored import StoredExecution, StoredFile
from amc_tui.state_file import atomic_write_bytes

log = logging.getLogger(__name__)

MAX_RECORDS = 20_000
"""Most executions the file keeps (the newest); older ones than ``EXPIRE_AFTER`` go too."""

_Signature = tuple[int, int, int]
"""(inode, mtime in ns, size): an atomic rename changes the inode, so any save shows."""


class ExecutionFile:
    """Keeps ``state.executions`` and ``state.next_seq`` in ``path``, shared with others.

    The file is read and written in the event loop of the process, blocking it briefly
    (on purpose: a change must happen under the file lock together with the request that
    makes it, with no await in between).  The demo makes a few hundred executions a run,
    so a write takes milliseconds; only a full file (``MAX_RECORDS``, about 13 MB) would
    take some tenths of a second to write or re-read.
    """

    def __init__(self, path: Path, state: SimulatorState) -> None:
        self.path = path
        self.lock_path = path.with_name(f"{path.name}.lock")
        self.state = state
        self.enabled = True
        self._seen: _Signature | None = None
        self._entries: dict[str, StoredExecution] = {}
        """The stored form of every known record, as last read or written."""

    # --- the two entry points ------------------------------------------------------

    def refresh(self) -> None:
        """Merge in what other processes wrote, if the file changed since last seen."""
        if not self.enabled or self._signature() == self._seen:
            return
        with self._locked() as locked:
            if locked:
                self._merge_file()

    @contextmanager
    def changes(self) -> Iterator[None]:
        """Around a request that may change executions: lock, merge, then save if changed."""
        with self._locked() as locked:
            if locked:
                self._merge_file()
            before = self.state.revision
            yield
            if locked and self.enabled and self.state.revision != before:
                self._save()

    # --- reading -------------------------------------------------------------------

    def _signature(self) -> _Signature | None:
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._give_up(exc)
            return None
        return (found.st_ino, found.st_mtime_ns, found.st_size)

    def _merge_file(self) -> None:
        """Take in the file's records and next seq; the caller holds the lock."""
        signature = self._signature()
        if signature is None or signature == self._seen:
            self._seen = signature
            return
        try:
            stored = StoredFile.model_validate_json(self.path.read_bytes())
        except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            self._set_aside(exc)
            return
        state = self.state
        now, now_wall = state.clock(), state.wall_clock()
        for entry in stored.executions:
            local = state.executions.get(entry.execution_id)
            if local is None:
                state.remember(entry.record(now, now_wall))
                self._entries[entry.execution_id] = entry
            elif local.cancel_requested_clock is None and entry.cancel_requested_wall is not None:
                entry.apply_cancel(local)
                self._entries[entry.execution_id] = entry
            state.next_seq = max(state.next_seq, entry.seq + 1)
        state.next_seq = max(state.next_seq, stored.next_seq)
        self._seen = signature
        self._prune()

    def _set_aside(self, exc: BaseException) -> None:
        stamp = self.state.wall_clock().astimezone(UTC).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        number = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}-{number}")
            number += 1
        reason = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        try:
            os.replace(self.path, aside)
        except OSError as rename_error:
            self._give_up(rename_error)
            return
        log.warning(
            "simulator state file %s cannot be read (%s); kept as %s, starting afresh",
            self.path,
            reason,
            aside.name,
        )
        self._seen = None

    # --- writing -------------------------------------------------------------------

    def _save(self) -> None:
        """Write every known record (a superset of the file's, just merged)."""
        self._prune()
        records = sorted(self.state.executions.values(), key=lambda r: r.seq)
        stored = StoredFile(
            next_seq=self.state.next_seq, executions=[self._entry(r) for r in records]
        )
        try:
            atomic_write_bytes(self.path, stored.model_dump_json().encode(), mode=0o600)
        except OSError as exc:
            self._give_up(exc)
            return
        self._seen = self._signature()

    def _entry(self, record: ExecutionRecord) -> StoredExecution:
        entry = self._entries.get(record.execution_id)
        cancelled_here = record.cancel_requested_clock is not None
        if entry is None or (cancelled_here and entry.cancel_requested_wall is None):
            entry = StoredExecution.of(record)
            self._entries[record.execution_id] = entry
        return entry

    def _prune(self) -> None:
        """Forget executions past their expireTime, and all but the newest MAX_RECORDS."""
        executions = self.state.executions
        oldest = self.state.wall_clock() - EXPIRE_AFTER
        kept = sorted((r for r in executions.values() if r.created_wall >= oldest), key=_seq)
        keep = {r.execution_id for r in kept[max(0, len(kept) - MAX_RECORDS) :]}
        for execution_id in [e for e in executions if e not in keep]:
            del executions[execution_id]
            self._entries.pop(execution_id, None)

    # --- locking and failure -------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[bool]:
        """Hold the exclusive lock; yields False (and carries on) when it cannot be had."""
        fd: int | None = None
        if self.enabled:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while another process saves
            except OSError as exc:
                if fd is not None:
                    os.close(fd)
                    fd = None
                self._give_up(exc)
        try:
            yield fd is not None
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    def _give_up(self, exc: OSError) -> None:
        log.warning(
            "simulator state file %s cannot be used (%s); executions are kept in memory only",
            self.path,
            exc.strerror or exc,
        )
        self.enabled = False


def _seq(record: ExecutionRecord) -> int:
    return record.seq
