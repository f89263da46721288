"""Checking what clients send: the create body and the list call's query parameters.

Every problem raises :class:`BadRequest` with a message that names the field and the
value, which the handlers send back as a 400.  Time windows with a zone suffix are
accepted, as real AMC accepts them (and then finds no data).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

TIME_WINDOW_TYPES = (
    "EXPLICIT",
    "MOST_RECENT_DAY",
    "MOST_RECENT_WEEK",
    "CURRENT_MONTH",
    "PREVIOUS_MONTH",
    "ALL",
)
_WINDOW_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:?\d{2})?$")
_FORMAT = "%Y-%m-%dT%H:%M:%S"
_BOOL_OPTIONS = ("dryRun", "ignoreDataGaps", "skipPublish", "requireSyntheticData")


class BadRequest(Exception):
    """A request the simulator answers with 400; ``str()`` is the ``details``."""


@dataclass
class CreateRequest:
    """A valid create body."""

    workflow_id: str | None
    sql: str | None
    time_window_type: str
    time_window_start: str | None = None
    time_window_end: str | None = None
    time_window_time_zone: str | None = None
    parameter_values: dict[str, str] = field(default_factory=dict)
    zone_suffixed: bool = False
    options: dict[str, object] = field(default_factory=dict)


def _window_time(body: dict[str, object], name: str) -> tuple[str, datetime, bool]:
    value = body.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"{name} is required with timeWindowType EXPLICIT")
    match = _WINDOW_TIME.match(value)
    if match is None:
        raise BadRequest(f"{name} {value!r} is not in the form YYYY-MM-DDTHH:MM:SS")
    try:
        parsed = datetime.strptime(match.group(1), _FORMAT)
    except ValueError:
        raise BadRequest(f"{name} {value!r} is not a valid date and time") from None
    return value, parsed, match.group(2) is not None


def _source(body: dict[str, object]) -> tuple[str | None, str | None]:
    workflow_id = body.get("workflowId")
    workflow = body.get("workflow")
    if (workflow_id is None) == (workflow is None):
        raise BadRequest("give exactly one of workflowId or workflow.sqlQuery")
    if workflow_id is not None:
        if not isinstance(workflow_id, str) or not workflow_id.strip():
            raise BadRequest(f"workflowId {workflow_id!r} must be a non-empty string")
        return workflow_id, None
    if not isinstance(workflow, dict):
        raise BadRequest("workflow must be an object with a sqlQuery")
    sql = workflow.get("sqlQuery")
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequest("workflow.sqlQuery must be a non-empty string")
    return None, sql


def _parameters(body: dict[str, object]) -> dict[str, str]:
    raw = body.get("parameterValues", {})
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("parameterValues must be an object of strings")
    values: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise BadRequest(f"parameterValues[{key!r}] must be a string, got {value!r}")
        values[str(key)] = value
    return values


def _options(body: dict[str, object]) -> dict[str, object]:
    options: dict[str, object] = {}
    for name in _BOOL_OPTIONS:
        if name in body:
            if not isinstance(body[name], bool):
                raise BadRequest(f"{name} must be true or false, got {body[name]!r}")
            options[name] = body[name]
    timeout = body.get("workflowExecutionTimeoutSeconds")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            raise BadRequest(
                f"workflowExecutionTimeoutSeconds must be a positive integer, got {timeout!r}"
            )
        options["workflowExecutionTimeoutSeconds"] = timeout
    return options


def parse_create_body(raw: bytes) -> CreateRequest:
    """The create body, checked; raises :class:`BadRequest` naming what is wrong."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    workflow_id, sql = _source(body)
    window_type = body.get("timeWindowType")
    if window_type not in TIME_WINDOW_TYPES:
        raise BadRequest(
            f"timeWindowType {window_type!r} must be one of {', '.join(TIME_WINDOW_TYPES)}"
        )
    request = CreateRequest(
        workflow_id=workflow_id,
        sql=sql,
        time_window_type=str(window_type),
        parameter_values=_parameters(body),
        options=_options(body),
    )
    zone = body.get("timeWindowTimeZone")
    if zone is not None and not isinstance(zone, str):
        raise BadRequest(f"timeWindowTimeZone {zone!r} must be a string")
    request.time_window_time_zone = zone
    if window_type == "EXPLICIT":
        start, start_at, start_zoned = _window_time(body, "timeWindowStart")
        end, end_at, end_zoned = _window_time(body, "timeWindowEnd")
        if start_at >= end_at:
            raise BadRequest(f"timeWindowStart {start!r} must be before timeWindowEnd {end!r}")
        request.time_window_start = start
        request.time_window_end = end
        request.zone_suffixed = start_zoned or end_zoned
    return request


def parse_list_time(value: str | None, name: str) -> datetime | None:
    """A ``yyyy-MM-ddTHH:mm:ss`` UTC query parameter as an aware datetime, or None."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"{name} {value!r} is not in the form yyyy-MM-ddTHH:mm:ss") from None


def parse_bool(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise BadRequest(f"{name} {value!r} must be true or false")


def parse_limit(value: str | None, maximum: int) -> int:
    if value is None:
        return maximum
    try:
        limit = int(value)
    except ValueError:
        raise BadRequest(f"limit {value!r} is not a whole number") from None
    if not 1 <= limit <= maximum:
        raise BadRequest(f"limit {limit} must be between 1 and {maximum}")
    return limit


def parse_cancel_body(raw: bytes) -> None:
    """Accept only ``{"status": "CANCELLED"}``."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict) or body.get("status") != "CANCELLED":
        raise BadRequest('the only supported update is {"status": "CANCELLED"}')
