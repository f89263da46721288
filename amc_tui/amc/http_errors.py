"""Turning HTTP outcomes into the error taxonomy of :mod:`amc_tui.errors`.

Classification is by exception type and status code only.  Response bodies go
into ``detail`` (the log), cut short and scrubbed of known secrets; they never
reach the user message.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable

import httpx

from amc_tui.errors import (
    AccessDeniedError,
    AmcTuiError,
    CredentialsError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
    ThrottledError,
    redact,
)

TRANSIENT_SERVER_STATUSES = frozenset({500, 502, 503, 504})
MAX_DETAIL_CHARS = 500


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unparsable; never a negative number.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def response_detail(response: httpx.Response, what: str, secrets: Iterable[str] = ()) -> str:
    """A log line for a response: the call, the status, and the body cut short and
    scrubbed of ``secrets``."""
    try:
        body = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        body = "<body not read>"
    body = redact(body[:MAX_DETAIL_CHARS], secrets)
    return f"{what} -> HTTP {response.status_code}: {body}"


def error_from_response(
    response: httpx.Response, what: str, secrets: Iterable[str] = ()
) -> AmcTuiError:
    """The taxonomy error for a non-success response to the call ``what``."""
    status = response.status_code
    detail = response_detail(response, what, secrets)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return ThrottledError(detail=detail, retry_after=retry_after)
    if status in TRANSIENT_SERVER_STATUSES:
        return ServerError(detail=detail, status_code=status)
    if status == 408:
        return RequestTimeoutError(detail=detail)
    if status == 401:
        return CredentialsError(detail=detail)
    if status == 403:
        return AccessDeniedError(detail=detail)
    if status == 404:
        return NotFoundError(detail=detail)
    if 400 <= status < 500:
        return InvalidRequestError(detail=detail, status_code=status)
    return ProtocolError(f"AMC answered with unexpected HTTP status {status}", detail=detail)


def error_from_transport(exc: httpx.TransportError, what: str) -> AmcTuiError:
    """The taxonomy error for a request that got no HTTP answer."""
    host = exc.request.url.host if _has_request(exc) else "?"
    detail = f"{what} -> {type(exc).__name__} talking to {host}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        timeout = RequestTimeoutError(detail=detail)
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            timeout.may_have_taken_effect = False
        return timeout
    network = NetworkError(detail=detail)
    if isinstance(exc, httpx.ConnectError):
        network.may_have_taken_effect = False
    return network


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - httpx raises RuntimeError when no request is attached
    except RuntimeError:
        return False
    return True
