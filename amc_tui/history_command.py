"""``amc-tui history``: the latest batches, newest first, read in one quick pass.

Scripts and operators run it often, so it must start fast (issue 6: 0.3 s for the
whole process).  Its usual run therefore loads neither pydantic nor asyncio nor the
store's worker thread:

1. the settings of :func:`~amc_tui.commands.prepare_local` (validated as every
   command's are; pydantic is only loaded when there is a config file to validate);
2. the history file opened on this thread by
   :func:`~amc_tui.store.opening.open_connection`: the same checks and migrations as
   :meth:`HistoryStore.open <amc_tui.store.history.HistoryStore.open>`;
3. the page read as plain rows (:func:`~amc_tui.store.summaries.read_page`) and
   printed by the same functions of :mod:`amc_tui.output` as the models would be.

Every command first marks ``interrupted`` the batches whose process has died
(:mod:`amc_tui.engine.recovery`).  When the file holds an unfinished batch that no
live process holds (an orphan to recover), or whether it does cannot be told, this
command leaves the quick pass and runs the usual one: the store, its recovery and
its models, as ``show`` does.  A batch a live process is running needs no recovery
and keeps the quick pass.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from amc_tui import output
from amc_tui.commands import logged_errors, open_history, prepare_local, say
from amc_tui.engine.locks import is_owned_elsewhere
from amc_tui.errors import StoreError
from amc_tui.settings import LocalSettings, Paths
from amc_tui.store.database import DEFAULT_BUSY_TIMEOUT, translate_error
from amc_tui.store.opening import open_connection
from amc_tui.store.summaries import SummaryRow, read_page, unfinished_batch_ids

if TYPE_CHECKING:
    from amc_tui.domain import BatchSummary

EXIT_OK = 0


def history_command(args: argparse.Namespace) -> int:
    """``amc-tui history [--limit N] [--json]``: print the latest batches."""
    local = prepare_local(args)
    with logged_errors(local):
        rows: Sequence[SummaryRow | BatchSummary] | None = read_quickly(local.paths, args.limit)
        if rows is None:
            import asyncio

            rows = asyncio.run(read_recovering(local, args.limit))
        if args.json:
            print(output.dumps([output.summary_json(s) for s in rows]))
        elif rows:
            print(output.history_table(rows))
        else:
            say("amc-tui: no batches yet (amc-tui run ... starts one)")
        return EXIT_OK


def read_quickly(paths: Paths, limit: int) -> list[SummaryRow] | None:
    """The ``limit`` newest batches as plain rows; None if some batch may need recovery.

    Raises :class:`StoreError` naming the file when it cannot be opened or read.
    """
    conn, path = open_connection(paths.history_db, DEFAULT_BUSY_TIMEOUT)
    with contextlib.closing(conn):
        try:
            unfinished = unfinished_batch_ids(conn)
        except sqlite3.Error:
            return None  # the usual pass says why, as it always has
        if any(_may_be_orphan(paths, batch_id) for batch_id in unfinished):
            return None
        try:
            return read_page(conn, limit)
        except sqlite3.Error as exc:
            raise translate_error(exc, path, DEFAULT_BUSY_TIMEOUT) from exc


def _may_be_orphan(paths: Paths, batch_id: str) -> bool:
    """Whether no live process holds the unfinished batch (or that cannot be told)."""
    try:
        return not is_owned_elsewhere(paths.lock_dir, batch_id)
    except StoreError:
        return True  # a lock file that cannot be made: recovery logs it and goes on


async def read_recovering(local: LocalSettings, limit: int) -> list[BatchSummary]:
    """The usual pass: the store opened, its orphans recovered (each named on stderr),
    the page read as models."""
    async with await open_history(local) as store:
        return await store.list_batches(limit=limit)
