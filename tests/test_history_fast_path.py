"""``amc-tui history`` reads the store without its models, and says exactly the same.

The command reads the history page as plain rows (:mod:`amc_tui.store.summaries`)
through a connection opened on its own thread (:mod:`amc_tui.store.opening`), so that
it starts without pydantic or asyncio (issue 6).  These tests hold that quick pass to
the models' answers, byte for byte, over a history made to be awkward: every batch
status, unicode, control and bidi characters in names, no executions and thousands,
missing and odd times.  They also hold the opening to the store's own checks on every
kind of bad file, and show when the command falls back to the usual pass (a batch to
recover) and when it does not (a batch a live process runs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from store_support import digest, latest_migration_number

from amc_tui import history_command, output
from amc_tui.cli import EXIT_CONFIG, main
from amc_tui.domain import BatchSummary, ExecutionStatus, QuerySpec
from amc_tui.engine.locks import BatchLock
from amc_tui.errors import StoreError
from amc_tui.store import HistoryStore, queries, summaries
from amc_tui.store.codec import from_db_time, query_to_json
from amc_tui.store.opening import open_connection

QUERY = query_to_json(QuerySpec(sql="SELECT 1"))

# (id, name, status, created_at, started_at, finished_at, execution statuses)
BATCHES: list[tuple[str, str, str, str, str | None, str | None, list[str]]] = [
    ("batch_Empty000", "", "completed", "2024-01-01T00:00:00.000000Z", None, None, []),
    (
        "batch_Unicode0",
        "Ünïcødé 日本語 🚀 naïve — report",
        "partial",
        "2024-01-02T10:11:12.131415Z",
        "2024-01-02T10:11:13.000000Z",
        "2024-01-05T13:14:15.999999Z",
        ["SUCCEEDED", "FAILED", "CANCELLED", "SUCCEEDED"],
    ),
    (
        "batch_Control0",
        "\x1b[31mred\x1b[0m\ttab\nnew line\x7f\x85",
        "failed",
        "2024-01-03T00:00:00.000000Z",
        "2024-01-03T00:00:01.000000Z",
        "2024-01-03T00:00:00.500000Z",  # before it started: clocks moved
        ["FAILED", "FAILED"],
    ),
    (
        "batch_Bidi0000",
        "\u202eevil\u200b\u2066name\ufeff",
        "cancelled",
        "2024-01-04T00:00:00.000000Z",
        None,
        "2024-01-04T02:03:04.000000Z",  # never started: counted from creation
        ["CANCELLED", "QUEUED", "UNKNOWN"],
    ),
    (
        "batch_Running0",
        "still running",
        "running",
        "2024-01-05T00:00:00.000000Z",
        "2024-01-05T00:00:02.000000Z",
        None,
        ["QUEUED", "SUBMITTING", "PENDING", "RUNNING", "SUCCEEDED"],
    ),
    ("batch_Pending0", "x" * 200, "pending", "2024-01-06T00:00:00.000000Z", None, None, ["QUEUED"]),
    (
        "batch_Interrupt",
        "interrupted one",
        "interrupted",
        "2024-01-07T00:00:00.000000Z",
        "2024-01-07T00:00:00.000000Z",
        None,
        ["UNKNOWN", "SUCCEEDED", "QUEUED"],
    ),
    (
        "batch_Big00000",
        "big one",
        "completed",
        "2024-01-08T23:59:59.999999Z",
        "2024-01-08T23:59:59.999999Z",
        "2024-01-12T03:00:00.000000Z",
        ["SUCCEEDED"] * 2400 + ["FAILED"] * 7 + ["CANCELLED"] * 93,
    ),
    (
        "batch_Same0000",  # the same creation time as the next: ordered by id
        "twin a",
        "completed",
        "2024-01-09T00:00:00.000000Z",
        "2024-01-09T00:00:00.000000Z",
        "2024-01-09T00:00:45.400000Z",
        ["SUCCEEDED"],
    ),
    (
        "batch_Same0001",
        "twin b",
        "completed",
        "2024-01-09T00:00:00.000000Z",
        "2024-01-09T00:00:00.000000Z",
        "2024-01-09T01:00:00.000000Z",
        ["SUCCEEDED"],
    ),
    (
        "batch_Naive000",  # no zone suffix: taken as UTC by both readers
        "naive times",
        "failed",
        "2024-01-10T05:06:07",
        "2024-01-10T05:06:08",
        "2024-01-10T05:16:08+02:00",
        ["FAILED"],
    ),
]

UNFINISHED = {b[0] for b in BATCHES if b[2] in ("pending", "running")}


def fill(path: Path) -> None:
    """A history file made and migrated by the real store, holding :data:`BATCHES`."""

    async def create() -> None:
        await (await HistoryStore.open(path)).close()

    asyncio.run(create())
    conn = sqlite3.connect(path)
    with conn:
        for batch_id, name, status, created, started, finished, statuses in BATCHES:
            conn.execute(
                "INSERT INTO batches (id, name, profile, status, query, max_concurrency, "
                "created_at, started_at, finished_at) VALUES (?, ?, 'demo', ?, ?, 5, ?, ?, ?)",
                (batch_id, name, status, QUERY, created, started, finished),
            )
            conn.executemany(
                "INSERT INTO executions (batch_id, instance_uuid, instance_id, instance_name, "
                "status, created_at, updated_at) VALUES (?, ?, ?, '', ?, ?, ?)",
                [
                    (batch_id, str(uuid.uuid4()), f"amc{k}", s, created, created)
                    for k, s in enumerate(statuses)
                ],
            )
    conn.close()


@pytest.fixture
def history(data_dir: Path) -> Path:
    """The data dir, its history filled with :data:`BATCHES`."""
    fill(data_dir / "history.db")
    return data_dir


@pytest.fixture
def conn(history: Path) -> Iterator[sqlite3.Connection]:
    opened, _ = open_connection(history / "history.db")
    yield opened
    opened.close()


def models(path: Path, limit: int) -> list[BatchSummary]:
    """What the store (and the TUI) reads: the page as models."""

    async def read() -> list[BatchSummary]:
        async with await HistoryStore.open(path) as store:
            return await store.list_batches(limit=limit)

    return asyncio.run(read())


# --- the rows ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, len(BATCHES), 100])
def test_plain_rows_hold_the_models_values(conn: sqlite3.Connection, limit: int) -> None:
    rows = summaries.read_page(conn, limit)
    expected = queries.list_batches(conn, limit, None, None)
    assert len(rows) == min(limit, len(BATCHES))
    assert [dataclasses.asdict(r) for r in rows] == [m.model_dump() for m in expected]


def test_plain_rows_format_exactly_as_the_models(conn: sqlite3.Connection) -> None:
    rows = summaries.read_page(conn, 100)
    expected = queries.list_batches(conn, 100, None, None)
    assert {r.status.value for r in rows} == {
        "pending", "running", "completed", "partial", "failed", "cancelled", "interrupted"
    }  # fmt: skip
    assert output.history_table(rows) == output.history_table(expected)
    assert output.dumps([output.summary_json(r) for r in rows]) == output.dumps(
        [output.summary_json(m) for m in expected]
    )
    big = next(r for r in rows if r.id == "batch_Big00000")
    assert (big.counts.total, big.counts.succeeded, big.counts.cancelled) == (2500, 2400, 93)


def test_times_are_read_as_the_codec_reads_them(conn: sqlite3.Connection) -> None:
    rows = {r.id: r for r in summaries.read_page(conn, 100)}
    for batch_id, _, _, created, started, finished, _ in BATCHES:
        row = rows[batch_id]
        assert row.created_at == from_db_time(created)
        assert row.created_at.tzinfo is not None
        assert row.started_at == (None if started is None else from_db_time(started))
        assert row.finished_at == (None if finished is None else from_db_time(finished))


def test_a_limit_below_one_is_refused(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        summaries.read_page(conn, 0)


# --- the command ------------------------------------------------------------------------


@pytest.fixture
def live_owner(history: Path) -> Iterator[None]:
    """The unfinished batches held, as the process running them would hold them."""
    with ExitStack() as stack:
        for batch_id in UNFINISHED:
            stack.enter_context(BatchLock(history / "locks", batch_id))
        yield


@pytest.fixture
def quick_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the usual (model) pass fail loudly, to show it is not taken."""

    async def refuse(*_: object) -> object:
        raise AssertionError("the usual pass was taken")

    monkeypatch.setattr(history_command, "read_recovering", refuse)


@pytest.mark.usefixtures("live_owner", "quick_only")
@pytest.mark.parametrize("limit", [None, "1", "4", "50"])
def test_the_command_prints_what_the_models_print(
    history: Path, capsys: pytest.CaptureFixture[str], limit: str | None
) -> None:
    limit_args = [] if limit is None else ["--limit", limit]
    expected = models(history / "history.db", int(limit or 20))

    assert main(["--data-dir", str(history), "history", *limit_args]) == 0
    text = capsys.readouterr()
    assert text.out == output.history_table(expected) + "\n"
    assert "interrupted" not in text.err  # the live owner's batches were left alone

    assert main(["--data-dir", str(history), "history", "--json", *limit_args]) == 0
    listed = capsys.readouterr().out
    assert listed == output.dumps([output.summary_json(m) for m in expected]) + "\n"
    assert [item["batch_id"] for item in json.loads(listed)] == [m.id for m in expected]


@pytest.mark.usefixtures("quick_only")
def test_an_empty_history_says_so(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(data_dir), "history"]) == 0
    text = capsys.readouterr()
    assert text.out == ""
    assert "no batches yet" in text.err
    assert main(["--data-dir", str(data_dir), "history", "--json"]) == 0
    assert capsys.readouterr().out == "[]\n"
    assert (data_dir / "history.db").exists()


def test_orphans_send_the_command_through_recovery(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nobody holds the pending and running batches: they are recovered first."""
    assert main(["--data-dir", str(history), "history", "--json"]) == 0
    text = capsys.readouterr()
    listed = {item["batch_id"]: item["status"] for item in json.loads(text.out)}
    for batch_id in UNFINISHED:
        assert listed[batch_id] == "interrupted"
        assert f"batch {batch_id} was left unfinished" in text.err
    expected = models(history / "history.db", 20)
    assert text.out == output.dumps([output.summary_json(m) for m in expected]) + "\n"
    conn = sqlite3.connect(history / "history.db")
    statuses = {row[0] for row in conn.execute("SELECT status FROM executions")}
    conn.close()
    assert ExecutionStatus.SUBMITTING.value not in statuses  # made UNKNOWN by recovery


# --- opening the file -------------------------------------------------------------------


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"just some text, not a database at all\n" * 10)


def _short_header(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)


def _foreign_id(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("PRAGMA application_id = 1234")
    conn.commit()
    conn.close()


def _foreign_tables(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


def _ours(path: Path) -> sqlite3.Connection:
    asyncio.run(_create(path))
    return sqlite3.connect(path)


async def _create(path: Path) -> None:
    await (await HistoryStore.open(path)).close()


def _newer(path: Path) -> None:
    conn = _ours(path)
    conn.execute(f"PRAGMA user_version = {latest_migration_number() + 1}")
    conn.commit()
    conn.close()


def _missing_table(path: Path) -> None:
    conn = _ours(path)
    conn.execute("DROP TABLE attempts")
    conn.commit()
    conn.close()


BAD_FILES = {
    "not sqlite": _not_sqlite,
    "short header": _short_header,
    "another application's id": _foreign_id,
    "another application's tables": _foreign_tables,
    "a newer amc-tui's": _newer,
    "a table missing": _missing_table,
}


@pytest.mark.parametrize("make_bad", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_refused_as_the_store_refuses_it(tmp_path: Path, make_bad: object) -> None:
    path = tmp_path / "data" / "history.db"
    path.parent.mkdir()
    make_bad(path)  # type: ignore[operator]
    before = digest(path)
    with pytest.raises(StoreError) as quick:
        open_connection(path)
    assert digest(path) == before
    with pytest.raises(StoreError) as usual:
        asyncio.run(_create(path))
    assert digest(path) == before
    assert quick.value.user_message == usual.value.user_message


def test_a_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "history.db"
    path.mkdir(parents=True)
    with pytest.raises(StoreError, match="is a directory"):
        open_connection(path)


def test_the_command_reports_a_bad_file_with_exit_code_3(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.mkdir()
    _newer(data_dir / "history.db")
    assert main(["--data-dir", str(data_dir), "history"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "was written by a newer amc-tui" in err


def test_a_fresh_file_is_made_and_migrated_as_the_store_does(tmp_path: Path) -> None:
    quick_path = tmp_path / "quick" / "history.db"
    conn, absolute = open_connection(quick_path)
    conn.close()
    usual_path = tmp_path / "usual" / "history.db"
    asyncio.run(_create(usual_path))
    assert absolute == quick_path.absolute()
    for path in (quick_path, usual_path):
        assert (path.stat().st_mode & 0o777) == 0o600
        assert (path.parent.stat().st_mode & 0o777) == 0o700
    dump = [list(sqlite3.connect(p).iterdump()) for p in (quick_path, usual_path)]
    assert dump[0] == dump[1]
    pragmas = [
        [sqlite3.connect(p).execute(f"PRAGMA {name}").fetchone()[0] for name in
         ("application_id", "user_version", "journal_mode")]
        for p in (quick_path, usual_path)
    ]  # fmt: skip
    assert pragmas[0] == pragmas[1]
