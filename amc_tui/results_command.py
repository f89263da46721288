"""``amc-tui results BATCH_ID [--merge OUT.csv] [--json]``: a batch's results on disk.

An extension of DESIGN section 7 (which has no results command; issue 7 asks for
this one).  It downloads what is missing of every succeeded execution's results to
``DATA_DIR/results/BATCH_ID/INSTANCE_ID/`` (:class:`~amc_tui.engine.downloads.ResultDownloader`:
bounded, retrying, resuming what a crash or Ctrl+C cut short) and, with ``--merge``,
writes one CSV of all of them with ``instance_name`` and ``instance_id`` first
(:mod:`amc_tui.results_merge`).  Progress is one line on stderr when it is a terminal.

Exit codes: 0 when the batch has ended and every succeeded execution's results are
on disk (and merged, if asked); 1 when some could not be downloaded, the merge was
refused (columns differ), the batch has not ended, or no execution succeeded; 2 for
invalid input (an unknown batch, a bad ``--merge`` path); 3 for configuration; 130
after Ctrl+C and 128 + N after SIGTERM/SIGHUP (what was downloaded stays; the next
run resumes the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from amc_tui import output
from amc_tui.batch_commands import require_batch
from amc_tui.commands import logged_errors, open_history, prepare, say
from amc_tui.domain import Batch
from amc_tui.engine.download_progress import DownloadPhase, DownloadUpdate
from amc_tui.progress import CLEAR_LINE, is_terminal, line_width
from amc_tui.results_merge import MergeMismatchError, MergeResult, check_merge_path
from amc_tui.results_output import DownloadTally, results_json, results_table
from amc_tui.results_plan import merge_problems, merge_sources, succeeded

if TYPE_CHECKING:
    from amc_tui.engine.downloads import ResultOutcome

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_INTERRUPTED = 130


async def results_command(args: argparse.Namespace) -> int:
    settings = prepare(args)
    with logged_errors(settings):
        from amc_tui.amc.connection import open_client_for
        from amc_tui.engine.downloads import ResultDownloader

        merge_to = check_merge_path(args.merge) if args.merge is not None else None
        async with await open_history(settings) as store:
            batch = await require_batch(store, args.batch_id)
            async with open_client_for(settings) as client:
                downloader = ResultDownloader.for_settings(store, client, settings)
                line = _ProgressLine(batch, sys.stderr)
                downloader.add_listener(line.on_update)
                stops = _Stops()
                stops.install()
                try:
                    outcomes = await downloader.download_batch(batch.id)
                except asyncio.CancelledError:
                    await downloader.stop()
                    if stops.signum is None:
                        raise
                    outcomes = None
                finally:
                    stops.remove()
                    line.close()
                if outcomes is None:
                    say(
                        f"amc-tui: stopped; what was downloaded is kept "
                        f"(amc-tui results {batch.id} fetches the rest)"
                    )
                    return 128 + stops.signum if stops.signum else EXIT_INTERRUPTED
        return _report(args, settings.paths.results_dir, batch, outcomes, merge_to)


def _report(
    args: argparse.Namespace,
    results_dir: Path,
    batch: Batch,
    outcomes: list[ResultOutcome],
    merge_to: Path | None,
) -> int:
    problems = merge_problems(batch, outcomes)
    merged: MergeResult | None = None
    refused: str | None = None
    if merge_to is not None:
        if problems:
            refused = "not merged: " + problems[0]
        else:
            merged, refused = _merge(outcomes, merge_to)
    if args.json:
        document = results_json(batch, results_dir, outcomes, merged, refused)
        print(output.dumps(document), flush=True)
    else:
        table = results_table(outcomes)
        if table:
            print(table, flush=True)
    for problem in problems:
        say(f"amc-tui: {problem}")
    if refused and refused not in (f"not merged: {p}" for p in problems):
        say(f"amc-tui: {refused}")
    if merged is not None:
        say(
            f"amc-tui: merged {merged.rows} rows from {merged.files} files "
            f"of {len(outcomes)} instances into {merged.path}"
        )
    return EXIT_FAILURES if problems or refused else EXIT_OK


def _merge(outcomes: list[ResultOutcome], path: Path) -> tuple[MergeResult | None, str | None]:
    from amc_tui.results_merge import merge_results

    try:
        return merge_results(merge_sources(outcomes), path), None
    except MergeMismatchError as error:
        return None, error.user_message


class _Stops:
    """Ctrl+C, SIGTERM and SIGHUP stop the downloads (each stays resumable)."""

    def __init__(self) -> None:
        self.task = asyncio.current_task()
        self.signum: int | None = None

    def _stop(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
            if self.task is not None:
                self.task.cancel()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self._stop, signum)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)


class _ProgressLine:
    """One line on a terminal's stderr: executions by download state, bytes so far."""

    LISTED = (DownloadPhase.DOWNLOADING, DownloadPhase.WAITING, DownloadPhase.FAILED)

    def __init__(self, batch: Batch, stream: TextIO) -> None:
        self.tally = DownloadTally(batch.id, len(succeeded(batch)))
        self.stream = stream
        self.live = is_terminal(stream)
        self._drawn = 0.0

    def on_update(self, update: DownloadUpdate) -> None:
        self.tally.take(update)
        now = time.monotonic()
        if self.live and now - self._drawn >= 0.1:
            self._drawn = now
            self._write(CLEAR_LINE + f"results: {self.tally.summary(self.LISTED)}"[: line_width()])

    def close(self) -> None:
        if self.live and self._drawn:
            self._write(CLEAR_LINE)

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError):
            self.stream.write(text)
            self.stream.flush()
