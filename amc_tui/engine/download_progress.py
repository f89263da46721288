"""A result download's progress: its phases, the updates listeners get, and their pace.

:class:`DownloadUpdate` says where one execution's download stands; it is emitted only
after what it says is recorded in the store.  :class:`DownloadProgress` keeps one
download's byte counts and emits an update at most every ``interval`` seconds (and at
once when a phase or a file changes).  Nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from amc_tui.domain import Execution


class DownloadPhase(StrEnum):
    WAITING = "waiting"
    """AMC has not published the results yet."""
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    FAILED = "failed"
    STOPPED = "stopped"
    """Cut short by a stop (or the process ending): resumable."""


@dataclass(frozen=True)
class DownloadUpdate:
    """Where one execution's result download stands (already recorded in the store)."""

    batch_id: str
    execution_id: int
    phase: DownloadPhase
    file: int = 0
    """The file being downloaded (1-based, data files then metadata); 0 before any."""
    files: int | None = None
    """How many files (data and metadata) AMC listed, once known."""
    file_bytes: int = 0
    file_size: int | None = None
    bytes_done: int = 0
    """Bytes of this execution's files on disk so far, the current one included."""
    error: str | None = None


Listener = Callable[[DownloadUpdate], None]


class DownloadProgress:
    """One execution's byte counts, announced at most every ``interval`` seconds."""

    def __init__(
        self,
        execution: Execution,
        emit: Listener,
        *,
        clock: Callable[[], float],
        interval: float,
    ) -> None:
        assert execution.id is not None
        self._emit = emit
        self._clock = clock
        self._interval = interval
        self._batch_id = execution.batch_id
        self._execution_id = execution.id
        self.files: int | None = None
        self._file = 0
        self._file_bytes = 0
        self._file_size: int | None = None
        self._done_before = 0
        self._last = float("-inf")

    def start_file(self, index: int) -> None:
        self._file, self._file_bytes, self._file_size = index, 0, None

    def file_begins(self, resumed_from: int, total: int | None) -> None:
        self._file_bytes, self._file_size = resumed_from, total
        self.emit(DownloadPhase.DOWNLOADING, force=True)

    def add(self, count: int) -> None:
        self._file_bytes += count
        self.emit(DownloadPhase.DOWNLOADING)

    def file_done(self, size: int) -> None:
        self._done_before += size
        self._file_bytes = 0
        self.emit(DownloadPhase.DOWNLOADING, force=True)

    def emit(self, phase: DownloadPhase, *, error: str | None = None, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        file_bytes = 0 if phase is DownloadPhase.DOWNLOADED else self._file_bytes
        self._emit(
            DownloadUpdate(
                batch_id=self._batch_id,
                execution_id=self._execution_id,
                phase=phase,
                file=self._file,
                files=self.files,
                file_bytes=file_bytes,
                file_size=self._file_size,
                bytes_done=self._done_before + file_bytes,
                error=error,
            )
        )
