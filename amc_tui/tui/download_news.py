"""DownloadNews: the downloader's updates told to the screens, and cut-short downloads resumed.

The app's :class:`~amc_tui.engine.downloads.ResultDownloader` calls back with a
:class:`~amc_tui.engine.downloads.DownloadUpdate` at most about ten times a second per
download; each is posted to every screen on the stack as a
:class:`~amc_tui.tui.messages.DownloadUpdated`.  When the app starts, the downloads a
crash or a quit cut short (left ``downloading`` in the store) go on where they stopped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from amc_tui.engine.download_progress import DownloadUpdate
from amc_tui.engine.downloads import ResultDownloader
from amc_tui.errors import AmcTuiError
from amc_tui.tui.messages import DownloadUpdated

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger(__name__)


class DownloadNews:
    """Connects one downloader to one app."""

    def __init__(self, app: App[int], downloads: ResultDownloader) -> None:
        self.app = app
        self.downloads = downloads
        downloads.add_listener(self.on_update)

    def on_update(self, update: DownloadUpdate) -> None:
        for screen in self.app.screen_stack:
            screen.post_message(DownloadUpdated(update))

    def resume_unfinished(self) -> None:
        """Finish, in a worker, the downloads a stop or a crash left unfinished."""
        self.app.run_worker(self._resume(), group="downloads-resume", exit_on_error=False)

    async def _resume(self) -> None:
        try:
            resumed = await self.downloads.resume_unfinished()
        except AmcTuiError as error:
            log.error("resuming result downloads: %s", error.log_text())
            return
        if resumed:
            log.info("resumed %d result downloads", len(resumed))
