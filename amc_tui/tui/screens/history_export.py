"""The history screen's two exports of a batch: its executions (``e``), its merged results (``m``).

Both ask for a file in the folder used last (remembered in the UI state), check the
name as it is typed, and ask before replacing an existing file.

- ``e`` writes the batch's executions table, CSV or JSON (:mod:`amc_tui.export`).
- ``m`` writes one CSV of every succeeded execution's result rows, ``instance_name``
  and ``instance_id`` first (:mod:`amc_tui.results_merge`).  What is missing of the
  results is downloaded first through the app's
  :class:`~amc_tui.engine.downloads.ResultDownloader`, a :class:`MergeProgress` line
  following the download (from :class:`~amc_tui.tui.messages.DownloadUpdated`).  The
  merge is refused, nothing written, for a batch that has not ended or has no succeeded
  execution, for a result that could not be downloaded, and for columns that differ
  (:mod:`amc_tui.results_plan` decides).  Read-only mode downloads nothing: it merges
  what is on disk if every result is there.

The merge runs in a worker of the app, not of the screen: once asked for, it ends (and
says so) even if the operator leaves the history meanwhile; it touches the screen's
progress line only while the screen is still up (:func:`taken_down`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.markup import escape
from textual.timer import Timer
from textual.widgets import Static

from amc_tui.engine.download_progress import DownloadUpdate
from amc_tui.engine.downloads import ResultOutcome
from amc_tui.errors import AmcTuiError, InputError, StoreError
from amc_tui.export import check_export_path, export_batch, export_path_problem, home_relative
from amc_tui.results_merge import check_merge_path, merge_results
from amc_tui.results_output import DownloadTally
from amc_tui.results_plan import (
    batch_problems,
    merge_problems,
    merge_sources,
    outcomes_on_disk,
    sentence,
    succeeded,
)
from amc_tui.tui.screens.base import AmcScreen, taken_down
from amc_tui.tui.screens.dialogs import ConfirmDialog, PromptScreen

log = logging.getLogger(__name__)

EXPORT_FOLDER_KEY = "history.export_folder"
"""The UI state's key of the folder the last export (either kind) went to."""
PROGRESS_EVERY = 0.25
"""Seconds between two redraws of the merge's progress line, at most."""


def shown_problem(text: str) -> str | None:
    """:func:`export_path_problem`, escaped: the prompt shows it as markup (a path may
    hold brackets)."""
    problem = export_path_problem(text)
    return None if problem is None else escape(problem)


def merge_path_problem(text: str) -> str | None:
    """What is wrong with ``text`` as the merged CSV (escaped), or None."""
    try:
        check_merge_path(text)
    except InputError as error:
        return escape(error.user_message)
    return None


async def ask_for_file(
    screen: AmcScreen, question: str, default: str, problem: Callable[[str], str | None]
) -> str | None:
    """The file name typed (checked as typed by ``problem``), or None if backed out."""
    return await screen.app.push_screen_wait(PromptScreen(question, value=default, check=problem))


async def overwrite_confirmed(screen: AmcScreen, path: Path) -> bool:
    """Whether the operator agrees to replace the existing file ``path``."""
    question = escape(f"{path} exists. Overwrite it?")
    answer: bool = await screen.app.push_screen_wait(ConfirmDialog(question, yes="Overwrite"))
    return answer


def default_file(screen: AmcScreen, name: str) -> str:
    return str(Path(screen.services.ui_state.get(EXPORT_FOLDER_KEY, "~")) / name)


# --- e: the executions ------------------------------------------------------------------


async def export_executions(screen: AmcScreen, batch_id: str) -> None:
    """Ask for a file name (checked as typed), ask before overwriting, then export."""
    question = f"Export {batch_id} to (.csv or .json):"
    default = default_file(screen, f"amc-tui-{batch_id}.csv")
    text = await ask_for_file(screen, question, default, shown_problem)
    if not text:
        return
    try:
        path = check_export_path(text, overwrite=True)
        overwrite = path.exists()
        if overwrite and not await overwrite_confirmed(screen, path):
            return
        batch = await screen.services.store.get_batch(batch_id)
        if batch is None:
            raise StoreError(f"There is no batch {batch_id} in the history")
        result = await asyncio.to_thread(export_batch, batch, path, overwrite=overwrite)
    except AmcTuiError as error:
        log.error("%s", error.log_text())
        screen.notify(error.user_message, title="Not exported", severity="error", markup=False)
        return
    screen.services.ui_state.set(EXPORT_FOLDER_KEY, home_relative(result.path.parent))
    screen.notify(f"Exported {result.rows} executions to {result.path}", markup=False)


# --- m: the merged results --------------------------------------------------------------


class MergeProgress(Static):
    """One line under the history table while a merge runs: downloads, bytes, then merge."""

    DEFAULT_CSS = """
    MergeProgress { height: 1; padding: 0 1; display: none; }
    """

    def __init__(self) -> None:
        super().__init__("", id="history-merge")
        self.tally: DownloadTally | None = None
        """The merge's downloads (None: no merge under way)."""
        self.batch_id: str | None = None
        """The batch being merged (None: no merge under way)."""
        self._changed = False
        self._timer: Timer | None = None

    @property
    def busy(self) -> bool:
        return self.batch_id is not None

    def reserve(self, batch_id: str) -> None:
        """A merge of ``batch_id`` is asked for (shown once :meth:`start` is called)."""
        self.batch_id = batch_id

    def start(self, batch_id: str, total: int) -> None:
        self.batch_id = batch_id
        self.tally = DownloadTally(batch_id, total)
        self.display = True
        self.draw()
        self._timer = self.set_interval(PROGRESS_EVERY, self.draw_if_changed)

    def take(self, update: DownloadUpdate) -> None:
        """Note a downloader update (drawn at the next tick, if it is this merge's)."""
        if self.tally is not None and self.tally.take(update):
            self._changed = True

    def draw_if_changed(self) -> None:
        if self._changed:
            self.draw()

    def draw(self) -> None:
        self._changed = False
        if self.tally is not None:
            self.update(Text(f"Results of {self.batch_id}: {self.tally.summary()}"))

    def merging(self, path: Path) -> None:
        self._stop_timer()
        self.update(Text(f"Merging the results of {self.batch_id} into {path}…"))

    def finish(self) -> None:
        self._stop_timer()
        self.batch_id, self.tally = None, None
        self.display = False

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None


def start_merge(screen: AmcScreen, batch_id: str) -> None:
    """Merge the batch's results (see the module docstring), one merge per screen."""
    progress = screen.query_one(MergeProgress)
    if progress.busy:
        screen.notify(
            f"The results of {progress.batch_id} are being merged; wait for it to end",
            severity="warning",
            markup=False,
        )
        return
    progress.reserve(batch_id)
    screen.app.run_worker(
        ResultsMerge(screen, batch_id).run(), group="history-merge", exit_on_error=False
    )


class Refused(Exception):
    """The merge cannot go on; the message says why (shown as it is)."""


class ResultsMerge:
    """One merge of one batch's results, asked for on ``screen``."""

    def __init__(self, screen: AmcScreen, batch_id: str) -> None:
        self.screen = screen
        self.batch_id = batch_id

    @property
    def progress(self) -> MergeProgress | None:
        """The screen's progress line, unless the screen has been taken down."""
        return None if taken_down(self.screen) else self.screen.query_one(MergeProgress)

    def notify_error(self, message: str) -> None:
        self.screen.app.notify(message, title="Not merged", severity="error", markup=False)

    async def run(self) -> None:
        try:
            await self.merge()
        except Refused as refused:
            self.notify_error(str(refused))
        except AmcTuiError as error:
            log.error("merging the results of %s: %s", self.batch_id, error.log_text())
            self.notify_error(error.user_message)
        except Exception:
            log.exception("merging the results of %s: unexpected error", self.batch_id)
            log_file = self.screen.amc_app.settings.paths.log_file
            self.notify_error(f"Unexpected error; details in {log_file}")
        finally:
            if (progress := self.progress) is not None and progress.batch_id == self.batch_id:
                progress.finish()

    async def merge(self) -> None:
        services = self.screen.services
        batch = await services.store.get_batch(self.batch_id)
        if batch is None:
            raise StoreError(f"There is no batch {self.batch_id} in the history")
        refuse_if(batch_problems(batch))
        on_disk: list[ResultOutcome] | None = None
        if services.downloads is None:  # read-only: what is on disk, or nothing
            results_dir = services.settings.paths.results_dir
            on_disk = await outcomes_on_disk(services.store, batch, results_dir)
            refuse_if(merge_problems(batch, on_disk))
        if taken_down(self.screen):
            return  # left before the question came: nothing was asked for
        question = f"Merge the results of {self.batch_id} into (.csv):"
        default = default_file(self.screen, f"{self.batch_id}-results.csv")
        text = await ask_for_file(self.screen, question, default, merge_path_problem)
        if not text:
            return
        path = check_merge_path(text)
        if path.exists() and not await overwrite_confirmed(self.screen, path):
            return
        if (progress := self.progress) is not None:
            progress.start(self.batch_id, len(succeeded(batch)))
        started = time.monotonic()
        if on_disk is not None:
            outcomes = on_disk
        else:
            assert services.downloads is not None
            outcomes = await services.downloads.download_batch(self.batch_id)
        refuse_if(merge_problems(batch, outcomes))
        if (progress := self.progress) is not None:
            progress.merging(path)
        result = await asyncio.to_thread(merge_results, merge_sources(outcomes), path)
        log.info(
            "merged %d rows of %s into %s in %.1f s",
            result.rows,
            self.batch_id,
            result.path,
            time.monotonic() - started,
        )
        services.ui_state.set(EXPORT_FOLDER_KEY, home_relative(result.path.parent))
        self.screen.app.notify(
            f"Merged {result.rows} rows from {len(outcomes)} instances into {result.path}",
            title="Results merged",
            markup=False,
        )


def refuse_if(problems: list[str]) -> None:
    """Raise :class:`Refused` with the first problem, if there is any."""
    if problems:
        raise Refused(sentence(problems[0], len(problems) - 1))
