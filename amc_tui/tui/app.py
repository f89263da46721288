"""AmcApp: the Textual application.  It owns the services and routes engine events.

The app opens :class:`~amc_tui.tui.services.TuiServices` when it mounts, runs each
batch in a Textual worker (group ``batches``) driving the shared
:class:`~amc_tui.engine.runner.BatchRunner` (:class:`~amc_tui.tui.batch_runs.BatchRuns`),
and turns the runner's events into messages: it keeps one
:class:`~amc_tui.tui.live.LiveBatch` per batch it shows, applies each event to it as it
comes, and tells the screens which rows changed, at most 20 times a second
(:class:`~amc_tui.tui.updates.LiveUpdates`, :class:`~amc_tui.tui.screen_news.ScreenNews`).
Screens call the methods here to launch, resume, cancel and open batches; they never
drive the runner themselves.

Quitting while a batch runs asks first (cancel it, leave it running on AMC, or stay:
:mod:`~amc_tui.tui.quitting`);
batches left ``interrupted`` by an earlier run are offered for resume on start.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import Screen

from amc_tui.domain import Batch, BatchStatus, Instance, QuerySpec, utc_now
from amc_tui.engine.locks import is_owned_elsewhere
from amc_tui.errors import AmcTuiError
from amc_tui.settings import Settings
from amc_tui.tui.batch_runs import BatchRuns
from amc_tui.tui.collector import CollectorTuning
from amc_tui.tui.download_news import DownloadNews
from amc_tui.tui.live import LiveBatch
from amc_tui.tui.messages import QuitAsked
from amc_tui.tui.quitting import Quitting
from amc_tui.tui.screen_news import ScreenNews, is_visible
from amc_tui.tui.services import Clock, TuiServices
from amc_tui.tui.stop_signals import StopSignals
from amc_tui.tui.updates import LiveUpdates

if TYPE_CHECKING:
    from amc_tui.tui.screens.history import HistoryScreen

log = logging.getLogger(__name__)


class AmcApp(App[int]):
    """amc-tui's terminal UI."""

    CSS_PATH = "app.tcss"
    TITLE = "amc-tui"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("question_mark", "help", "Keys", id="help"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        read_only: bool = False,
        simulator: object | None = None,
        clock: Clock = utc_now,
        offer_resume: bool = True,
        handle_signals: bool = False,
    ) -> None:
        super().__init__()
        self._stop_signals = StopSignals(self._stop_on_signal) if handle_signals else None
        self.settings = settings
        self.read_only = read_only
        self._simulator = simulator
        self._clock = clock
        self._offer_resume = offer_resume
        self._services: TuiServices | None = None
        self.terminal_lent = False
        """A pager (or another program) has the terminal: the app is suspended."""
        self.live: dict[str, LiveBatch] = {}
        self.runs = BatchRuns(self)
        self.quitting = Quitting(self)
        self.news = ScreenNews(self)
        self.updates = LiveUpdates(
            self.live, now=self.now, tell=self.news.tell, announce=self.runs.announce_later
        )
        self.collector = CollectorTuning()
        self.startup_error: AmcTuiError | None = None
        self.sub_title = _subtitle(settings, read_only)

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this platform; on Linux, one that survives a lost
        terminal (see :mod:`amc_tui.tui.terminal`)."""
        driver_class = super().get_driver_class()
        linux = sys.modules.get("textual.drivers.linux_driver")
        if linux is not None and driver_class is linux.LinuxDriver:
            from amc_tui.tui.terminal import SafeLinuxDriver

            return SafeLinuxDriver
        return driver_class

    # --- services ---------------------------------------------------------------------

    @property
    def services(self) -> TuiServices:
        if self._services is None:
            raise RuntimeError("the app's services are not open yet")
        return self._services

    @property
    def ready(self) -> bool:
        """Whether the services are open (screens may use them)."""
        return self._services is not None

    def now(self) -> datetime:
        """The current time (a fixed clock in tests and screenshots)."""
        return self._clock()

    async def on_mount(self) -> None:
        from amc_tui.amc.simulator import AmcSimulator

        if self._stop_signals is not None:
            self._stop_signals.install()

        simulator = self._simulator if isinstance(self._simulator, AmcSimulator) else None
        try:
            self._services = await TuiServices.open(
                self.settings, read_only=self.read_only, simulator=simulator, clock=self._clock
            )
        except AmcTuiError as error:
            log.error("%s", error.log_text())
            self.startup_error = error
            self.exit(3)
            return
        if self.services.runner is not None:
            self.services.runner.events.add_listener(self.updates.on_event)
        if self.services.downloads is not None:
            DownloadNews(self, self.services.downloads).resume_unfinished()
        self.screen_change_signal.subscribe(self, self.news.screen_changed)
        self.app_suspend_signal.subscribe(self, self._terminal_lent, immediate=True)
        self.app_resume_signal.subscribe(self, self._terminal_back, immediate=True)
        from amc_tui.tui.screens.instances import InstancesScreen

        if self.read_only:
            await self.push_screen(await self.history_screen())
        else:
            await self.push_screen(InstancesScreen())
            if self._offer_resume:
                await self.offer_resume()
        self.collector.start()  # see CollectorTuning: no long pauses under load

    def _terminal_lent(self, _app: App[int]) -> None:
        self.terminal_lent = True

    def _terminal_back(self, _app: App[int]) -> None:
        self.terminal_lent = False

    def bell(self) -> None:
        """No bell while a pager has the terminal: nothing may be written then."""
        if not self.terminal_lent:
            super().bell()

    def _stop_on_signal(self, code: int) -> None:
        self.exit(return_code=code)

    async def on_unmount(self) -> None:
        if self._stop_signals is not None:
            self._stop_signals.remove()
        self.updates.close()
        self.collector.stop()
        if self._services is None:
            return
        # Textual has cancelled the workers by now: each run still writes its end.
        await self.runs.leave_all()
        await self._services.close()

    # --- engine events ----------------------------------------------------------------

    # The runner calls self.updates.on_event for each event (see LiveUpdates), which
    # tells the screens through self.news (see ScreenNews), and self.runs announces
    # the end of each batch (see BatchRuns).

    def is_visible(self, screen: Screen[object]) -> bool:
        """Whether ``screen`` can be seen: on top, or under see-through screens only."""
        return is_visible(self, screen)

    # --- batches ----------------------------------------------------------------------

    async def track(self, batch_id: str) -> LiveBatch | None:
        """The batch's live state, read from the store if not yet known."""
        return await self.runs.track(batch_id)

    async def launch(self, batch: Batch) -> None:
        """Store a validated new batch, start running it, and show its dashboard."""
        if self.read_only:
            self.notify("Read-only: batches cannot be launched", severity="error")
            return
        stored = await self.runs.start_new(batch)
        await self.open_batch(stored.id)

    async def resume(self, batch_id: str) -> bool:
        """Resume an interrupted batch here; False (and a message) if it cannot be."""
        return await self.runs.resume(batch_id)

    async def cancel(self, batch_id: str) -> None:
        """Cancel the batch: here, through the store for another process, or settle it."""
        await self.runs.cancel(batch_id)

    async def open_batch(self, batch_id: str) -> None:
        """Show the batch's dashboard (live if it runs here or elsewhere)."""
        from amc_tui.tui.screens.dashboard import DashboardScreen

        if await self.track(batch_id) is None:
            self.notify(f"No batch {batch_id} in the history", severity="error", markup=False)
            return
        await self.push_screen(DashboardScreen(batch_id))

    async def new_batch(
        self,
        instances: list[Instance],
        *,
        query: QuerySpec | None = None,
        name: str = "",
    ) -> None:
        """Open the confirm screen for these instances (a query given for a rerun)."""
        from amc_tui.tui.screens.confirm import ConfirmScreen

        if self.read_only:
            self.notify("Read-only: batches cannot be launched", severity="error")
            return
        await self.push_screen(ConfirmScreen(instances, query=query, name=name))

    async def rerun(self, batch_id: str, *, only_failed: bool) -> None:
        """A new batch with the same query, on all or only the failed instances."""
        if self.read_only:
            self.notify("Read-only: batches cannot be launched", severity="error")
            return
        batch = await self.services.store.get_batch(batch_id)
        if batch is None:
            self.notify(f"No batch {batch_id} in the history", severity="error", markup=False)
            return
        wanted = (
            [ex for ex in batch.executions if ex.status.value in ("FAILED", "UNKNOWN")]
            if only_failed
            else batch.executions
        )
        if not wanted:
            self.notify("No failed executions to retry", severity="warning")
            return
        known = {i.uuid: i for i in await self.services.instances()}
        instances = [known[ex.instance_uuid] for ex in wanted if ex.instance_uuid in known]
        gone = len(wanted) - len(instances)
        if gone:
            self.notify(
                f"{gone} instance(s) are no longer in the profile; left out", severity="warning"
            )
        if not instances:
            return
        suffix = "retry failed" if only_failed else "rerun"
        name = f"{batch.name or batch.id} ({suffix})"[:200]
        await self.new_batch(instances, query=batch.query, name=name)

    async def offer_resume(self) -> None:
        """Offer the batches an earlier run left ``interrupted``."""
        interrupted = await self.services.store.list_batches(
            status=BatchStatus.INTERRUPTED, limit=50
        )
        free = [
            s for s in interrupted if not is_owned_elsewhere(self.settings.paths.lock_dir, s.id)
        ]
        if not free:
            return
        from amc_tui.tui.screens.dialogs import ResumeOfferScreen

        def chosen(batch_ids: list[str] | None) -> None:
            if batch_ids:
                self.run_worker(self._resume_many(batch_ids), group="ui")

        await self.push_screen(ResumeOfferScreen(free), chosen)

    async def _resume_many(self, batch_ids: list[str]) -> None:
        started = [b for b in batch_ids if await self.resume(b)]
        if len(started) == 1:
            await self.open_batch(started[0])
        elif started:
            self.notify(f"Resumed {len(started)} batches; see the history")

    # --- actions ----------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit; while batches run here (or were just launched), ask what to do with
        them first (:mod:`~amc_tui.tui.quitting`)."""
        self.quitting.ask()

    async def on_quit_asked(self, message: QuitAsked) -> None:
        await self.quitting.decide(message)

    async def action_help(self) -> None:
        from amc_tui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        await self.push_screen(HelpScreen(self.screen))

    async def action_history(self) -> None:
        from amc_tui.tui.screens.history import HistoryScreen

        if not isinstance(self.screen, HistoryScreen):
            await self.push_screen(await self.history_screen())

    async def history_screen(self) -> HistoryScreen:
        """A history screen with its first page read already, so that its first frame
        shows the rows (one frame, not "Loading…" then the rows).  If the read fails,
        the screen reads again itself and shows the error."""
        from amc_tui.tui.screens.history import PAGE_SIZE, HistoryScreen

        try:
            page = await self.services.store.list_batches(limit=PAGE_SIZE)
        except AmcTuiError:
            return HistoryScreen()
        return HistoryScreen(first_page=page)

    async def action_new_batch(self) -> None:
        """Back to the instances screen (the start of a new batch)."""
        from amc_tui.tui.screens.instances import InstancesScreen

        if self.read_only:
            self.notify("Read-only: batches cannot be launched", severity="error")
            return
        while len(self.screen_stack) > 2 and not isinstance(self.screen, InstancesScreen):
            self.pop_screen()

    async def action_resume_interrupted(self) -> None:
        await self.offer_resume_or_say()

    async def offer_resume_or_say(self) -> None:
        if self.read_only:
            self.notify("Read-only: batches cannot be resumed", severity="error")
            return
        before = len(self.screen_stack)
        await self.offer_resume()
        if len(self.screen_stack) == before:
            self.notify("No interrupted batches to resume")

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield SystemCommand("New batch", "Pick instances for a new batch", self.action_new_batch)
        yield SystemCommand("History", "Every batch, newest first", self.action_history)
        yield SystemCommand(
            "Resume", "Resume batches left interrupted", self.action_resume_interrupted
        )
        yield SystemCommand("Keys", "The keys of this screen", self.action_help)
        yield from super().get_system_commands(screen)


def _subtitle(settings: Settings, read_only: bool) -> str:
    parts = ["demo (simulator)" if settings.demo else f"profile {settings.profile_name}"]
    if read_only:
        parts.append("read-only")
    return " · ".join(parts)


def run_app(settings: Settings, *, read_only: bool = False) -> int:
    """Run the TUI until it exits; its exit code (3 if it could not start)."""
    app = AmcApp(settings, read_only=read_only, handle_signals=True)
    code = app.run()
    if app.startup_error is not None:
        raise app.startup_error
    return code if isinstance(code, int) else (app.return_code or 0)
