"""Helpers for the results tests: an engine env with a downloader, and an ASGI wrapper
in front of the simulator that watches result-file requests and breaks some of them.

Faults are made by the wrapper (a real ASGI app between the client and the
simulator), never by patching the downloader.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine_support import EngineEnv, fast_engine, fast_simulator, make_env

from amc_tui.amc.simulator import AmcSimulator
from amc_tui.domain import Batch, Execution, ExecutionStatus
from amc_tui.engine.download_progress import DownloadUpdate
from amc_tui.engine.downloads import ResultDownloader
from amc_tui.engine.retry import RetryPolicy
from amc_tui.settings import EngineSettings
from amc_tui.store.history import HistoryStore

RESULTS_PREFIX = "/sim-results/"


@dataclass
class Seen:
    """One result-file request as the server got it."""

    path: str
    headers: dict[str, str]


@dataclass
class ResultFaults:
    """An ASGI app in front of the simulator that can break result-file requests.

    - ``refuse``: the next N result GETs answer 403 (an expired link).
    - ``cut_after``: the next ``cuts`` result GETs end after this many body bytes.
    """

    app: Any
    seen: list[Seen] = field(default_factory=list)
    url_requests: int = 0
    refuse: int = 0
    unavailable: int = 0
    cuts: int = 0
    cut_after: int = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if path.endswith("/downloadUrls"):
            self.url_requests += 1
        if not path.startswith(RESULTS_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        self.seen.append(Seen(path, headers))
        if self.refuse or self.unavailable:
            status = 403 if self.refuse else 503
            if self.refuse:
                self.refuse -= 1
            else:
                self.unavailable -= 1
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b"<Error/>", "more_body": False})
            return
        limit: int | None = None
        if self.cuts:
            self.cuts -= 1
            limit = self.cut_after
        await self.app(scope, receive, self._sender(send, limit))

    def _sender(self, send: Any, limit: int | None) -> Callable[[Any], Any]:
        sent = 0
        ended = False

        async def wrapped(message: Any) -> None:
            nonlocal sent, ended
            if ended:
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body = message.get("body", b"")
            if limit is not None and sent + len(body) >= limit:
                keep = max(0, limit - sent)
                ended = True
                await send({"type": "http.response.body", "body": body[:keep], "more_body": False})
                return
            sent += len(body)
            await send(message)

        return wrapped


@dataclass
class ResultsEnv:
    env: EngineEnv
    faults: ResultFaults
    results_dir: Path
    updates: list[DownloadUpdate] = field(default_factory=list)

    @property
    def store(self) -> HistoryStore:
        return self.env.store

    def downloader(self, engine: EngineSettings | None = None, **kwargs: Any) -> ResultDownloader:
        engine = engine or fast_engine()
        kwargs.setdefault("lock_dir", self.env.lock_dir)
        kwargs.setdefault("retry", RetryPolicy(max_attempts=4, delay_base=0.001))
        kwargs.setdefault("progress_interval", 0.0)
        downloader = ResultDownloader(
            self.env.store, self.env.client, self.results_dir, engine, **kwargs
        )
        downloader.add_listener(self.updates.append)
        return downloader

    async def finished_batch(self, n: int) -> Batch:
        """A batch of ``n`` instances run to its end on the simulator."""
        batch = await self.env.new_batch(n)
        return await self.env.runner().run(batch.id)

    async def succeeded(self, n: int = 1) -> list[Execution]:
        batch = await self.finished_batch(n)
        done = [ex for ex in batch.executions if ex.status is ExecutionStatus.SUCCEEDED]
        assert len(done) == n, [ex.status for ex in batch.executions]
        return done

    def result_gets(self) -> list[Seen]:
        return [s for s in self.faults.seen if s.path.endswith(".csv")]


async def make_results_env(tmp_path: Path, store: HistoryStore, **sim_knobs: Any) -> ResultsEnv:
    holder: dict[str, ResultFaults] = {}

    def wrap(sim: AmcSimulator) -> ResultFaults:
        holder["faults"] = ResultFaults(sim)
        return holder["faults"]

    env = await make_env(tmp_path, store, fast_simulator(**sim_knobs), wrap=wrap)
    return ResultsEnv(env, holder["faults"], tmp_path / "data" / "results")


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
