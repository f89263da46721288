"""The domain model: state machines, batch status, validation of the query and window."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from pydantic import ValidationError

from amc_tui.domain import (
    BATCH_TRANSITIONS,
    EXECUTION_TRANSITIONS,
    Batch,
    BatchCounts,
    BatchStatus,
    ExecutionStatus,
    QuerySpec,
    TimeWindow,
    TimeWindowType,
    check_batch_transition,
    check_execution_transition,
    derive_batch_status,
    new_batch_id,
    parse_uuid,
)
from amc_tui.errors import IllegalTransitionError

E = ExecutionStatus


def test_every_status_has_a_row_and_terminals_are_final() -> None:
    assert set(EXECUTION_TRANSITIONS) == set(ExecutionStatus)
    assert set(BATCH_TRANSITIONS) == set(BatchStatus)
    for status in (E.SUCCEEDED, E.FAILED, E.CANCELLED):
        assert status.is_terminal
        assert not EXECUTION_TRANSITIONS[status]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (E.QUEUED, E.SUBMITTING),
        (E.QUEUED, E.CANCELLED),
        (E.SUBMITTING, E.PENDING),
        (E.SUBMITTING, E.FAILED),
        (E.SUBMITTING, E.UNKNOWN),
        (E.PENDING, E.RUNNING),
        (E.PENDING, E.SUCCEEDED),
        (E.RUNNING, E.SUCCEEDED),
        (E.RUNNING, E.CANCELLED),
        (E.UNKNOWN, E.SUBMITTING),
        (E.UNKNOWN, E.RUNNING),
    ],
)
def test_legal_execution_transitions(old: ExecutionStatus, new: ExecutionStatus) -> None:
    check_execution_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (E.QUEUED, E.PENDING),
        (E.QUEUED, E.SUCCEEDED),
        (E.RUNNING, E.PENDING),
        (E.SUCCEEDED, E.FAILED),
        (E.CANCELLED, E.RUNNING),
        (E.FAILED, E.QUEUED),
        (E.RUNNING, E.RUNNING),
        (E.PENDING, E.UNKNOWN),
    ],
)
def test_illegal_execution_transitions_raise(old: ExecutionStatus, new: ExecutionStatus) -> None:
    with pytest.raises(IllegalTransitionError, match=f"from {old} to {new}"):
        check_execution_transition(old, new)


def test_batch_transitions() -> None:
    check_batch_transition(BatchStatus.PENDING, BatchStatus.RUNNING)
    check_batch_transition(BatchStatus.RUNNING, BatchStatus.INTERRUPTED)
    check_batch_transition(BatchStatus.INTERRUPTED, BatchStatus.RUNNING)
    with pytest.raises(IllegalTransitionError):
        check_batch_transition(BatchStatus.COMPLETED, BatchStatus.RUNNING)
    with pytest.raises(IllegalTransitionError):
        check_batch_transition(BatchStatus.INTERRUPTED, BatchStatus.COMPLETED)


def test_derived_batch_status() -> None:
    assert derive_batch_status([E.SUCCEEDED, E.SUCCEEDED]) is BatchStatus.COMPLETED
    assert derive_batch_status([E.FAILED, E.CANCELLED]) is BatchStatus.FAILED
    assert derive_batch_status([E.SUCCEEDED, E.FAILED]) is BatchStatus.PARTIAL
    assert derive_batch_status([E.SUCCEEDED], cancel_requested=True) is BatchStatus.CANCELLED
    assert derive_batch_status([]) is BatchStatus.FAILED


def test_counts() -> None:
    counts = BatchCounts.of([E.SUCCEEDED, E.FAILED, E.RUNNING, E.QUEUED, E.UNKNOWN, E.CANCELLED])
    assert (counts.total, counts.succeeded, counts.failed, counts.cancelled) == (6, 1, 1, 1)
    assert (counts.unknown, counts.queued, counts.in_flight) == (1, 1, 1)


def test_batch_ids_are_secret_and_well_formed() -> None:
    ids = {new_batch_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"batch_[A-Za-z0-9_-]{8}", i) for i in ids)


def test_uuid_recognised_by_parsing_not_length() -> None:
    assert parse_uuid("0b6f2a9e-3c39-4f4b-8a55-0c2a7a3c9d11") is not None
    assert parse_uuid("0b6f2a9e3c394f4b8a550c2a7a3c9d11") is not None
    assert parse_uuid("amc-instance-with-36-characters-xxxx") is None
    assert parse_uuid("") is None


def test_time_window_rules() -> None:
    window = TimeWindow(start="2025-01-01T00:00:00", end="2025-01-08T00:00:00")
    assert window.amc_fields() == {
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": "2025-01-01T00:00:00",
        "timeWindowEnd": "2025-01-08T00:00:00",
        "timeWindowTimeZone": "America/New_York",
    }
    with pytest.raises(ValidationError, match="is not before end"):
        TimeWindow(start="2025-01-08T00:00:00", end="2025-01-01T00:00:00")
    with pytest.raises(ValidationError, match="no time zone suffix"):
        TimeWindow(start="2025-01-01T00:00:00Z", end="2025-01-08T00:00:00")
    with pytest.raises(ValidationError, match="needs both a start and an end"):
        TimeWindow(start="2025-01-01T00:00:00")
    with pytest.raises(ValidationError, match="takes no start or end"):
        TimeWindow(type=TimeWindowType.ALL, start="2025-01-01T00:00:00")
    assert TimeWindow(type=TimeWindowType.MOST_RECENT_WEEK).amc_fields() == {
        "timeWindowType": "MOST_RECENT_WEEK"
    }


def test_default_window_respects_the_data_lag() -> None:
    window = TimeWindow.default(now=datetime(2026, 11, 28, 15, 30))
    assert window.end == datetime(2026, 11, 14)
    assert window.start == datetime(2026, 11, 7)


def test_window_survives_a_json_round_trip() -> None:
    window = TimeWindow(start=datetime(2025, 1, 1, 0, 0, 0, 5), end=datetime(2025, 1, 2))
    assert TimeWindow.model_validate_json(window.model_dump_json()) == window


def test_query_spec_needs_exactly_one_source_and_merges_overrides() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        QuerySpec()
    with pytest.raises(ValidationError, match="exactly one"):
        QuerySpec(sql="select 1", workflow_id="wf")
    with pytest.raises(ValidationError, match="the SQL is empty"):
        QuerySpec(sql="   ")
    spec = QuerySpec(
        sql="select 1",
        parameters={"a": "1", "b": "2"},
        instance_parameters={"amc1": {"b": "override"}},
    )
    assert spec.parameters_for("amc1") == {"a": "1", "b": "override"}
    assert spec.parameters_for("amc2") == {"a": "1", "b": "2"}
    batch = Batch(query=spec)
    assert batch.status is BatchStatus.PENDING
    assert Batch.model_validate_json(batch.model_dump_json()) == batch
