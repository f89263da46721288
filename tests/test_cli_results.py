"""`amc-tui results` as a real process against a real-port simulator.

The simulator runs with uvicorn in a thread of the test process, behind a small ASGI
app that can hold a result body half-way (so the test can kill the downloading
process with SIGKILL at a known byte) and that records the Range each request asked.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from engine_support import fast_simulator
from process_support import AMC_TUI, Home, amc_cli, home_on, read_rows

from amc_tui.amc.simulator import AmcSimulator
from amc_tui.amc.simulator.server import ThreadedServer

pytestmark = pytest.mark.socket

HOLD_AT = 100_000


@dataclass
class Gate:
    """In front of the simulator: holds result bodies after ``hold_at`` bytes while armed."""

    app: Any
    armed: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    ranges: list[str | None] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not scope.get("path", "").startswith("/sim-results/") or not scope["path"].endswith(
            ".csv"
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        self.ranges.append(headers.get("range"))
        hold = self.armed.is_set()
        sent = 0

        async def gated(message: Any) -> None:
            nonlocal sent
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if hold and sent + len(body) > HOLD_AT:
                keep = HOLD_AT - sent
                await send({"type": "http.response.body", "body": body[:keep], "more_body": True})
                sent = HOLD_AT
                self.holding.set()
                while True:  # until the client is killed and the server gives up on it
                    await asyncio.sleep(0.05)
            sent += len(body)
            await send(message)

        await self.app(scope, receive, gated)


@dataclass
class Served:
    home: Home
    gate: Gate
    batch_id: str
    json: dict[str, Any]

    def results(self, *args: str) -> subprocess.CompletedProcess[str]:
        return amc_cli("results", self.batch_id, *args, env=self.home.env)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    sim = AmcSimulator(fast_simulator(result_rows=3_000, result_files=2))
    gate = Gate(sim)
    with ThreadedServer(gate) as server:
        home = home_on(
            tmp_path, server.base_url, retry_delay_base=0.01, poll_interval_min=0.02,
            poll_interval_max=0.2,
        )  # fmt: skip
        sql = tmp_path / "q.sql"
        sql.write_text("SELECT campaign, SUM(impressions) FROM dsp_impressions GROUP BY 1\n")
        ids = [i.instance_id for i in sim.config.instances][:3]
        run = amc_cli("run", "--sql-file", str(sql), "--instances", ",".join(ids), "--json",
                      env=home.env)  # fmt: skip
        assert run.returncode == 0, run.stderr
        document = json.loads(run.stdout)
        yield Served(home, gate, document["batch_id"], document)


def file_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_results_are_downloaded_recorded_and_merged(served: Served, tmp_path: Path) -> None:
    merged = tmp_path / "merged.csv"
    done = served.results("--merge", str(merged), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # stdout holds the JSON and nothing else
    assert document["batch_id"] == served.batch_id and document["error"] is None
    executions = document["executions"]
    assert len(executions) == 3 and {e["results"] for e in executions} == {"downloaded"}
    expected: list[list[str]] = []
    for execution in executions:
        data = [f for f in execution["files"] if f["kind"] == "data"]
        assert len(data) == 2
        for file in data:
            path = Path(file["path"])
            assert path.parent == (
                served.home.data_dir / "results" / served.batch_id / execution["instance_id"]
            )
            assert hashlib.sha256(path.read_bytes()).hexdigest() == file["sha256"]
            assert path.stat().st_size == file["size"]
            rows = file_rows(path)
            expected += [
                [execution["instance_name"], execution["instance_id"], *r] for r in rows[1:]
            ]
    assert document["merged"]["rows"] == len(expected) == 3 * 2 * 3_000
    assert file_rows(merged)[1:] == expected
    assert file_rows(merged)[0][:2] == ["instance_name", "instance_id"]
    assert f"merged {len(expected)} rows" in done.stderr

    stored = read_rows(
        served.home.db, "SELECT status, size, sha256 FROM result_files WHERE kind = 'data'"
    )
    assert len(stored) == 6 and {r[0] for r in stored} == {"done"}

    before = len(served.gate.ranges)
    again = served.results("--json")  # nothing is fetched twice
    assert again.returncode == 0
    assert len(served.gate.ranges) == before == 6


def test_a_process_killed_mid_file_resumes_where_it_stopped(served: Served) -> None:
    served.gate.armed.set()
    proc = subprocess.Popen(
        [*AMC_TUI, "results", served.batch_id],
        env=served.home.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert served.gate.holding.wait(60)
        parts = served.home.data_dir / "results" / served.batch_id
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size == HOLD_AT for p in parts.glob("*/*.part")):
            assert time.monotonic() < deadline, [
                (p.name, p.stat().st_size) for p in parts.glob("*/*")
            ]
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    served.gate.armed.clear()
    # Every download in flight was held at the same byte: one or more parts reached it.
    held = [p for p in parts.glob("*/*.part") if p.stat().st_size == HOLD_AT]
    wholes = [part.with_name(part.name.removesuffix(".part")) for part in held]
    assert held and not any(whole.exists() for whole in wholes)
    states = read_rows(served.home.db, "SELECT status FROM result_files WHERE status != 'done'")
    assert ("downloading",) in states

    done = served.results("--json")
    assert done.returncode == 0, done.stderr
    assert served.gate.ranges.count(f"bytes={HOLD_AT}-") >= len(held)
    document = json.loads(done.stdout)
    recorded = {f["path"]: f["sha256"] for e in document["executions"] for f in e["files"]}
    for part, whole in zip(held, wholes, strict=True):
        assert whole.exists() and not part.exists()
        assert hashlib.sha256(whole.read_bytes()).hexdigest() == recorded[str(whole)]
        assert len(file_rows(whole)) == 3_001


def test_columns_that_differ_stop_the_merge_and_name_the_instance(
    served: Served, tmp_path: Path
) -> None:
    downloaded = served.results("--json")
    assert downloaded.returncode == 0
    document = json.loads(downloaded.stdout)
    odd = document["executions"][1]
    path = Path(odd["files"][0]["path"])
    data = path.read_bytes()
    path.write_bytes(data.replace(b"campaign,", b"CAMPAIGN,", 1))  # same size: kept as is

    merged = tmp_path / "merged.csv"
    refused = served.results("--merge", str(merged), "--json")
    assert refused.returncode == 1
    error = json.loads(refused.stdout)["error"]
    assert f"{odd['instance_name']} ({odd['instance_id']})" in error
    assert "lacks campaign" in error and "adds CAMPAIGN" in error
    assert error in refused.stderr
    assert not merged.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch_nosuchbatch"], "No batch 'batch_nosuchbatch' in the history"),
        (["BATCH", "--merge", "/no/such/folder/m.csv"], "does not exist"),
        (["BATCH", "--merge", "out.json"], "must end in .csv"),
    ],
)
def test_bad_input_is_refused_before_anything_is_downloaded(
    served: Served, args: list[str], message: str
) -> None:
    args = [served.batch_id if a == "BATCH" else a for a in args]
    done = amc_cli("results", *args, env=served.home.env)
    assert done.returncode == 2
    assert message in done.stderr and done.stdout == ""
    assert not (served.home.data_dir / "results").exists()
    assert served.gate.ranges == []


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_keeps_what_was_downloaded(
    served: Served, signum: signal.Signals, code: int
) -> None:
    served.gate.armed.set()
    proc = subprocess.Popen(
        [*AMC_TUI, "results", served.batch_id],
        env=served.home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert served.gate.holding.wait(60)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code
    assert f"amc-tui results {served.batch_id} fetches the rest" in err
    states = read_rows(served.home.db, "SELECT DISTINCT status FROM result_sets")
    assert states == [("downloading",)]  # resumable, not failed
