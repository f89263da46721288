"""Injected failures: throttling (429 with Retry-After), server errors, SQL errors and
dropped connections.

The random ones are drawn from an RNG the caller got from
:meth:`~amc_tui.amc.simulator.state.SimulatorState.rng`; every helper draws the same
number of values whatever it decides, so later draws stay put.  The deterministic SQL
check mimics AMC's compiler for two cases: SQL that is not a query, and SQL that
mentions ``syntax_error``.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
from datetime import timedelta

from amc_tui.amc.simulator.asgi import Response, error
from amc_tui.amc.simulator.state import SimulatorState

_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_LINE_COMMENT = re.compile(r"--[^\n]*")
_SYNTAX_ERROR_WORD = re.compile(r"\bsyntax_error\b", re.I)
_RANDOM_SQL_ERRORS = (
    "line 4:8: Table 'dsp_impresions' does not exist",
    "line 2:3: Column 'campaign_name' cannot be resolved",
    "line 7:1: 'user_id' must be an aggregate expression or appear in GROUP BY clause",
)

SERVER_ERROR_DETAILS = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable; try again later",
    504: "Endpoint request timed out",
}


def throttle_response(state: SimulatorState) -> Response:
    """429 with Retry-After in seconds, or as an HTTP date if so configured."""
    seconds = state.config.retry_after
    if state.config.retry_after_as_date:
        when = state.wall_clock() + timedelta(seconds=math.ceil(seconds))
        value = email.utils.format_datetime(when, usegmt=True)
    else:
        value = f"{seconds:g}"
    return error(429, "Too many requests; slow down", [("Retry-After", value)])


def server_error_response(status: int) -> Response:
    return error(status, SERVER_ERROR_DETAILS.get(status, "Server error"))


def dropped(state: SimulatorState, response: Response) -> Response:
    """``response`` marked to be cut off half-way (a dropped connection), counted.

    Its ``Location`` header goes (a dropped answer tells nothing); an empty body is
    replaced by an error body, since only a body can be cut short.
    """
    state.stats.dropped_connections += 1
    if not isinstance(response.body, bytes) or not response.body:
        response = error(502, "The connection was dropped")
    response.cut_short = True
    response.headers = without_location(response.headers)
    return response


def dropped_before_acting(state: SimulatorState) -> Response:
    """A connection dropped before the call was carried out (nothing was done)."""
    return dropped(state, error(503, "The connection was dropped"))


def without_location(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` without ``Location`` (an answer that names nothing)."""
    return [(k, v) for k, v in headers if k.lower() != "location"]


def draw_fault(state: SimulatorState, rng: random.Random) -> Response | None:
    """A 429 or 5xx by the configured rates, else None.  Always draws three values."""
    throttle = rng.random()
    server = rng.random()
    status = rng.choice(state.config.server_error_statuses)
    if throttle < state.config.throttle_rate:
        return throttle_response(state)
    if server < state.config.server_error_rate:
        return server_error_response(status)
    return None


def strip_sql_comments(sql: str) -> str:
    return _LINE_COMMENT.sub(" ", _BLOCK_COMMENT.sub(" ", sql)).strip()


def sql_compile_error(sql: str) -> str | None:
    """The compile error AMC would give this SQL for sure, or None."""
    body = strip_sql_comments(sql)
    first = body.split(None, 1)[0].upper() if body else ""
    first = first.split("(", 1)[0]
    if first not in ("SELECT", "WITH"):
        shown = first[:40] or "<end of input>"
        return (
            f"SQL compilation error: line 1:1: mismatched input '{shown}'. "
            "Expecting: 'SELECT', 'WITH'"
        )
    match = _SYNTAX_ERROR_WORD.search(sql)
    if match:
        line = sql.count("\n", 0, match.start()) + 1
        column = match.start() - (sql.rfind("\n", 0, match.start()) + 1) + 1
        return (
            f"SQL compilation error: line {line}:{column}: "
            "mismatched input 'syntax_error'. Expecting: <expression>"
        )
    return None


def random_sql_error(rng: random.Random) -> str:
    return "SQL compilation error: " + rng.choice(_RANDOM_SQL_ERRORS)


def sql_error_response(details: str) -> Response:
    return error(400, details)
