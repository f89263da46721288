"""Whether a batch's results can be merged, and from which files.

Shared by ``amc-tui results BATCH_ID --merge`` and the history screen's merge (``m``):
the problems that stop a merge (the batch has not ended, no execution succeeded, an
execution's results could not be had), the :class:`~amc_tui.results_merge.MergeSource`
of each succeeded execution, and, for read-only mode, which results are on disk
already (as the store records them and the disk still holds them; nothing is fetched).

Problems are short sentences starting in lower case, as the command line prints
them after ``amc-tui:``; :func:`sentence` makes one a notice.  Nothing here imports
Textual, and the downloader (with the HTTP client) is imported only when a function
needs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from amc_tui.domain import Batch, Execution, ExecutionStatus
from amc_tui.results_merge import MergeSource

if TYPE_CHECKING:
    from amc_tui.engine.downloads import ResultOutcome
    from amc_tui.store.history import HistoryStore
    from amc_tui.store.results import ResultSet

NOT_ON_DISK = "not on disk, and results cannot be downloaded in read-only mode"


def succeeded(batch: Batch) -> list[Execution]:
    """The executions that have results, in the batch's order."""
    return [ex for ex in batch.executions if ex.status is ExecutionStatus.SUCCEEDED]


def batch_problems(batch: Batch) -> list[str]:
    """What stops a merge before any result is asked for."""
    found = []
    if not batch.status.is_terminal:
        pending = sum(1 for ex in batch.executions if not ex.status.is_terminal)
        found.append(
            f"batch {batch.id} is {batch.status}; {pending} executions have no results yet"
        )
    if not succeeded(batch):
        found.append(f"no execution of batch {batch.id} succeeded; there are no results")
    return found


def download_problems(outcomes: Sequence[ResultOutcome]) -> list[str]:
    """One problem per execution whose results could not be had, naming its instance."""
    found = []
    for outcome in outcomes:
        if outcome.error is not None:
            ex = outcome.execution
            found.append(f"results of {ex.instance_name} ({ex.instance_id}): {outcome.error}")
    return found


def merge_problems(batch: Batch, outcomes: Sequence[ResultOutcome]) -> list[str]:
    """Everything that stops merging ``outcomes`` (empty: the merge may go ahead)."""
    return batch_problems(batch) + download_problems(outcomes)


def merge_sources(outcomes: Sequence[ResultOutcome]) -> list[MergeSource]:
    """Each execution's data files, by number, in the order of ``outcomes``."""
    return [
        MergeSource(
            o.execution.instance_name,
            o.execution.instance_id,
            [f.path for f in sorted(o.data_files, key=lambda f: f.number)],
        )
        for o in outcomes
    ]


def sentence(problem: str, more: int = 0) -> str:
    """``problem`` as a notice: a capital first letter, and how many other problems."""
    text = problem[:1].upper() + problem[1:]
    if more:
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return text


def outcome_on_disk(
    results_dir: Path, execution: Execution, results: ResultSet | None
) -> ResultOutcome:
    """The execution's result as it is on disk: downloaded if the store says so and
    every file it records is whole, else failed with :data:`NOT_ON_DISK`."""
    from amc_tui.engine.downloads import ResultOutcome
    from amc_tui.engine.result_files import downloaded_files, files_on_disk, result_directory
    from amc_tui.store.results import ResultStatus

    directory = result_directory(results_dir, execution)
    files = downloaded_files(results_dir, execution, results)
    if files is not None:
        return ResultOutcome(
            execution, ResultStatus.DOWNLOADED, directory, files, already_there=True
        )
    partial = files_on_disk(results_dir, execution, results)
    return ResultOutcome(execution, ResultStatus.FAILED, directory, partial, error=NOT_ON_DISK)


async def outcomes_on_disk(
    store: HistoryStore, batch: Batch, results_dir: Path
) -> list[ResultOutcome]:
    """Every succeeded execution's result as it is on disk (see :func:`outcome_on_disk`);
    the files are looked at in a thread (a stat per file)."""
    executions = succeeded(batch)
    sets = await store.results.of_executions([ex.id for ex in executions if ex.id is not None])

    def look() -> list[ResultOutcome]:
        return [
            outcome_on_disk(results_dir, ex, sets.get(ex.id) if ex.id is not None else None)
            for ex in executions
        ]

    return await asyncio.to_thread(look)
