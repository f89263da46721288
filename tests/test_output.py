"""Rendering for the headless commands: the --json contract, tables, the progress line."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from contract import BATCH_KEYS, COUNT_KEYS, EXECUTION_KEYS

from amc_tui import output
from amc_tui.domain import (
    Batch,
    BatchCounts,
    BatchStatus,
    BatchSummary,
    Execution,
    ExecutionStatus,
    QuerySpec,
)

E = ExecutionStatus
CREATED = datetime(2026, 11, 28, 17, 2, 3, 750_000, tzinfo=UTC)
Z_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def make_batch(
    statuses: list[ExecutionStatus],
    *,
    status: BatchStatus = BatchStatus.PARTIAL,
    finished: datetime | None = CREATED + timedelta(minutes=3, seconds=12),
    name: str = "weekly reach",
) -> Batch:
    batch = Batch(
        name=name,
        status=status,
        query=QuerySpec(sql="SELECT 1"),
        created_at=CREATED,
        started_at=CREATED,
        finished_at=finished,
    )
    for number, execution_status in enumerate(statuses, start=1):
        failed = execution_status is E.FAILED
        batch.executions.append(
            Execution(
                id=number,
                batch_id=batch.id,
                instance_uuid=uuid.UUID(int=number),
                instance_id=f"amc{number:08d}",
                instance_name=f"Instance {number}",
                status=execution_status,
                amc_execution_id=None if execution_status is E.QUEUED else f"exec-{number}",
                attempts=0 if execution_status is E.QUEUED else number,
                error_message="The query failed on AMC" if failed else None,
            )
        )
    return batch


def summary_of(batch: Batch) -> BatchSummary:
    return BatchSummary(
        id=batch.id,
        name=batch.name,
        status=batch.status,
        created_at=batch.created_at,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
        counts=batch.counts(),
    )


# --- batch_json ------------------------------------------------------------------------


def test_batch_json_has_exactly_the_contract_keys_and_types() -> None:
    batch = make_batch([E.SUCCEEDED, E.FAILED, E.CANCELLED])
    document = output.batch_json(batch)
    assert set(document) == BATCH_KEYS
    assert document["batch_id"] == batch.id
    assert document["name"] == "weekly reach"
    assert document["status"] == "partial"
    assert set(document["counts"]) == COUNT_KEYS
    assert all(type(v) is int for v in document["counts"].values())
    assert len(document["executions"]) == 3
    for item, execution in zip(document["executions"], batch.executions, strict=True):
        assert set(item) == EXECUTION_KEYS
        assert item["instance_id"] == execution.instance_id
        assert item["instance_uuid"] == str(execution.instance_uuid)
        assert uuid.UUID(item["instance_uuid"]) == execution.instance_uuid
        assert item["instance_name"] == execution.instance_name
        assert type(item["attempts"]) is int
        assert item["status"] == item["status"].upper()
    assert [e["status"] for e in document["executions"]] == ["SUCCEEDED", "FAILED", "CANCELLED"]


def test_batch_json_times_are_utc_whole_seconds_with_z() -> None:
    document = output.batch_json(make_batch([E.SUCCEEDED]))
    assert document["created_at"] == "2026-11-28T17:02:03Z"
    assert document["finished_at"] == "2026-11-28T17:05:15Z"
    assert Z_TIME.match(document["created_at"])


def test_times_in_other_zones_and_naive_times_are_given_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert output.iso_utc(datetime(2026, 1, 1, 2, 30, tzinfo=plus_two)) == "2026-01-01T00:30:00Z"
    assert output.iso_utc(datetime(2026, 1, 1, 2, 30)) == "2026-01-01T02:30:00Z"
    assert output.iso_utc(None) is None


def test_batch_json_nulls_for_what_is_not_known() -> None:
    batch = make_batch([E.QUEUED, E.SUCCEEDED], status=BatchStatus.RUNNING, finished=None)
    document = output.batch_json(batch)
    assert document["finished_at"] is None
    queued, succeeded = document["executions"]
    assert queued["amc_execution_id"] is None
    assert queued["error"] is None
    assert succeeded["error"] is None
    assert succeeded["amc_execution_id"] == "exec-2"


def test_error_is_the_short_message_and_attempt_errors_fill_gaps() -> None:
    batch = make_batch([E.FAILED, E.UNKNOWN, E.SUCCEEDED])
    errors = {1: "ignored: has its own", 2: "AMC is throttling requests; retrying", 3: "old"}
    failed, unknown, succeeded = output.batch_json(batch, attempt_errors=errors)["executions"]
    assert failed["error"] == "The query failed on AMC"
    assert unknown["error"] == "AMC is throttling requests; retrying"
    assert succeeded["error"] is None  # a success shows no error from earlier attempts


@pytest.mark.parametrize(
    "statuses",
    [
        [],
        [E.SUCCEEDED] * 3,
        [E.QUEUED, E.SUBMITTING, E.PENDING, E.RUNNING],
        list(ExecutionStatus),
        [E.FAILED, E.CANCELLED, E.UNKNOWN, E.QUEUED, E.SUCCEEDED, E.RUNNING],
    ],
)
def test_counts_always_add_up_to_total(statuses: list[ExecutionStatus]) -> None:
    counts = output.batch_json(make_batch(statuses))["counts"]
    assert counts["total"] == len(statuses)
    assert (
        counts["succeeded"] + counts["failed"] + counts["cancelled"] + counts["unknown"]
        == counts["total"]
    )


def test_unknown_counts_unknown_and_unfinished_executions() -> None:
    batch = make_batch(
        [E.UNKNOWN, E.QUEUED, E.SUBMITTING, E.PENDING, E.RUNNING, E.SUCCEEDED, E.FAILED]
    )
    counts = output.batch_json(batch)["counts"]
    assert counts == {"total": 7, "succeeded": 1, "failed": 1, "cancelled": 0, "unknown": 5}


def test_batch_json_round_trips_through_dumps() -> None:
    batch = make_batch([E.SUCCEEDED, E.FAILED], name="Rapport été ✓")
    document = output.batch_json(batch)
    text = output.dumps(document)
    assert json.loads(text) == document
    assert "Rapport été ✓" in text  # not \u-escaped


# --- summary_json ----------------------------------------------------------------------


def test_summary_json_is_batch_json_without_executions() -> None:
    batch = make_batch([E.SUCCEEDED, E.RUNNING, E.CANCELLED])
    summary = output.summary_json(summary_of(batch))
    assert set(summary) == BATCH_KEYS - {"executions"}
    expected = output.batch_json(batch)
    del expected["executions"]
    assert summary == expected


def test_summary_json_counts_use_the_same_rule() -> None:
    counts = BatchCounts(
        total=10, succeeded=2, failed=1, cancelled=1, unknown=1, queued=3, in_flight=2
    )
    summary = BatchSummary(
        id="batch_abcdefgh", status=BatchStatus.INTERRUPTED, created_at=CREATED, counts=counts
    )
    document = output.summary_json(summary)
    assert document["counts"] == {
        "total": 10,
        "succeeded": 2,
        "failed": 1,
        "cancelled": 1,
        "unknown": 6,
    }
    assert document["status"] == "interrupted"
    assert document["finished_at"] is None
    assert json.loads(output.dumps([document])) == [document]


# --- human tables ----------------------------------------------------------------------


def test_batch_table_names_every_instance_and_the_header() -> None:
    statuses = [E.SUCCEEDED, E.FAILED, E.QUEUED, E.CANCELLED, E.UNKNOWN]
    batch = make_batch(statuses)
    text = output.batch_table(batch)
    for execution in batch.executions:
        row = next(line for line in text.splitlines() if execution.instance_id in line)
        assert execution.instance_name in row
        assert execution.status.value in row
    assert batch.id in text
    assert "weekly reach" in text
    assert "partial" in text
    assert "2026-11-28 17:02:03 UTC" in text
    assert "3m 12s" in text
    assert "5 total: 1 succeeded, 1 failed, 1 cancelled, 2 unknown" in text
    assert "The query failed on AMC" in text
    assert "\x1b" not in text


def test_batch_table_of_an_unfinished_batch_without_executions() -> None:
    batch = make_batch([], status=BatchStatus.PENDING, finished=None, name="")
    text = output.batch_table(batch)
    assert re.search(r"^Finished\s+-$", text, re.MULTILINE)
    assert re.search(r"^Name\s+-$", text, re.MULTILINE)
    assert "No executions." in text


def test_control_characters_from_elsewhere_cannot_drive_the_terminal() -> None:
    batch = make_batch([E.FAILED], name="evil\x1b[2J\nname")
    batch.executions[0].instance_name = "bad\x1b]0;title\x07\r\ninstance"
    for text in (output.batch_table(batch), output.history_table([summary_of(batch)])):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
    assert len(output.table(("A",), [("x\ny",)]).splitlines()) == 2


def test_history_table_one_row_per_batch() -> None:
    finished = make_batch([E.SUCCEEDED, E.FAILED, E.CANCELLED, E.SUCCEEDED])
    running = make_batch([E.RUNNING], status=BatchStatus.RUNNING, finished=None, name="")
    text = output.history_table([summary_of(finished), summary_of(running)])
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == [
        "BATCH",
        "NAME",
        "STATUS",
        "CREATED",
        "(UTC)",
        "DURATION",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
        "TOTAL",
    ]
    assert lines[1].startswith(finished.id)
    assert "2026-11-28 17:02 " in lines[1]
    assert lines[1].split()[-6:] == ["3m", "12s", "2", "1", "1", "4"]
    assert lines[2].startswith(running.id)
    assert lines[2].split()[-5:] == ["-", "0", "0", "0", "1"]


def test_history_table_when_empty() -> None:
    assert output.history_table([]) == "No batches in the history yet."


# --- durations and the progress line ---------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (float("nan"), "-"),
        (float("inf"), "-"),
        (-5.0, "0s"),
        (0.0, "0s"),
        (0.4, "0s"),
        (44.6, "45s"),
        (59.6, "1m 00s"),
        (192.0, "3m 12s"),
        (3600.0, "1h 00m"),
        (3725.0, "1h 02m"),
        (86_400.0 * 3 + 4 * 3600, "3d 04h"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert output.format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "00:00"), (151.0, "02:31"), (3599.4, "59:59"), (3600.0, "1:00:00"), (-3.0, "00:00")],
)
def test_format_clock(seconds: float, text: str) -> None:
    assert output.format_clock(seconds) == text


def test_progress_line_reads_without_colour() -> None:
    counts = BatchCounts(total=30, succeeded=10, failed=1, cancelled=1, in_flight=5, queued=13)
    line = output.progress_line(counts, 151, batch_id="batch_abcdefgh")
    assert line == ("batch_abcdefgh  12/30 done  ✓ 10  ✗ 1  ⊘ 1  ▶ 5 running  … 13 queued  02:31")
    assert "\x1b" not in line
    assert "unknown" not in line


def test_progress_line_shows_unknown_only_when_there_are_some() -> None:
    counts = BatchCounts(total=3, succeeded=1, unknown=2)
    assert "? 2 unknown" in output.progress_line(counts, 5, width=200)


def test_progress_line_gets_shorter_but_keeps_done_and_clock() -> None:
    counts = BatchCounts(total=30, succeeded=10, failed=1, cancelled=1, in_flight=5, queued=13)
    compact = output.progress_line(counts, 3700, batch_id="batch_abcdefgh", width=50)
    assert compact == "batch_abcdefgh 12/30 ✓ 10 ✗ 1 ⊘ 1 ▶ 5 … 13 1:01:40"
    narrow = output.progress_line(counts, 3700, batch_id="batch_abcdefgh", width=25)
    assert narrow.startswith("12/30 ")
    assert narrow.endswith(" 1:01:40")
    assert len(narrow) <= 25


@pytest.mark.parametrize("width", [1, 2, 5, 12, 20, 40, 60, 80, 120])
def test_progress_line_never_exceeds_width(width: int) -> None:
    huge = 10**9
    counts = BatchCounts(
        total=6 * huge,
        succeeded=huge,
        failed=huge,
        cancelled=huge,
        unknown=huge,
        queued=huge,
        in_flight=huge,
    )
    for elapsed in (0.0, 59.0, 10**7):
        line = output.progress_line(counts, elapsed, width=width, batch_id="batch_abcdefgh")
        assert 0 < len(line) <= width
        assert "\n" not in line


def test_progress_line_of_zero_width_is_empty() -> None:
    assert output.progress_line(BatchCounts(total=1, queued=1), 1.0, width=0) == ""
