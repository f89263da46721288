"""The messages the app posts to its screens (dataclass messages, as in ``posting``),
and the one it sends itself the way keys go (:class:`QuitAsked`).

The runner's events arrive as plain callbacks (:mod:`amc_tui.engine.events`); the app
applies each one to its :class:`~amc_tui.tui.live.LiveBatch` as it comes and tells
every screen which rows changed with :class:`BatchUpdated`, coalesced to at most 20
a second (:mod:`amc_tui.tui.updates`), so a dashboard redraws only those rows and never
polls the store for batches run here.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from amc_tui.engine.download_progress import DownloadUpdate


@dataclass
class BatchUpdated(Message):
    """The batch's live state changed: these executions' rows, and maybe its header.

    The rows hold their latest state already; a screen draws them as they are now.
    """

    batch_id: str
    execution_ids: frozenset[int]
    finished: bool = False


@dataclass
class DownloadUpdated(Message):
    """Where one execution's result download stands (the downloader's update, as is).

    Posted to every screen on the stack, at most about ten a second per download.
    """

    update: DownloadUpdate


class QuitAsked(Message):
    """``ctrl+q`` pressed, sent to the focused widget to bubble back up to the app.

    ``ctrl+q`` is a priority binding: the app acts on it as it reads it, before the keys
    read just before it have reached the focused widget and bubbled back up to the
    bindings they call.  Typed ahead, ``ctrl+s`` ``ctrl+q`` would quit before the launch
    began.  This message takes the way those keys took, behind them, so the app decides
    once they have been acted on.
    """

    def __init__(self) -> None:
        super().__init__()
        self.decided = False  # answered (it may come back late, after the app's fallback)
