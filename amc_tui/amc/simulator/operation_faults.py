"""Per-operation knobs: scripted outcomes, slow answers, odd bodies and dropped connections.

:func:`answer_with_knobs` wraps the handling of one call of an operation ("POST create",
"GET status", "POST token", ...) with what ``operation_scripts``,
``operation_latency``, ``slow_answer_seconds`` and ``extra_answer_fields`` ask for (see
:mod:`.config`): a scripted error instead of the call, or the call carried out and its
answer then dropped, delayed, garbled, stripped or padded with undocumented fields.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from amc_tui.amc.simulator.asgi import Response
from amc_tui.amc.simulator.config import OperationKey, OperationOutcome
from amc_tui.amc.simulator.faults import (
    dropped,
    dropped_before_acting,
    server_error_response,
    throttle_response,
    without_location,
)
from amc_tui.amc.simulator.state import SimulatorState

_BEFORE_ERRORS = {"500": 500, "502": 502, "503": 503, "504": 504}
EXTRA_FIELDS: dict[str, object] = {
    "simulatorRevision": "2099-01-01",
    "undocumentedDetails": {"note": "a field AMC may add one day", "values": [1, 2, 3]},
}
"""What ``extra_answer_fields`` adds to each object it pads."""
MALFORMED_BODY = b'{"workflowExecutionId": "<html>Gateway hiccup</html>'
"""A body that is not JSON (cut off, as a misbehaving proxy might send)."""


def next_outcome(state: SimulatorState, key: OperationKey) -> OperationOutcome | None:
    """The operation's next scripted outcome, consumed; None when it has none left."""
    script = state.config.operation_scripts.get(key)
    return script.pop(0) if script else None


async def answer_with_knobs(
    state: SimulatorState, key: OperationKey, handle: Callable[[], Response]
) -> Response:
    """Carry out one call through ``handle``, shaped by the operation's knobs."""
    config = state.config
    outcome = next_outcome(state, key)
    if outcome == "429":
        return throttle_response(state)
    if outcome in _BEFORE_ERRORS:
        return server_error_response(_BEFORE_ERRORS[outcome])
    if outcome == "reset":
        return dropped_before_acting(state)
    response = handle()
    if outcome == "reset_after":
        return dropped(state, response)
    if outcome == "malformed" and response.status < 300:
        response = _malformed(response)
    elif outcome == "incomplete" and response.status < 300:
        response = _incomplete(response)
    elif config.extra_answer_fields:
        response = _padded(response)
    delay = config.operation_latency.get(key, 0.0)
    if outcome == "slow":
        delay += config.slow_answer_seconds
    if delay > 0:
        await asyncio.sleep(delay)
    return response


def _malformed(response: Response) -> Response:
    return Response(response.status, MALFORMED_BODY, without_location(response.headers))


def _incomplete(response: Response) -> Response:
    body = json.dumps({"requestId": "simulated-incomplete-answer"}).encode()
    return Response(response.status, body, without_location(response.headers))


def _padded(response: Response) -> Response:
    """The JSON answer with undocumented fields added where a newer AMC might put them."""
    if response.content_type != "application/json" or not isinstance(response.body, bytes):
        return response
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    if not isinstance(payload, dict):
        return response
    for value in payload.values():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    item.update(EXTRA_FIELDS)
        elif isinstance(value, dict) and "workflowExecutionId" in value:
            value.update(EXTRA_FIELDS)
    payload.update(EXTRA_FIELDS)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(response.status, body, response.headers, response.content_type)
