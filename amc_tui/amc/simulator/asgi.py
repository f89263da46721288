"""The bare ASGI plumbing: reading a request, sending a response, JSON error bodies.

Written by hand on purpose (the runtime has no web framework).  A handler receives a
:class:`Request` and returns a :class:`Response`; a response body is bytes or an async
iterator of byte chunks, sent with ``more_body`` so large bodies are streamed.  A
response marked ``cut_short`` is sent half-way only (a dropped connection).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 1_000_000
"""Larger request bodies are refused with 413."""


class BodyTooLargeError(Exception):
    """The request body is over :data:`MAX_BODY_BYTES`."""


@dataclass
class Request:
    """One HTTP request, fully read."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    scheme: str = "http"
    host: str = "localhost"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def base_url(self) -> str:
        """Scheme and host the client used, for absolute URLs pointing back here."""
        return f"{self.scheme}://{self.host}"


@dataclass
class Response:
    """What a handler answers."""

    status: int
    body: bytes | AsyncIterator[bytes] = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"
    cut_short: bool = False
    """Send the headers and half the body, then stop: under uvicorn the connection is
    closed mid-answer (see :func:`send_response`)."""


def json_response(
    status: int, payload: object, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, list(headers or []))


def error(status: int, details: str, headers: list[tuple[str, str]] | None = None) -> Response:
    """AMC's error body: ``{"code": "<status>", "details": "..."}``."""
    return json_response(status, {"code": str(status), "details": details}, headers)


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Read the whole request body and decode what handlers need from the scope."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLargeError
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        headers[raw_name.decode("latin-1").lower()] = raw_value.decode("latin-1")
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
    return Request(
        method=scope["method"].upper(),
        path=scope["path"],
        query=query,
        headers=headers,
        body=b"".join(chunks),
        scheme=scope.get("scheme", "http"),
        host=host,
    )


async def send_response(send: Send, response: Response) -> None:
    """Send ``response``; an iterator body goes out chunk by chunk."""
    headers = [(b"content-type", response.content_type.encode("latin-1"))]
    if isinstance(response.body, bytes):
        headers.append((b"content-length", str(len(response.body)).encode("latin-1")))
    headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if response.cut_short and isinstance(response.body, bytes):
        # The declared length is never reached: uvicorn closes the connection once the
        # app returns without finishing, and the client sees the answer cut off.
        half = response.body[: len(response.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        return
    if isinstance(response.body, bytes):
        await send({"type": "http.response.body", "body": response.body, "more_body": False})
        return
    async for chunk in response.body:
        if chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def handle_lifespan(receive: Receive, send: Send) -> None:
    """Answer the lifespan protocol: nothing to start, nothing to stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
