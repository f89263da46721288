"""The live progress line: drawn from events on a terminal, silent elsewhere."""

from __future__ import annotations

import io
import uuid

from amc_tui.domain import Batch, Execution, ExecutionStatus, QuerySpec
from amc_tui.engine.events import AttemptFailed, ExecutionChanged
from amc_tui.errors import ErrorCategory
from amc_tui.progress import CLEAR_LINE, ProgressReporter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def batch_of(n: int) -> Batch:
    batch = Batch(query=QuerySpec(sql="SELECT 1"))
    batch.executions = [
        Execution(
            id=k + 1,
            batch_id=batch.id,
            instance_uuid=uuid.uuid4(),
            instance_id=f"amc{k:09d}",
            instance_name=f"Brand {k}",
        )
        for k in range(n)
    ]
    return batch


def changed(batch: Batch, k: int, status: ExecutionStatus, **extra: object) -> ExecutionChanged:
    before = batch.executions[k]
    after = before.model_copy(update={"status": status, **extra})
    return ExecutionChanged(batch.id, after, before.status)


def test_counts_follow_events_and_the_line_is_redrawn_in_place() -> None:
    batch = batch_of(3)
    stream = Terminal()
    reporter = ProgressReporter(batch, stream=stream)
    reporter.on_event(changed(batch, 0, ExecutionStatus.SUCCEEDED))
    reporter.on_event(
        changed(batch, 1, ExecutionStatus.FAILED, error_message="Access denied for this instance")
    )
    reporter.on_event(
        AttemptFailed(
            batch.id,
            3,
            "amc000000002",
            1,
            4,
            ErrorCategory.THROTTLED,
            "AMC is throttling requests; retrying",
            2.0,
        )
    )
    counts = reporter.counts
    assert (counts.succeeded, counts.failed, counts.queued) == (1, 1, 1)
    text = stream.getvalue()
    assert text.count(CLEAR_LINE) >= 3
    assert "Brand 1 (amc000000001): Access denied for this instance\n" in text
    assert "amc000000002: AMC is throttling requests; retrying (try 1 of 4); trying again" in text
    last_line = text.rsplit(CLEAR_LINE, 1)[-1]
    assert batch.id in last_line and "2/3" in last_line
    reporter.close()
    assert stream.getvalue().endswith(CLEAR_LINE)  # the line is taken away


def test_nothing_live_when_not_a_terminal() -> None:
    batch = batch_of(2)
    stream = io.StringIO()
    reporter = ProgressReporter(batch, stream=stream)
    reporter.on_event(changed(batch, 0, ExecutionStatus.FAILED, error_message="x"))
    reporter.draw()
    reporter.close()
    assert stream.getvalue() == ""
    assert reporter.counts.failed == 1


def test_a_terminal_that_goes_away_stops_the_drawing() -> None:
    class Gone(Terminal):
        def write(self, text: str) -> int:
            raise OSError(5, "Input/output error")

    reporter = ProgressReporter(batch_of(1), stream=Gone())
    reporter.draw()  # must not raise: the SSH session dropped
    assert reporter.live is False
