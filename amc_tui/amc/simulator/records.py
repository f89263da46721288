"""One simulated execution: :class:`ExecutionRecord`, its timeline and its JSON.

A record never changes by itself: its status is worked out from the monotonic clock
each time someone asks (PENDING, then RUNNING, then its outcome), so the simulator
needs no background task and behaves the same in-process and under uvicorn.  A cancel
freezes the status it found until ``cancel_delay`` has passed, then shows CANCELLED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from amc_tui.amc.simulator.validation import CreateRequest

Outcome = Literal["SUCCEEDED", "FAILED", "CANCELLED"]
NON_TERMINAL = frozenset({"PENDING", "RUNNING"})
AMC_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"
EXPIRE_AFTER = timedelta(days=30)
"""How long after its creation AMC keeps an execution (``expireTime``)."""

FAILURE_REASONS = (
    "Query exceeded the maximum memory available to the instance. Reduce the time window "
    "or the number of grouping columns.",
    "Aggregation threshold not met: every output row was filtered out for privacy.",
    "Internal error while reading dsp_impressions; the workflow execution was aborted.",
    "Query exceeded the execution timeout of 12 hours.",
)


def amc_timestamp(value: datetime) -> str:
    """A time as AMC writes it: UTC, seconds, trailing ``Z``."""
    return value.astimezone(UTC).strftime(AMC_TIMESTAMP)


@dataclass
class ExecutionRecord:
    """An execution the simulator made, with everything needed to answer about it.

    Durations are simulated seconds; ``*_clock`` values are readings of the monotonic
    clock; ``created_wall`` is the wall-clock time of the create.
    """

    execution_id: str
    instance_id: str
    seq: int
    created_clock: float
    created_wall: datetime
    time_scale: float
    pending_seconds: float
    duration_seconds: float
    outcome: Outcome
    request: CreateRequest
    """The create body the execution was made from."""
    failure_reason: str | None = None
    cancel_delay: float = 0.0
    publish_delay: float = 0.0
    cancel_requested_clock: float | None = None

    # --- time ----------------------------------------------------------------------

    def _real(self, simulated_seconds: float) -> float:
        return simulated_seconds / self.time_scale

    def timeline(self) -> list[tuple[str, float]]:
        """(status, clock reading when it begins), in order."""
        start = self.created_clock
        events: list[tuple[str, float]] = [
            ("PENDING", start),
            ("RUNNING", start + self._real(self.pending_seconds)),
            (self.outcome, start + self._real(self.duration_seconds)),
        ]
        if self.cancel_requested_clock is not None:
            asked = self.cancel_requested_clock
            events = [e for e in events if e[1] <= asked]
            events.append(("CANCELLED", asked + self._real(self.cancel_delay)))
        return events

    def phase_at(self, now: float) -> tuple[str, float]:
        """The status at ``now`` and the clock reading when it began."""
        current = self.timeline()[0]
        for event in self.timeline():
            if event[1] <= now:
                current = event
        return current

    def status_at(self, now: float) -> str:
        return self.phase_at(now)[0]

    def is_in_flight(self, now: float) -> bool:
        return self.status_at(now) in NON_TERMINAL

    def results_ready(self, now: float) -> bool:
        """SUCCEEDED, and ``publish_delay`` has passed since."""
        status, since = self.phase_at(now)
        return status == "SUCCEEDED" and now >= since + self._real(self.publish_delay)

    def wall_at(self, clock_reading: float) -> datetime:
        """The wall-clock time of a clock reading (clocks tick together)."""
        return self.created_wall + timedelta(seconds=clock_reading - self.created_clock)

    @property
    def result_is_empty(self) -> bool:
        """A zone-suffixed time window runs fine and finds nothing, as on real AMC."""
        return self.request.zone_suffixed

    # --- JSON ----------------------------------------------------------------------

    def api_json(self, now: float) -> dict[str, object]:
        """The execution object, as the status, list and create calls answer it."""
        request = self.request
        status, since = self.phase_at(now)
        reached = {name: when for name, when in self.timeline() if when <= now}
        started = reached.get("RUNNING")
        updated = since
        if self.cancel_requested_clock is not None and self.cancel_requested_clock > updated:
            updated = self.cancel_requested_clock
        body: dict[str, object] = {
            "workflowExecutionId": self.execution_id,
            "instanceId": self.instance_id,
            "status": status,
            "createTime": amc_timestamp(self.created_wall),
            "lastUpdatedTime": amc_timestamp(self.wall_at(updated)),
            "expireTime": amc_timestamp(self.created_wall + EXPIRE_AFTER),
            "startTime": amc_timestamp(self.wall_at(started)) if started is not None else None,
            "endTime": amc_timestamp(self.wall_at(since)) if status not in NON_TERMINAL else None,
            "failureReason": self.failure_reason if status == "FAILED" else None,
            "validationErrors": [],
            "timeWindowType": request.time_window_type,
            "timeWindowStart": request.time_window_start,
            "timeWindowEnd": request.time_window_end,
            "timeWindowTimeZone": request.time_window_time_zone,
            "parameterValues": dict(request.parameter_values),
            "outputS3URI": self.output_s3_uri,
            "outputChannels": [{"channel": "S3", "status": self._channel_status(now)}],
        }
        if request.workflow_id is not None:
            body["workflowId"] = request.workflow_id
        else:
            body["workflow"] = {"sqlQuery": request.sql}
        body.update(request.options)
        return body

    @property
    def output_s3_uri(self) -> str:
        workflow = self.request.workflow_id or "adhoc"
        return (
            f"s3://amc-{self.instance_id}-results/workflow={workflow}/"
            f"schedule=adhoc/{self.execution_id}/"
        )

    def _channel_status(self, now: float) -> str:
        status = self.status_at(now)
        if status == "SUCCEEDED" and not self.results_ready(now):
            return "RUNNING"
        return status
