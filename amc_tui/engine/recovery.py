"""Finding the batches a dead process left behind, and marking them ``interrupted``.

Every process that runs a batch holds its lock (:mod:`amc_tui.engine.locks`) from
the moment the batch is stored until it ends, and the kernel drops the lock when
the process dies, however it dies.  So at start-up a batch stored ``pending`` or
``running`` whose lock can be taken has no owner: its process was killed, lost
power or crashed.  :func:`recover_orphans` marks each such batch ``interrupted``
(its SUBMITTING executions UNKNOWN), holding the lock while it writes, so that
history shows the truth and ``amc-tui resume`` (or the TUI's offer) can finish it.
A batch whose lock is held is left alone, however old it is.
"""

from __future__ import annotations

import logging
from pathlib import Path

from amc_tui.domain import BatchSummary
from amc_tui.engine.locks import BatchBusyError, BatchLock
from amc_tui.errors import StoreError
from amc_tui.store.history import HistoryStore

log = logging.getLogger(__name__)


async def recover_orphans(store: HistoryStore, lock_dir: Path) -> list[BatchSummary]:
    """Mark every unfinished batch nobody holds ``interrupted``; return those marked.

    Batches run by a live process (this one included) are skipped.  A lock file that
    cannot be made or taken (a read-only lock dir, say) skips that batch with a log
    line: recovery never stops a command from starting.
    """
    recovered: list[BatchSummary] = []
    for batch_id in await store.unfinished_batch_ids():
        lock = BatchLock(lock_dir, batch_id)
        try:
            lock.acquire()
        except BatchBusyError:
            continue  # a live process runs it
        except StoreError as error:
            log.warning("cannot check batch %s for an owner: %s", batch_id, error.log_text())
            continue
        try:
            summary = await store.mark_interrupted(batch_id)
        finally:
            lock.release()
        if summary is not None:
            log.warning("batch %s: its process is gone; marked interrupted", batch_id)
            recovered.append(summary)
    return recovered


async def open_recovered(
    history_db: Path, lock_dir: Path
) -> tuple[HistoryStore, list[BatchSummary]]:
    """Open the history store and recover its orphans (every command starts here).

    A store error while recovering is logged and the store is returned all the same:
    the command then meets the error itself, with its own message, if it writes.
    """
    store = await HistoryStore.open(history_db)
    try:
        recovered = await recover_orphans(store, lock_dir)
    except StoreError as error:
        log.warning("could not check for interrupted batches: %s", error.log_text())
        recovered = []
    except BaseException:
        await store.close()
        raise
    return store, recovered
