"""The headless batch commands: ``run``, ``resume``, ``cancel`` and ``show``.

Each takes parsed arguments and returns an exit code (DESIGN section 7); the
command line maps errors to codes.  ``run`` and ``resume`` drive the same
:class:`~amc_tui.engine.runner.BatchRunner` as the TUI, with the signals of a
terminal program:

- Ctrl+C cancels the batch (queued executions dropped, in-flight ones cancelled on
  AMC) and exits 130; a second Ctrl+C leaves at once, the batch ``interrupted``.
- SIGTERM and SIGHUP (an SSH session dropping) stop submitting, leave the AMC
  executions running, mark the batch ``interrupted`` and exit 128 + the signal
  number; ``amc-tui resume`` picks it up.

``show`` only reads the store, and imports neither httpx nor the simulator, so it
starts fast; ``history`` (:mod:`amc_tui.history_command`) goes further and loads
neither the event loop nor pydantic.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from amc_tui import output
from amc_tui.commands import logged_errors, open_history, prepare, say
from amc_tui.domain import Batch, BatchStatus
from amc_tui.errors import CredentialsError, InputError, StoreError
from amc_tui.settings import Settings
from amc_tui.store.history import HistoryStore

if TYPE_CHECKING:
    from amc_tui.amc.client import AmcClient
    from amc_tui.engine.runner import BatchRunner

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_CANCELLED = 4
EXIT_INTERRUPTED = 130

MAX_SQL_FILE_BYTES = 200_000
CANCEL_WAIT_SECONDS = 60.0


def read_sql_file(path: Path) -> str:
    """The SQL in ``path``, or an InputError naming the file and what is wrong."""
    from amc_tui.engine.validation import path_option

    where = path_option("--sql-file", path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InputError(f"{where}: is a directory")
        if size > MAX_SQL_FILE_BYTES:
            raise InputError(f"{where}: {size} bytes; at most {MAX_SQL_FILE_BYTES}")
        sql = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except OSError as error:
        raise InputError(f"{where}: cannot be read ({error.strerror})") from None
    if not sql.strip():
        raise InputError(f"{where}: the file is empty")
    return sql


def exit_code_for(status: BatchStatus) -> int:
    if status is BatchStatus.COMPLETED:
        return EXIT_OK
    if status is BatchStatus.CANCELLED:
        return EXIT_CANCELLED
    if status is BatchStatus.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_FAILURES


async def _open_store(settings: Settings) -> HistoryStore:
    return await open_history(settings)


# --- run and resume ---------------------------------------------------------------------


async def run_command(args: argparse.Namespace) -> int:
    """``amc-tui run``: validate, store, then run a new batch to its end."""
    settings = prepare(args)
    with logged_errors(settings):
        from amc_tui.amc.connection import open_client_for
        from amc_tui.engine.instances import InstanceCatalog
        from amc_tui.engine.validation import (
            build_batch,
            build_query,
            build_time_window,
            check_name,
            split_instance_refs,
        )
        from amc_tui.param_input import merge_params, parse_param_option, read_param_file

        # Everything the operator typed is checked before the store or AMC is touched.
        check_name(args.name or "")
        sql = read_sql_file(args.sql_file) if args.sql_file is not None else None
        window = build_time_window(args.start, args.end, args.window)
        options = [parse_param_option(text) for text in args.param or []]
        file_params: dict[str, str] = {}
        overrides: dict[str, dict[str, str]] = {}
        if args.param_file is not None:
            file_params, overrides = read_param_file(args.param_file)
        query = build_query(
            sql=sql,
            workflow_id=args.workflow_id,
            time_window=window,
            parameters=merge_params(file_params, options),
            instance_parameters=overrides,
        )
        refs = None if args.all_instances else split_instance_refs(args.instances)
        async with await _open_store(settings) as store:
            catalog = InstanceCatalog.for_settings(store, settings)
            async with open_client_for(settings) as client:
                known = await catalog.load(client)
                batch, resolved = build_batch(
                    refs=refs if refs is not None else [i.instance_id for i in known],
                    known=known,
                    query=query,
                    engine=settings.engine,
                    profile=settings.profile_name,
                    name=args.name or "",
                    max_concurrency=args.max_concurrency,
                )
                for ref in resolved.duplicates:
                    say(f"amc-tui: instance {ref} was named twice; running it once")
                runner = _runner(store, client, settings, args.max_concurrency)
                batch = await runner.add(batch)
                return await drive_batch(runner, batch, as_json=args.json)


async def resume_command(args: argparse.Namespace) -> int:
    """``amc-tui resume BATCH_ID``: finish an interrupted batch."""
    settings = prepare(args)
    with logged_errors(settings):
        from amc_tui.amc.connection import open_client_for

        async with await _open_store(settings) as store:
            batch = await require_batch(store, args.batch_id)
            if batch.status.is_terminal:
                say(f"amc-tui: batch {batch.id} already ended {batch.status}; nothing to resume")
                _print_result(batch, as_json=args.json)
                return exit_code_for(batch.status)
            async with open_client_for(settings) as client:
                runner = _runner(store, client, settings, None)
                return await drive_batch(runner, batch, as_json=args.json)


def _runner(
    store: HistoryStore, client: AmcClient, settings: Settings, max_concurrency: int | None
) -> BatchRunner:
    from amc_tui.engine.runner import BatchRunner

    return BatchRunner(
        store,
        client,
        settings.engine,
        lock_dir=settings.paths.lock_dir,
        max_concurrency=max_concurrency,
    )


class _Signals:
    """What the operator (or the system) asked for while the batch ran."""

    def __init__(self, runner: BatchRunner, batch_id: str) -> None:
        self.runner = runner
        self.batch_id = batch_id
        self.interrupts = 0
        self.stopped_by: int | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    def on_interrupt(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            say(
                "\namc-tui: cancelling the batch (queued executions are dropped, running "
                "ones cancelled on AMC); press Ctrl+C again to leave now and resume later"
            )
            task = asyncio.get_running_loop().create_task(self.runner.cancel(self.batch_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            say(
                f"\namc-tui: leaving now; the batch is interrupted (amc-tui resume {self.batch_id})"
            )
            self.runner.interrupt(self.batch_id)

    def on_stop(self, signum: int) -> None:
        self.stopped_by = signum
        self.runner.interrupt(self.batch_id)

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self.on_interrupt)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.on_stop, signum)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)

    def exit_code(self, status: BatchStatus) -> int:
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        if self.interrupts:
            return EXIT_INTERRUPTED
        return exit_code_for(status)


async def drive_batch(runner: BatchRunner, batch: Batch, *, as_json: bool) -> int:
    """Run the stored ``batch`` with signals handled and progress shown; print the end."""
    from amc_tui.engine.events import BatchStarted, EngineEvent
    from amc_tui.progress import ProgressReporter

    unfinished = sum(1 for ex in batch.executions if not ex.status.is_terminal)
    verb = "resuming" if batch.status is not BatchStatus.PENDING else "running"
    started: list[BatchStarted] = []

    def on_start(event: EngineEvent) -> None:
        # Said once the runner holds the batch: another process may finish it first.
        if isinstance(event, BatchStarted) and event.batch_id == batch.id and not started:
            started.append(event)
            say(
                f"amc-tui: batch {batch.id}: {verb} {unfinished} executions, at most "
                f"{min(batch.max_concurrency, runner.limit)} at once (Ctrl+C cancels; "
                f"`amc-tui cancel {batch.id}` from elsewhere)"
            )

    signals = _Signals(runner, batch.id)
    reporter = ProgressReporter(batch, stream=sys.stderr)
    runner.events.add_listener(on_start)
    runner.events.add_listener(reporter.on_event)
    signals.install()
    ticker = asyncio.create_task(reporter.tick())
    try:
        final = await runner.run(batch.id)
    except (StoreError, CredentialsError) as error:
        cause = (
            "its history could not be written"
            if isinstance(error, StoreError)
            else "Login with Amazon refused the credentials"
        )
        say(
            f"amc-tui: batch {batch.id} stopped: {cause}. Executions already on AMC keep "
            f"running there; once the cause is fixed, `amc-tui resume {batch.id}` settles "
            "them without making any twice"
        )
        raise
    finally:
        signals.remove()
        ticker.cancel()
        reporter.close()
        runner.events.remove_listener(reporter.on_event)
        runner.events.remove_listener(on_start)
    if not started and final.status.is_terminal:
        say(f"amc-tui: batch {final.id} already ended {final.status}; nothing to resume")
    if signals.stopped_by is None:
        _print_result(final, as_json=as_json)
    else:
        # The terminal may be gone (SSH dropped): a failed write must not hide the exit.
        with contextlib.suppress(OSError):
            _print_result(final, as_json=as_json)
    if final.status is BatchStatus.INTERRUPTED and signals.interrupts == 0:
        if signals.stopped_by is None:
            say(f"amc-tui: some executions could not be settled; amc-tui resume {final.id}")
            return EXIT_FAILURES
        say(f"amc-tui: batch {final.id} interrupted; amc-tui resume {final.id} finishes it")
    return signals.exit_code(final.status)


def _print_result(batch: Batch, *, as_json: bool) -> None:
    if as_json:
        print(output.dumps(output.batch_json(batch)), flush=True)
    else:
        print(output.batch_table(batch), flush=True)


async def require_batch(store: HistoryStore, batch_id: str) -> Batch:
    from amc_tui.engine.validation import check_batch_id

    check_batch_id(batch_id)
    batch = await store.get_batch(batch_id)
    if batch is None:
        raise InputError(f"No batch {batch_id!r} in the history (see amc-tui history)")
    return batch


# --- cancel -----------------------------------------------------------------------------


async def cancel_command(args: argparse.Namespace) -> int:
    """``amc-tui cancel BATCH_ID``: cancel a batch, wherever it runs."""
    settings = prepare(args)
    with logged_errors(settings):
        from amc_tui.engine.locks import is_owned_elsewhere

        async with await _open_store(settings) as store:
            batch = await require_batch(store, args.batch_id)
            if batch.status.is_terminal:
                say(f"amc-tui: batch {batch.id} already ended {batch.status}")
                return EXIT_OK
            if is_owned_elsewhere(settings.paths.lock_dir, batch.id):
                await store.request_cancel(batch.id)
                say(f"amc-tui: cancel of {batch.id} sent to the process running it; waiting")
                final = await _wait_for_end(store, batch.id)
                if final is None:
                    say("amc-tui: still cancelling; `amc-tui show` tells how it ends")
                    return EXIT_OK
                say(f"amc-tui: batch {batch.id} ended {final}")
                return EXIT_OK
            # Nobody runs it: cancel here, on AMC too.
            from amc_tui.amc.connection import open_client_for

            await store.request_cancel(batch.id)
            async with open_client_for(settings) as client:
                runner = _runner(store, client, settings, None)
                ended = await runner.run(batch.id)
            say(f"amc-tui: batch {batch.id} ended {ended.status}")
            return EXIT_OK


async def _wait_for_end(store: HistoryStore, batch_id: str) -> BatchStatus | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CANCEL_WAIT_SECONDS
    while loop.time() < deadline:
        summary = await store.get_batch_summary(batch_id)
        if summary is not None and (
            summary.status.is_terminal or summary.status is BatchStatus.INTERRUPTED
        ):
            return summary.status
        await asyncio.sleep(0.5)
    return None


# --- reading a batch ----------------------------------------------------------------


async def show_command(args: argparse.Namespace) -> int:
    """``amc-tui show BATCH_ID``: one batch with its executions."""
    settings = prepare(args)
    with logged_errors(settings):
        async with await _open_store(settings) as store:
            batch = await require_batch(store, args.batch_id)
        _print_result(batch, as_json=args.json)
        return EXIT_OK
