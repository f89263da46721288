"""Simulator state file: executions outlive the process and are shared between processes.

Each "process" is a simulator with its own monotonic clock origin; all of them read one
shared wall clock (:class:`World`), which tests move forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sim_support import START_WALL, UK, US, Harness, quiet

from amc_tui.amc import simulator
from amc_tui.amc.connection import open_client_for, open_demo_client
from amc_tui.amc.simulator import SIMULATOR_BASE_URL, AmcSimulator, SimulatorConfig, persistence
from amc_tui.amc.simulator.stored import StoredFile
from amc_tui.domain import QuerySpec
from amc_tui.settings import load_settings


class World:
    """Real time, shared by every simulated process."""

    def __init__(self) -> None:
        self.elapsed = 0.0

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds

    def wall(self) -> datetime:
        return START_WALL + timedelta(seconds=self.elapsed)

    def monotonic(self, origin: float) -> Callable[[], float]:
        """A process's monotonic clock: its own origin, ticking with the world."""
        return lambda: origin + self.elapsed


class FileHarness(Harness):
    """A :class:`Harness` whose simulator keeps its executions in ``state_file``."""

    def __init__(
        self, state_file: Path, world: World, origin: float, config: SimulatorConfig
    ) -> None:
        self.sim = AmcSimulator(
            config,
            clock=world.monotonic(origin),
            wall_clock=world.wall,
            state_file=state_file,
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sim), base_url=SIMULATOR_BASE_URL
        )
        self.access_token = ""

    def ids(self) -> set[str]:
        return set(self.sim.executions)


Start = Callable[..., Awaitable[FileHarness]]


@pytest.fixture
def warnings_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The simulator's warnings, even after amc-tui's logging stopped propagation."""
    caplog.set_level(logging.WARNING, logger=persistence.log.name)
    persistence.log.addHandler(caplog.handler)
    yield caplog
    persistence.log.removeHandler(caplog.handler)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "simulator-state.json"


@pytest.fixture
async def start(world: World, state_path: Path) -> AsyncIterator[Start]:
    """Starts a "process": a logged-in simulator on the shared file, with its own clock."""
    made: list[FileHarness] = []

    async def factory(config: SimulatorConfig | None = None, path: Path | None = None) -> Any:
        origin = 10_000.0 * (len(made) + 1)  # monotonic readings differ between processes
        harness = FileHarness(path or state_path, world, origin, config or quiet())
        made.append(harness)
        await harness.login()
        return harness

    yield factory
    for harness in made:
        await harness.http.aclose()


def stored(path: Path) -> StoredFile:
    return StoredFile.model_validate_json(path.read_bytes())


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")


# --- across processes --------------------------------------------------------------


async def test_new_simulator_answers_for_executions_of_an_earlier_one(
    start: Start, world: World
) -> None:
    a = await start()
    first = await a.create_id()
    world.advance(10)
    second = await a.create_id(UK, sql="SELECT 1")
    world.advance(5)

    b = await start()
    assert b.ids() == {first, second}
    assert await b.status_of(first) == "PENDING"
    assert (await b.status(second, UK)).json()["workflow"] == {"sqlQuery": "SELECT 1"}
    assert (await b.status(second, US)).status_code == 404  # still on its own instance

    later = await b.list(US, minCreationTime=stamp(START_WALL + timedelta(seconds=1)))
    assert later.json()["executions"] == []
    window = {"minCreationTime": stamp(START_WALL), "maxCreationTime": stamp(START_WALL)}
    found = (await b.list(US, **window)).json()["executions"]
    assert [e["workflowExecutionId"] for e in found] == [first]
    assert found[0]["createTime"] == "2024-06-01T12:00:00Z"

    assert (await b.cancel(second, UK)).status_code == 200
    assert await b.status_of(second, UK) == "CANCELLED"
    assert await a.status_of(second, UK) == "CANCELLED"  # a sees b's cancel

    assert (await b.download_urls(first)).status_code == 404
    world.advance(100)
    assert await b.status_of(first) == "SUCCEEDED"
    answer = await b.download_urls(first)
    assert answer.status_code == 200, answer.text
    csv = await b.http.get(answer.json()["downloadUrls"][0])
    assert csv.status_code == 200
    assert csv.text.startswith("campaign,")


async def test_executions_progress_while_no_simulator_runs(start: Start, world: World) -> None:
    a = await start(quiet(instance_scripts={US: ["ok", "fail", "ok"]}))
    ids = [await a.create_id() for _ in range(3)]
    assert (await a.cancel(ids[2])).status_code == 200
    await a.http.aclose()

    world.advance(50)
    b = await start()
    assert [await b.status_of(i) for i in ids] == ["RUNNING", "RUNNING", "CANCELLED"]

    world.advance(60)  # 110 s after the creates: past the 100 s duration
    c = await start()
    statuses = [(await c.status(i)).json() for i in ids]
    assert [s["status"] for s in statuses] == ["SUCCEEDED", "FAILED", "CANCELLED"]
    assert statuses[0]["endTime"] == "2024-06-01T12:01:40Z"
    assert statuses[1]["failureReason"]
    assert statuses[2]["lastUpdatedTime"] == "2024-06-01T12:00:00Z"
    assert (await c.download_urls(ids[0])).status_code == 200


async def test_a_pending_cancel_keeps_its_wall_clock_time(start: Start, world: World) -> None:
    a = await start(quiet(cancel_delay=30.0))
    execution_id = await a.create_id()
    world.advance(10)
    assert (await a.cancel(execution_id)).status_code == 200
    world.advance(10)

    b = await start(quiet(cancel_delay=30.0))
    assert await b.status_of(execution_id) == "PENDING"
    world.advance(21)  # 41 s: the cancel asked at 10 s lands at 40 s
    body = (await b.status(execution_id)).json()
    assert body["status"] == "CANCELLED"
    assert body["endTime"] == "2024-06-01T12:00:40Z"


async def test_simulators_saving_alternately_keep_each_others_records(
    start: Start, state_path: Path
) -> None:
    a = await start()
    b = await start()
    made = [await a.create_id(), await b.create_id(UK), await a.create_id(), await b.create_id()]
    assert len(set(made)) == 4
    assert {e.execution_id for e in stored(state_path).executions} == set(made)
    assert (await a.cancel(made[1], UK)).status_code == 200
    assert (await b.cancel(made[0])).status_code == 200

    c = await start()
    assert c.ids() == set(made)
    assert await c.status_of(made[1], UK) == "CANCELLED"
    assert await c.status_of(made[0]) == "CANCELLED"
    assert await c.status_of(made[2]) == "PENDING"


async def test_a_simulator_sees_executions_made_after_it_started(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = await start()
    a = await start()
    execution_id = await a.create_id()
    assert execution_id not in b.ids()

    reads = 0
    real = StoredFile.model_validate_json

    def counting(data: bytes) -> StoredFile:
        nonlocal reads
        reads += 1
        return real(data)

    monkeypatch.setattr(StoredFile, "model_validate_json", counting)
    assert await b.status_of(execution_id) == "PENDING"
    listed = (await b.list(US)).json()["executions"]
    assert [e["workflowExecutionId"] for e in listed] == [execution_id]
    for _ in range(3):
        assert (await b.status(execution_id)).status_code == 200
    assert reads == 1  # read once, when the file had changed; not on every request

    await a.create_id()
    assert len((await b.list(US)).json()["executions"]) == 2
    assert reads == 2


async def test_ids_and_seqs_do_not_collide_after_reload(start: Start, state_path: Path) -> None:
    a = await start()
    early = [await a.create_id() for _ in range(3)]
    b = await start()  # same seed: its n-th create draws what a's n-th drew
    late = [await b.create_id() for _ in range(3)]
    assert len(set(early + late)) == 6

    both = [await start(), await start()]  # started together, same seed, same draws
    pair = [await both[0].create_id(), await both[1].create_id()]
    assert pair[0] != pair[1]

    seqs = [e.seq for e in stored(state_path).executions]
    assert seqs == list(range(1, 9))
    listed = (await b.list(US, sortAscending="true")).json()["executions"]
    assert [e["workflowExecutionId"] for e in listed] == early + late + pair


WORKER = """
import asyncio, json, sys
from pathlib import Path
from amc_tui.amc.connection import open_demo_client
from amc_tui.amc.simulator import AmcSimulator, SimulatorConfig
from amc_tui.domain import QuerySpec

async def main(path: Path, count: int, instance_id: str) -> None:
    sim = AmcSimulator(SimulatorConfig.reliable(), state_file=path)
    print("ready", flush=True)
    sys.stdin.readline()
    made = []
    async with open_demo_client(sim) as client:
        for _ in range(count):
            query = QuerySpec(workflow_id="reach-frequency")
            made.append((await client.create_execution(instance_id, query)).execution_id)
    print(json.dumps(made), flush=True)

asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""


async def test_two_processes_creating_at_once_lose_nothing(state_path: Path) -> None:
    count = 30
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            WORKER,
            str(state_path),
            str(count),
            US,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for worker in workers:  # a barrier: both have loaded the file before either creates
        assert worker.stdout is not None
        assert await asyncio.wait_for(worker.stdout.readline(), 60) == b"ready\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    outputs = [await asyncio.wait_for(worker.communicate(), 60) for worker in workers]
    made: list[str] = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()
        made.extend(json.loads(out))
    assert len(set(made)) == 2 * count  # same seed in both: ids made unique under the lock
    on_file = stored(state_path).executions
    assert sorted(e.execution_id for e in on_file) == sorted(made)
    assert sorted(e.seq for e in on_file) == list(range(1, 2 * count + 1))


# --- the file ------------------------------------------------------------------------


async def test_file_and_lock_are_private_and_written_whole(start: Start, state_path: Path) -> None:
    a = await start()
    assert not state_path.exists()  # nothing written until something changes
    await a.create_id()
    await a.create_id(UK)
    for path in (state_path, state_path.with_name("simulator-state.json.lock")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in state_path.parent.iterdir()) == [
        "simulator-state.json",
        "simulator-state.json.lock",
    ]
    assert stored(state_path).next_seq == 3


async def test_requests_that_change_nothing_do_not_write(start: Start, state_path: Path) -> None:
    a = await start(quiet(instance_scripts={US: ["sql_error"]}))
    assert (await a.create()).status_code == 400
    assert not state_path.exists()
    execution_id = await a.create_id()
    before = state_path.stat().st_ino
    assert (await a.cancel("no-such-execution")).status_code == 404
    assert (await a.status(execution_id)).status_code == 200
    assert state_path.stat().st_ino == before


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"version": 2, "executions": []}', b"\xff\xfe\x00garbage", b""],
)
async def test_a_damaged_file_is_set_aside_and_the_simulator_starts_empty(
    start: Start, state_path: Path, content: bytes, warnings_logged: pytest.LogCaptureFixture
) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_bytes(content)
    a = await start()
    assert a.ids() == set()
    aside = state_path.with_name("simulator-state.json.unreadable-20240601T120000")
    assert aside.read_bytes() == content
    assert not state_path.exists()
    assert "cannot be read" in warnings_logged.text

    execution_id = await a.create_id()
    assert [e.execution_id for e in stored(state_path).executions] == [execution_id]

    state_path.write_bytes(content)  # damaged again, in the same second
    b = await start()
    assert b.ids() == set()
    assert aside.read_bytes() == content  # the first one is not overwritten
    assert state_path.with_name(f"{aside.name}-1").read_bytes() == content


async def test_a_file_damaged_while_running_keeps_what_memory_knows(
    start: Start, state_path: Path
) -> None:
    a = await start()
    kept = await a.create_id()
    state_path.write_text("[]")
    assert await a.status_of(kept) == "PENDING"
    assert not state_path.exists()
    made = await a.create_id()
    assert {e.execution_id for e in stored(state_path).executions} == {kept, made}


async def test_an_unusable_location_leaves_the_simulator_in_memory(
    start: Start, tmp_path: Path, warnings_logged: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data dir should be")
    a = await start(path=blocker / "simulator-state.json")
    execution_id = await a.create_id()
    assert await a.status_of(execution_id) == "PENDING"
    assert "kept in memory only" in warnings_logged.text
    assert blocker.read_text() == "a file where the data dir should be"


async def test_expired_and_surplus_records_are_pruned(
    start: Start, world: World, state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = await start()
    old = await a.create_id()
    world.advance(timedelta(days=30, seconds=1).total_seconds())
    b = await start()
    assert b.ids() == set()
    assert (await b.status(old)).status_code == 404
    fresh = await b.create_id()
    assert [e.execution_id for e in stored(state_path).executions] == [fresh]

    monkeypatch.setattr(persistence, "MAX_RECORDS", 3)
    newer = [await b.create_id() for _ in range(3)]
    assert [e.execution_id for e in stored(state_path).executions] == newer
    assert b.ids() == set(newer)
    assert (await b.status(fresh)).status_code == 404


async def test_the_next_seq_outlives_pruned_records(start: Start, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text('{"version": 1, "next_seq": 50, "executions": []}')
    a = await start()
    await a.create_id()
    assert [e.seq for e in stored(state_path).executions] == [50]


# --- wiring --------------------------------------------------------------------------


async def test_demo_clients_share_the_state_file(state_path: Path) -> None:
    query = QuerySpec(workflow_id="reach-frequency")
    async with open_demo_client(state_file=state_path) as first:
        made = await first.create_execution(US, query)
    async with open_demo_client(state_file=state_path) as second:
        again = await second.get_execution(US, made.execution_id)
    assert again.execution_id == made.execution_id


async def test_demo_mode_keeps_the_simulator_state_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path | None] = []

    def recording(config: SimulatorConfig, *, state_file: Path | None = None) -> AmcSimulator:
        seen.append(state_file)
        return AmcSimulator(config)

    # connection.py imports the simulator's names when demo mode needs them.
    monkeypatch.setattr(simulator, "AmcSimulator", recording)
    settings = load_settings(demo=True, data_dir=tmp_path / "data", env={})
    async with open_client_for(settings):
        assert seen == [tmp_path / "data" / "simulator-state.json"]
    async with open_client_for(settings, AmcSimulator(quiet())):
        assert len(seen) == 1  # a given simulator is used as it is
