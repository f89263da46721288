"""TuiServices: the store, AMC client, runner, downloads and catalog of one TUI session.

Opened once when the app mounts (in the app's own event loop, since the store's
worker answers on the loop that opened it) and closed when it unmounts.  In
``--read-only`` mode there is no AMC client, no runner and no downloader: the history and the
dashboards are read from the store only.  Nothing here imports textual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from amc_tui.domain import Instance, utc_now
from amc_tui.engine.downloads import ResultDownloader
from amc_tui.engine.instances import InstanceCatalog
from amc_tui.engine.recovery import open_recovered
from amc_tui.engine.retry import RetryPolicy
from amc_tui.engine.runner import BatchRunner
from amc_tui.settings import Settings
from amc_tui.store.history import HistoryStore
from amc_tui.tui.ui_state import UiState

if TYPE_CHECKING:
    from amc_tui.amc.client import AmcClient
    from amc_tui.amc.simulator import AmcSimulator

Clock = Callable[[], datetime]


@dataclass
class TuiServices:
    """What the screens use; see :meth:`open`."""

    settings: Settings
    store: HistoryStore
    catalog: InstanceCatalog
    ui_state: UiState
    client: AmcClient | None
    runner: BatchRunner | None
    clock: Clock
    downloads: ResultDownloader | None = None

    @property
    def read_only(self) -> bool:
        return self.runner is None

    @property
    def max_attempts(self) -> int:
        """Tries per create: the first one and ``max_retry_attempts`` retries."""
        return RetryPolicy.from_settings(self.settings.engine).max_attempts

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        read_only: bool = False,
        simulator: AmcSimulator | None = None,
        clock: Clock = utc_now,
    ) -> TuiServices:
        """Open the store (and, unless read-only, the AMC client and the runner)."""
        store, _ = await open_recovered(settings.paths.history_db, settings.paths.lock_dir)
        client: AmcClient | None = None
        runner: BatchRunner | None = None
        downloads: ResultDownloader | None = None
        try:
            if not read_only:
                from amc_tui.amc.connection import open_client_for

                client = open_client_for(settings, simulator)
                runner = BatchRunner(
                    store, client, settings.engine, lock_dir=settings.paths.lock_dir
                )
                downloads = ResultDownloader.for_settings(store, client, settings)
        except BaseException:
            if client is not None:
                await client.aclose()
            await store.close()
            raise
        return cls(
            settings=settings,
            store=store,
            catalog=InstanceCatalog.for_settings(store, settings),
            ui_state=UiState(settings.paths.state_file, settings.profile_name),
            client=client,
            runner=runner,
            clock=clock,
            downloads=downloads,
        )

    async def instances(self, *, refresh: bool = False) -> list[Instance]:
        """The profile's instances: cached, or asked of AMC (always when the cache is empty)."""
        if self.client is None:
            return await self.catalog.cached()
        return await self.catalog.load(self.client, refresh=refresh)

    async def close(self) -> None:
        """Stop the downloads (resumable), close the client and the store; safe twice."""
        if self.downloads is not None:
            downloads, self.downloads = self.downloads, None
            await downloads.stop()
        if self.client is not None:
            client, self.client = self.client, None
            with contextlib.suppress(Exception):
                await client.aclose()
        if not self.store.closed:
            await self.store.close()
