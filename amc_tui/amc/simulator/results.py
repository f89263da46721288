"""Results: pre-signed download URLs (paged) and serving the objects they point at.

``/sim-results/{executionId}/{n}.csv`` and ``.../metadata.json`` are served by the
simulator itself, without AMC headers, like S3 pre-signed URLs: the query carries
``expires`` (a monotonic clock reading) and an HMAC ``signature``; an expired or
forged URL answers 403 with an S3-style XML body.  Like S3 objects they have an exact
``Content-Length``, an ``ETag`` and answer single byte ranges (206, 416
``InvalidRange``; a malformed or multi-range ``Range`` or an ``If-Range`` that is not
the ETag gets the whole object).  What the files hold and how their bytes are made
without generating them whole is :mod:`.result_objects`; this module also injects the
cut-off fault (``result_cuts`` / ``result_cut_rate``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import quote, urlencode

from amc_tui.amc.simulator.asgi import Request, Response
from amc_tui.amc.simulator.records import ExecutionRecord
from amc_tui.amc.simulator.result_objects import (
    COLUMNS,
    BytesObject,
    ResultObject,
    result_cache,
    result_object,
)
from amc_tui.amc.simulator.state import SimulatorState

__all__ = ["COLUMNS", "RESULTS_PREFIX", "download_urls", "presign", "serve_result"]

RESULTS_PREFIX = "/sim-results/"

_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*", re.IGNORECASE)


def _signature(state: SimulatorState, path: str, expires: str) -> str:
    message = f"{path}|{expires}".encode()
    return hmac.new(state.signing_key, message, hashlib.sha256).hexdigest()


def presign(state: SimulatorState, base_url: str, path: str) -> str:
    """An absolute URL for ``path`` valid for ``download_url_ttl`` from now."""
    expires = f"{state.clock() + state.config.download_url_ttl:.3f}"
    query = urlencode({"expires": expires, "signature": _signature(state, path, expires)})
    return f"{base_url}{quote(path)}?{query}"


def page_token_kind(record: ExecutionRecord) -> str:
    """The ``nextToken`` kind of a downloadUrls page (a token fits one execution only)."""
    return f"downloadUrls-{record.execution_id}"


def download_urls(
    state: SimulatorState, base_url: str, record: ExecutionRecord, offset: int = 0
) -> dict[str, object]:
    """One page of a downloadUrls answer: ``download_urls_page_size`` files from file
    ``offset + 1`` on, ``nextToken`` if more follow; metadata on the first page only."""
    base = f"{RESULTS_PREFIX}{record.execution_id}"
    files = state.config.result_files
    size = state.config.download_urls_page_size
    numbers = range(offset + 1, min(files, offset + size) + 1)
    payload: dict[str, object] = {
        "downloadUrls": [presign(state, base_url, f"{base}/{n}.csv") for n in numbers],
        "metadataDownloadUrls": (
            [presign(state, base_url, f"{base}/metadata.json")] if offset == 0 else []
        ),
    }
    if offset + size < files:
        payload["nextToken"] = state.page_token(page_token_kind(record), offset + size)
    return payload


def _s3_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return Response(status, body, list(headers or []), content_type="application/xml")


def _no_such_key() -> Response:
    return _s3_error(404, "NoSuchKey", "The specified key does not exist.")


def _metadata(state: SimulatorState, record: ExecutionRecord) -> BytesObject:
    files = []
    for number in range(1, state.config.result_files + 1):
        found = result_object(state, record, number)
        files.append(
            {
                "name": f"{number}.csv",
                "rows": found.rows,
                "sizeBytes": found.size,
                "etag": found.etag,
            }
        )
    payload = {
        "workflowExecutionId": record.execution_id,
        "columns": [{"name": name, "type": kind} for name, kind in COLUMNS],
        "files": state.config.result_files,
        "rowsPerFile": files[0]["rows"],
        "fileDetails": files,
    }
    return BytesObject(json.dumps(payload).encode())


def _refused(state: SimulatorState, request: Request) -> Response | None:
    """403 for a URL without a valid, unexpired signature; None for a good one."""
    expires = request.param("expires")
    signature = request.param("signature")
    if not expires or not signature:
        return _s3_error(403, "AccessDenied", "Query-string authentication requires a signature")
    expected = _signature(state, request.path, expires)
    if not hmac.compare_digest(signature, expected):
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature does not match")
    try:
        expires_at = float(expires)
    except ValueError:
        return _s3_error(403, "AccessDenied", "Invalid expires value")
    if state.clock() > expires_at:
        return _s3_error(403, "AccessDenied", "Request has expired")
    return None


class _Unsatisfiable(Exception):
    """The Range asks for nothing the object has (416)."""


def requested_range(request: Request, etag: str, size: int) -> tuple[int, int] | None:
    """The byte range ``(first, last)`` (inclusive) a GET asks for, or None for the whole.

    Like S3: one range ``bytes=N-``, ``bytes=N-M`` or ``bytes=-K`` (the last K bytes),
    M clamped to the end; anything else, or an ``If-Range`` other than ``etag``, means
    the whole object.  Raises :class:`_Unsatisfiable` for N past the end or K = 0.
    """
    header = request.header("range")
    if header is None:
        return None
    if_range = request.header("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    match = _RANGE.fullmatch(header)
    if match is None or not (match[1] or match[2]):
        return None
    try:
        first = int(match[1]) if match[1] else None
        last = int(match[2]) if match[2] else None
    except ValueError:  # more digits than int() takes
        return None
    if first is None:  # a suffix: the last ``last`` bytes
        if not last:
            raise _Unsatisfiable
        return max(0, size - last), size - 1
    if last is not None and last < first:
        return None
    if first >= size:
        raise _Unsatisfiable
    return first, size - 1 if last is None else min(last, size - 1)


def _cut_now(state: SimulatorState, record: ExecutionRecord, file_number: int) -> bool:
    """Whether this GET of a result file is cut off (``result_cuts``, ``result_cut_rate``)."""
    config = state.config
    earlier = result_cache(state).count_get(record.execution_id, file_number)
    if earlier < config.result_cuts:
        return True
    if config.result_cut_rate > 0:
        draw = state.rng("result cut", record.execution_id, file_number).random()
        return draw < config.result_cut_rate
    return False


async def _stream(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def _object_response(
    state: SimulatorState,
    request: Request,
    found: ResultObject | BytesObject,
    cut_now: Callable[[], bool],
) -> Response:
    """200 or 206 with ``found``'s bytes, or 416; ``cut_now`` is asked only for a 2xx."""
    size = found.size
    try:
        span = requested_range(request, found.etag, size)
    except _Unsatisfiable:
        return _s3_error(
            416,
            "InvalidRange",
            "The requested range is not satisfiable",
            [("Content-Range", f"bytes */{size}"), ("Accept-Ranges", "bytes")],
        )
    headers = [("ETag", found.etag), ("Accept-Ranges", "bytes")]
    status, start, end = 200, 0, size
    if span is not None:
        status, start, end = 206, span[0], span[1] + 1
        headers.append(("Content-Range", f"bytes {span[0]}-{span[1]}/{size}"))
    headers.append(("Content-Length", str(end - start)))
    cut = cut_now()
    if cut:
        # The headers promise every byte asked; the body stops half-way and never ends
        # properly (see SimulatorConfig.result_cuts for what a client sees).
        state.stats.dropped_connections += 1
        end = start + (end - start) // 2
    body = _stream(found.pieces(start, end))
    return Response(status, body, headers, content_type=found.content_type, cut_short=cut)


def serve_result(state: SimulatorState, request: Request) -> Response:
    """A pre-signed result file or its metadata (whole or one range), or an S3 error."""
    refused = _refused(state, request)
    if refused is not None:
        return refused
    parts = request.path[len(RESULTS_PREFIX) :].split("/")
    record = state.executions.get(parts[0]) if len(parts) == 2 else None
    if record is None:
        return _no_such_key()
    name = parts[1]
    if name == "metadata.json":
        return _object_response(state, request, _metadata(state, record), lambda: False)
    number = name.removesuffix(".csv")
    if not name.endswith(".csv") or not number.isdigit():
        return _no_such_key()
    file_number = int(number)
    if not 1 <= file_number <= state.config.result_files:
        return _no_such_key()
    found = result_object(state, record, file_number)
    return _object_response(state, request, found, lambda: _cut_now(state, record, file_number))
