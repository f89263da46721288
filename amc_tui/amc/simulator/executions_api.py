"""The workflow-execution calls under ``/amc/reporting/{instanceId}/workflowExecutions``.

create (POST), status (GET /{id}), list (GET), cancel (PUT /{id}) and downloadUrls
(GET /{id}/downloadUrls), with AMC's status codes.  The caller has already checked the
credentials and headers and resolved the instance (404 unknown, 403 foreign).  A create
consumes the instance's next scripted outcome if it has one; otherwise it draws its
faults from the seeded RNG of "the n-th create on this instance".  A scripted "reset"
drops the connection before the execution is made, "reset_after_create" after.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from amc_tui.amc.simulator.asgi import Request, Response, error, json_response
from amc_tui.amc.simulator.config import SimInstance
from amc_tui.amc.simulator.faults import (
    draw_fault,
    dropped,
    dropped_before_acting,
    random_sql_error,
    server_error_response,
    sql_compile_error,
    sql_error_response,
    throttle_response,
)
from amc_tui.amc.simulator.records import FAILURE_REASONS, ExecutionRecord, Outcome
from amc_tui.amc.simulator.results import download_urls as make_download_urls
from amc_tui.amc.simulator.results import page_token_kind
from amc_tui.amc.simulator.state import SimulatorState
from amc_tui.amc.simulator.validation import (
    BadRequest,
    CreateRequest,
    parse_bool,
    parse_cancel_body,
    parse_create_body,
    parse_limit,
    parse_list_time,
)

_SERVER_SCRIPTS = {"500": 500, "502": 502, "503": 503, "504": 504}
LOST_ANSWER_STATUS = 504


def base_path(instance_id: str) -> str:
    return f"/amc/reporting/{instance_id}/workflowExecutions"


def create(state: SimulatorState, request: Request, instance: SimInstance) -> Response:
    """POST: make an execution, or fail the way the script or the dice say."""
    config = state.config
    state.stats.creates_per_instance[instance.instance_id] += 1
    rng = state.rng("create", instance.instance_id)
    fault = draw_fault(state, rng)
    sql_error_draw, lost_draw, failure_draw = rng.random(), rng.random(), rng.random()
    duration = rng.uniform(config.duration_min, config.duration_max)
    failure_reason = rng.choice(FAILURE_REASONS)
    sql_error_text = random_sql_error(rng)
    execution_id = _new_id(rng)
    while execution_id in state.executions:
        # Another process with the same seed made the n-th create too (a shared state file).
        execution_id = _new_id(rng)

    script = state.next_script(instance.instance_id)
    if script is None:
        if fault is not None:
            return fault
    elif script == "429":
        return throttle_response(state)
    elif script in _SERVER_SCRIPTS:
        return server_error_response(_SERVER_SCRIPTS[script])
    elif script == "403":
        return error(403, f"Not authorized to run workflows on instance {instance.instance_id}")
    elif script in ("400", "sql_error"):
        return sql_error_response(sql_error_text)
    elif script == "reset":
        return dropped_before_acting(state)

    try:
        body = parse_create_body(request.body)
    except BadRequest as exc:
        return error(400, str(exc))
    if body.workflow_id is not None and body.workflow_id not in instance.workflows:
        return error(
            404, f"Workflow {body.workflow_id} not found on instance {instance.instance_id}"
        )
    if body.sql is not None:
        compile_error = sql_compile_error(body.sql)
        if compile_error is not None:
            return sql_error_response(compile_error)
        if script is None and sql_error_draw < config.sql_error_rate:
            return sql_error_response(sql_error_text)

    outcome: Outcome = "SUCCEEDED"
    if script == "fail" or (script is None and failure_draw < config.failure_rate):
        outcome = "FAILED"
    elif script == "cancel":
        outcome = "CANCELLED"
    record = _new_record(state, instance, body, execution_id, duration, outcome, failure_reason)
    state.add_execution(record)
    if body.zone_suffixed:
        state.stats.zone_suffixed_windows += 1
    if script == "lost" or (script is None and lost_draw < config.lost_answer_rate):
        return server_error_response(LOST_ANSWER_STATUS)
    location = [("Location", f"{base_path(instance.instance_id)}/{execution_id}")]
    execution = record.api_json(state.clock())
    if config.create_answer_shape == "nested":
        answer = json_response(202, {"workflowExecution": execution}, location)
    else:
        answer = json_response(200, execution, location)
    return dropped(state, answer) if script == "reset_after_create" else answer


def _new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _new_record(
    state: SimulatorState,
    instance: SimInstance,
    body: CreateRequest,
    execution_id: str,
    duration: float,
    outcome: Outcome,
    failure_reason: str,
) -> ExecutionRecord:
    config = state.config
    return ExecutionRecord(
        execution_id=execution_id,
        instance_id=instance.instance_id,
        seq=state.take_seq(),
        created_clock=state.clock(),
        created_wall=state.wall_clock().astimezone(UTC),
        time_scale=config.time_scale,
        pending_seconds=duration * config.pending_fraction,
        duration_seconds=duration,
        outcome=outcome,
        failure_reason=failure_reason if outcome == "FAILED" else None,
        request=body,
        cancel_delay=config.cancel_delay,
        publish_delay=config.publish_delay,
    )


def find_execution(
    state: SimulatorState, instance: SimInstance, execution_id: str
) -> ExecutionRecord | Response:
    record = state.executions.get(execution_id)
    if record is None or record.instance_id != instance.instance_id:
        return error(
            404, f"Workflow execution {execution_id} not found on instance {instance.instance_id}"
        )
    return record


def status(state: SimulatorState, record: ExecutionRecord) -> Response:
    """GET /{id}: the execution object as of now."""
    return json_response(200, record.api_json(state.clock()))


def cancel(state: SimulatorState, request: Request, record: ExecutionRecord) -> Response:
    """PUT /{id} with ``{"status": "CANCELLED"}``: only while PENDING or RUNNING."""
    try:
        parse_cancel_body(request.body)
    except BadRequest as exc:
        return error(400, str(exc))
    now = state.clock()
    current = record.status_at(now)
    if current not in ("PENDING", "RUNNING"):
        return error(
            400, f"Workflow execution {record.execution_id} is {current} and cannot be cancelled"
        )
    state.request_cancel(record, now)
    return json_response(200, record.api_json(now))


def download_urls(state: SimulatorState, request: Request, record: ExecutionRecord) -> Response:
    """GET /{id}/downloadUrls: 404 until the results are ready, 400 if there will be none;
    paged by ``download_urls_page_size`` with a ``nextToken``."""
    now = state.clock()
    current = record.status_at(now)
    if current in ("FAILED", "CANCELLED"):
        return error(
            400, f"Workflow execution {record.execution_id} is {current}; it has no results"
        )
    if not record.results_ready(now):
        return error(404, f"Results of workflow execution {record.execution_id} are not ready")
    offset = 0
    token = request.param("nextToken")
    if token is not None:
        decoded = state.read_page_token(page_token_kind(record), token)
        if decoded is None:
            return error(400, "nextToken is not valid")
        offset = decoded
    return json_response(200, make_download_urls(state, request.base_url, record, offset))


def list_executions(state: SimulatorState, request: Request, instance: SimInstance) -> Response:
    """GET: the instance's executions, filtered, sorted and paged by a cursor token."""
    try:
        min_time = parse_list_time(request.param("minCreationTime"), "minCreationTime")
        max_time = parse_list_time(request.param("maxCreationTime"), "maxCreationTime")
        include_cancelled = parse_bool(
            request.param("includeCancelled"), "includeCancelled", default=False
        )
        ascending = parse_bool(request.param("sortAscending"), "sortAscending", default=False)
        limit = parse_limit(request.param("limit"), state.config.executions_page_limit)
    except BadRequest as exc:
        return error(400, str(exc))
    workflow_id = request.param("workflowId")
    token = request.param("nextToken")
    cursor: int | None = None
    if token is not None:
        cursor = state.read_page_token("executions", token)
        if cursor is None:
            return error(400, "nextToken is not valid")

    now = state.clock()
    matches = [
        record
        for record in state.executions.values()
        if record.instance_id == instance.instance_id
        and _created_within(record.created_wall, min_time, max_time)
        and (workflow_id is None or record.request.workflow_id == workflow_id)
        and (include_cancelled or record.status_at(now) != "CANCELLED")
    ]
    matches.sort(key=lambda r: r.seq, reverse=not ascending)
    if cursor is not None:
        matches = [r for r in matches if (r.seq > cursor if ascending else r.seq < cursor)]
    page = matches[:limit]
    payload: dict[str, object] = {"executions": [r.api_json(now) for r in page]}
    if len(matches) > limit:
        payload["nextToken"] = state.page_token("executions", page[-1].seq)
    return json_response(200, payload)


def _created_within(created: datetime, low: datetime | None, high: datetime | None) -> bool:
    """Compare at AMC's one-second resolution; both bounds inclusive."""
    second = created.replace(microsecond=0)
    return (low is None or second >= low) and (high is None or second <= high)
