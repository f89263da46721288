"""ResultDownloader: brings succeeded executions' results to disk, bounded and retrying.

For each execution it asks AMC for the download URLs (every page; a 404 means "not
published yet": it waits with growing intervals, up to ``ready_wait`` seconds), then
streams each file (data files, then metadata) to
``RESULTS_DIR/BATCH_ID/INSTANCE_ID/NAME`` through :func:`~amc_tui.amc.download.fetch_to_part`:
bytes go to ``NAME.part``, which is renamed to ``NAME`` only when whole, and only then
is the file recorded ``done`` with its size and SHA-256 (:mod:`amc_tui.store.results`).

The machinery is the executions': at most ``max_concurrent_executions`` executions
download at once (a semaphore of its own: downloads hold no AMC execution slot);
transient errors (429, 5xx, timeouts, lost connections, a body cut short) are retried
with the engine's :class:`~amc_tui.engine.retry.RetryPolicy`, each retry resuming the
``.part`` with an HTTP Range; an expired URL (403/404) makes it ask AMC for fresh URLs,
up to :data:`MAX_URL_REFRESHES` times per file.  A download cut off by a crash or a stop
stays ``downloading`` in the store with its ``.part`` on disk, and the next request for
those results resumes it.  One process downloads an execution's results at a time (a
lock file per execution); within a process, asking again joins the download under way.

Every state change is recorded before it is announced to listeners (a
:class:`~amc_tui.engine.download_progress.DownloadUpdate`), and progress is announced
at most every ``progress_interval`` seconds per execution.  Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from amc_tui.amc.client import AmcClient
from amc_tui.amc.download import Announced, UrlExpiredError, fetch_to_part, url_path
from amc_tui.amc.models import DownloadUrls
from amc_tui.domain import Execution, ExecutionStatus
from amc_tui.engine.download_progress import (
    DownloadPhase,
    DownloadProgress,
    DownloadUpdate,
    Listener,
)
from amc_tui.engine.locks import BatchBusyError, BatchLock
from amc_tui.engine.polling import PollSchedule
from amc_tui.engine.result_files import (
    PART_SUFFIX,
    LocalFile,
    downloaded_files,
    file_names,
    make_directory,
    on_disk,
    result_directory,
    safe_part,
    sync_directory,
)
from amc_tui.engine.retry import RetryPolicy, Sleep, call_with_retries
from amc_tui.errors import AmcTuiError, ErrorCategory, InputError, NotFoundError, ProtocolError
from amc_tui.settings import EngineSettings, Settings
from amc_tui.store.history import HistoryStore
from amc_tui.store.results import FileKind, ResultFile, ResultSet, ResultStatus

log = logging.getLogger(__name__)

READY_WAIT = 600.0
"""Seconds to wait for AMC to publish a succeeded execution's results."""
MAX_URL_REFRESHES = 3
"""Fresh URLs asked for one file after its URL was refused, before giving up."""


@dataclass
class ResultOutcome:
    """What became of one execution's results."""

    execution: Execution
    status: ResultStatus
    directory: Path
    files: list[LocalFile] = field(default_factory=list)
    error_category: ErrorCategory | None = None
    error: str | None = None
    already_there: bool = False
    """Nothing was fetched: every file was whole on disk already."""

    @property
    def data_files(self) -> list[LocalFile]:
        return [f for f in self.files if f.kind is FileKind.DATA]


class ResultDownloader:
    """Downloads results for one process (the headless command or the TUI)."""

    def __init__(
        self,
        store: HistoryStore,
        client: AmcClient,
        results_dir: Path,
        engine: EngineSettings,
        *,
        lock_dir: Path | None = None,
        retry: RetryPolicy | None = None,
        ready_wait: float = READY_WAIT,
        sleep: Sleep = asyncio.sleep,
        progress_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.client = client
        self.results_dir = results_dir
        self._slots = asyncio.Semaphore(engine.max_concurrent_executions)
        self._retry = retry or RetryPolicy.from_settings(engine)
        self._schedule = PollSchedule(engine.poll_interval_min, engine.poll_interval_max)
        self._lock_dir = lock_dir
        self._ready_wait = ready_wait
        self._sleep = sleep
        self._interval = progress_interval
        self._clock = clock
        self._tasks: dict[int, asyncio.Task[ResultOutcome]] = {}
        self._listeners: list[Listener] = []

    @classmethod
    def for_settings(
        cls, store: HistoryStore, client: AmcClient, settings: Settings
    ) -> ResultDownloader:
        """The downloader of a process: results and locks in the settings' data dir."""
        return cls(
            store,
            client,
            settings.paths.results_dir,
            settings.engine,
            lock_dir=settings.paths.lock_dir,
        )

    # --- listeners --------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, update: DownloadUpdate) -> None:
        for listener in list(self._listeners):
            try:
                listener(update)
            except Exception:
                log.exception("a download listener failed")

    # --- asking -----------------------------------------------------------------------

    def is_downloading(self, execution_id: int) -> bool:
        return execution_id in self._tasks

    async def download(self, execution: Execution) -> ResultOutcome:
        """The execution's results on disk: fetched now, joined, or already there.

        Cancelling the caller does not stop the download (others may be waiting for
        it); :meth:`stop` does.
        """
        if execution.id is None:
            raise InputError("An execution not yet stored has no results")
        task = self._tasks.get(execution.id)
        if task is None:
            task = asyncio.create_task(self._download(execution))
            self._tasks[execution.id] = task
            task.add_done_callback(functools.partial(self._forget_task, execution.id))
        return await asyncio.shield(task)

    def _forget_task(self, execution_id: int, _task: object) -> None:
        self._tasks.pop(execution_id, None)

    async def download_batch(self, batch_id: str) -> list[ResultOutcome]:
        """Every succeeded execution's results, by instance name; InputError if unknown."""
        batch = await self.store.get_batch(batch_id)
        if batch is None:
            raise InputError(f"No batch {batch_id!r} in the history")
        targets = [ex for ex in batch.executions if ex.status is ExecutionStatus.SUCCEEDED]
        return list(await asyncio.gather(*(self.download(ex) for ex in targets)))

    async def resume_unfinished(self) -> list[ResultOutcome]:
        """Finish the downloads a stop or a crash cut short (another live process's
        are left to it: their lock is held)."""
        outcomes = []
        for execution_id in await self.store.results.unfinished():
            if execution_id in self._tasks:
                continue
            execution = await self.store.get_execution(execution_id)
            if execution is not None:
                outcomes.append(self.download(execution))
        return list(await asyncio.gather(*outcomes))

    async def stop(self) -> None:
        """Stop every download under way; each stays resumable."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- one execution ----------------------------------------------------------------

    async def _download(self, execution: Execution) -> ResultOutcome:
        assert execution.id is not None
        directory = result_directory(self.results_dir, execution)
        outcome = ResultOutcome(execution, ResultStatus.DOWNLOADING, directory)
        if execution.status is not ExecutionStatus.SUCCEEDED or not execution.amc_execution_id:
            outcome.status = ResultStatus.FAILED
            outcome.error = (
                f"Only a succeeded execution has results; this one is {execution.status.value}"
            )
            return outcome
        async with self._slots:
            lock = self._lock(execution)
            try:
                if lock is not None:
                    lock.acquire()
            except BatchBusyError as busy:
                outcome.status = ResultStatus.FAILED
                outcome.error = str(busy)
                return outcome
            try:
                return await self._download_locked(execution, outcome)
            finally:
                if lock is not None:
                    lock.release()

    def _lock(self, execution: Execution) -> BatchLock | None:
        if self._lock_dir is None:
            return None
        key = f"results-{safe_part(execution.batch_id, 'batch')}-{execution.id}"
        busy = f"The results of {execution.instance_id} are being downloaded"
        return BatchLock(self._lock_dir, key, busy=busy)

    async def _download_locked(self, execution: Execution, outcome: ResultOutcome) -> ResultOutcome:
        assert execution.id is not None
        recorded = await self.store.results.get(execution.id)
        there = downloaded_files(self.results_dir, execution, recorded)
        if there is not None:
            outcome.status, outcome.files, outcome.already_there = (
                ResultStatus.DOWNLOADED,
                there,
                True,
            )
            return outcome
        await self.store.results.start(execution.id)
        progress = DownloadProgress(
            execution, self._emit, clock=self._clock, interval=self._interval
        )
        try:
            outcome.files = await self._fetch_all(execution, recorded, outcome.directory, progress)
        except asyncio.CancelledError:
            progress.emit(DownloadPhase.STOPPED, force=True)
            raise
        except AmcTuiError as error:
            log.warning("results of %s: %s (%s)", execution.instance_id, error, error.detail)
            return await self._failed(outcome, progress, error.category, error.user_message)
        except OSError as error:  # the results folder: full, read-only, gone...
            log.warning("results of %s: %r", execution.instance_id, error)
            where = error.filename or outcome.directory
            message = f"The result could not be written to {where}: {error.strerror or error}"
            return await self._failed(outcome, progress, ErrorCategory.INTERNAL, message)
        await self.store.results.end(execution.id, ResultStatus.DOWNLOADED)
        outcome.status = ResultStatus.DOWNLOADED
        progress.emit(DownloadPhase.DOWNLOADED, force=True)
        return outcome

    async def _failed(
        self,
        outcome: ResultOutcome,
        progress: DownloadProgress,
        category: ErrorCategory,
        message: str,
    ) -> ResultOutcome:
        assert outcome.execution.id is not None
        await self.store.results.end(outcome.execution.id, ResultStatus.FAILED, (category, message))
        outcome.status = ResultStatus.FAILED
        outcome.error_category, outcome.error = category, message
        progress.emit(DownloadPhase.FAILED, error=message, force=True)
        return outcome

    async def _fetch_all(
        self,
        execution: Execution,
        recorded: ResultSet | None,
        directory: Path,
        progress: DownloadProgress,
    ) -> list[LocalFile]:
        assert execution.id is not None
        urls = await self._urls(execution, progress)
        listing = file_names(urls)
        await self.store.results.count_files(execution.id, len(urls.download_urls))
        known = {(r.kind, r.number): r for r in (recorded.recorded if recorded else ())}
        listed = {(k, n, name) for k, n, name, _ in listing}
        if any((r.kind, r.number, r.name) not in listed for r in known.values()):
            # AMC lists other files than those recorded: start this result afresh.
            await self.store.results.forget_files(execution.id)
            known = {}
        make_directory(directory)
        progress.files = len(listing)
        files: list[LocalFile] = []
        for index, (kind, number, name, url) in enumerate(listing, 1):
            progress.start_file(index)
            row = known.get((kind, number))
            whole = on_disk(directory, row) if row is not None else None
            if whole is None:
                whole = await self._fetch_file(execution, kind, number, name, url, row, progress)
            progress.file_done(whole.size)
            files.append(whole)
        return files

    async def _urls(self, execution: Execution, progress: DownloadProgress) -> DownloadUrls:
        """All the download URLs, waiting (growing intervals) while AMC answers 404."""
        assert execution.amc_execution_id is not None
        instance, amc_id = execution.instance_id, execution.amc_execution_id
        started = self._clock()
        while True:
            try:
                return await call_with_retries(
                    lambda: self.client.get_download_urls(instance, amc_id),
                    self._retry,
                    what=f"download URLs of {amc_id} on {instance}",
                    sleep=self._sleep,
                )
            except NotFoundError:
                waited = self._clock() - started
                if waited >= self._ready_wait:
                    raise NotFoundError(
                        f"AMC had not published the results after {self._ready_wait:.0f} s; "
                        "try again later",
                        detail=f"{amc_id} on {instance}",
                    ) from None
                progress.emit(DownloadPhase.WAITING, force=True)
                delay = self._schedule.by_age(waited)
                await self._sleep(min(delay, max(0.0, self._ready_wait - waited)))

    async def _fetch_file(
        self,
        execution: Execution,
        kind: FileKind,
        number: int,
        name: str,
        url: str,
        row: ResultFile | None,
        progress: DownloadProgress,
    ) -> LocalFile:
        assert execution.id is not None
        execution_id = execution.id
        directory = result_directory(self.results_dir, execution)
        target = directory / name
        part = directory / (name + PART_SUFFIX)
        etag = row.etag if row is not None and not row.done and part.exists() else None
        if etag is None:
            part.unlink(missing_ok=True)
        current_url = url

        async def on_start(announced: Announced) -> None:
            nonlocal etag
            progress.file_begins(announced.resumed_from, announced.total)
            if announced.resumed_from == 0 or announced.etag != etag:
                await self.store.results.start_file(
                    execution_id, kind, number, name, etag=announced.etag, size=announced.total
                )
            etag = announced.etag

        async def attempt() -> LocalFile:
            fetched = await fetch_to_part(
                self.client.http,
                current_url,
                part,
                etag=etag,
                on_start=on_start,
                on_bytes=progress.add,
            )
            os.replace(part, target)
            sync_directory(directory)
            await self.store.results.finish_file(
                execution_id, kind, number, size=fetched.size, sha256=fetched.sha256
            )
            return LocalFile(kind, number, target, fetched.size, fetched.sha256)

        refreshes = 0
        while True:
            try:
                return await call_with_retries(
                    attempt,
                    self._retry,
                    what=f"download {url_path(current_url)}",
                    sleep=self._sleep,
                )
            except UrlExpiredError:
                refreshes += 1
                if refreshes > MAX_URL_REFRESHES:
                    raise
                log.info("%s: download link refused; asking AMC again", execution.instance_id)
                current_url = _same_file(await self._urls(execution, progress), kind, number)


def _same_file(urls: DownloadUrls, kind: FileKind, number: int) -> str:
    listed = urls.download_urls if kind is FileKind.DATA else urls.metadata_download_urls
    if number > len(listed):
        raise ProtocolError(detail=f"AMC no longer lists {kind.value} file {number}")
    return listed[number - 1]
