"""Streaming one pre-signed result file to disk, resuming where a cut-off copy ended.

A pre-signed URL carries its own authorization, so the request goes out with no AMC
header and no token: the bearer token must never reach the storage service.  The
body is written to ``NAME.part`` chunk by chunk as it arrives (never held whole in
memory); the byte count is checked against ``Content-Length``, so a body cut short is
never taken for a whole file.  Then, on a worker thread beside the other downloads,
the ``.part`` is flushed to disk and its SHA-256 computed from the file itself (read
back from the page cache): the digest is that of the bytes on disk.  Renaming it into
place is the caller's step, after recording.

Resuming: when ``NAME.part`` already holds bytes of the same object (same ETag), the
request asks for the rest (``Range: bytes=N-`` with ``If-Range``); a 206 answer is
appended, a 200 (the object changed, or ranges are not served) starts over.

Errors, by status and exception type only: 403 and 404 mean the URL has expired or
no longer points at the object (:class:`UrlExpiredError`: ask AMC for fresh URLs); 429
and 5xx, lost connections, timeouts and short bodies are transient; anything else is
a :class:`~amc_tui.errors.ProtocolError`.  The URL's query (its signature) is never
logged: only its path is.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import urlsplit

import httpx

from amc_tui.amc.http_errors import TRANSIENT_SERVER_STATUSES, error_from_response
from amc_tui.amc.http_errors import error_from_transport as _transport_error
from amc_tui.errors import AmcTuiError, ErrorCategory, NetworkError, ProtocolError

log = logging.getLogger(__name__)

HASH_BLOCK = 1024 * 1024


class UrlExpiredError(AmcTuiError):
    """The pre-signed URL was refused (403) or points at nothing (404): ask again."""

    category = ErrorCategory.FORBIDDEN

    def __init__(self, status: int, what: str) -> None:
        super().__init__(
            "The result's download link has expired or was refused",
            detail=f"{what}: HTTP {status}",
        )
        self.status = status


class ShortBodyError(NetworkError):
    """The body ended before ``Content-Length`` bytes came (a cut-off download)."""


@dataclass(frozen=True)
class Announced:
    """What the server said about the object before sending it."""

    etag: str | None
    total: int | None
    """The whole object's size in bytes, when the server said it."""
    resumed_from: int
    """Bytes already on disk that this answer continues (0: from the start)."""


@dataclass(frozen=True)
class Fetched:
    """A whole file in ``NAME.part``: its size, SHA-256 and ETag."""

    size: int
    sha256: str
    etag: str | None


OnStart = Callable[[Announced], Awaitable[None]]
OnBytes = Callable[[int], None]


def url_path(url: str) -> str:
    """The URL without its query: safe to log or show."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


async def fetch_to_part(
    http: httpx.AsyncClient,
    url: str,
    part: Path,
    *,
    etag: str | None,
    on_start: OnStart,
    on_bytes: OnBytes,
) -> Fetched:
    """Stream ``url`` into ``part``, resuming from its current size when ``etag`` is known.

    ``on_start`` is awaited once the answer's headers are in (before any byte is
    written), so the caller can record the ETag a later resume needs; ``on_bytes`` is
    called with each chunk's length.  Raises :class:`UrlExpiredError`, a transient
    error (retry: the bytes written so far stay for a resume) or ProtocolError.
    """
    what = f"download {url_path(url)}"
    have = _size_on_disk(part) if etag else 0
    headers = {"Accept-Encoding": "identity"}
    if have and etag:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = etag
    try:
        async with http.stream("GET", url, headers=headers) as response:
            announced = _announced(response, have, what)
            if announced is None:  # 416: what is on disk is the whole object
                assert etag is not None
                await on_start(Announced(etag, have, have))
                digest = await asyncio.to_thread(_hash_file, part)
                return Fetched(have, digest, etag)
            await on_start(announced)
            return await _write_body(response, part, announced, on_bytes, what)
    except httpx.TransportError as exc:
        log.warning("%s: %s", what, type(exc).__name__)
        raise _transport_error(exc, what) from None


def _announced(response: httpx.Response, have: int, what: str) -> Announced | None:
    status = response.status_code
    if status in (403, 404):
        raise UrlExpiredError(status, what)
    if status == 416 and have and _range_total(response) == have:
        return None
    if status == 429 or status in TRANSIENT_SERVER_STATUSES:
        raise error_from_response(response, what)
    etag = response.headers.get("ETag")
    length = _int_header(response, "Content-Length")
    if status == 200:
        return Announced(etag, length, 0)
    if status == 206 and have:
        start, total = _content_range(response.headers.get("Content-Range", ""))
        if start != have:
            raise ProtocolError(detail=f"{what}: asked from byte {have}, got {start}")
        return Announced(etag, total, have)
    raise ProtocolError(detail=f"{what}: unexpected HTTP {status}")


async def _write_body(
    response: httpx.Response, part: Path, announced: Announced, on_bytes: OnBytes, what: str
) -> Fetched:
    mode = "ab" if announced.resumed_from else "wb"
    expected = None if announced.total is None else announced.total - announced.resumed_from
    received = 0
    with _open_part(part, mode) as out:
        try:
            # As the bytes come (no re-chunking: what arrived is on disk, for a resume).
            async for chunk in response.aiter_raw():
                out.write(chunk)
                received += len(chunk)
                on_bytes(len(chunk))
        finally:
            out.flush()
        if expected is not None and received != expected:
            raise ShortBodyError(
                "The download was cut off", detail=f"{what}: {received} of {expected} bytes"
            )
        # On a worker thread, beside the other downloads: to disk, then the digest of
        # the whole file as it is there (read back from the page cache).
        digest = await asyncio.to_thread(_sync_and_hash, out, part)
    size = announced.resumed_from + received
    return Fetched(size, digest, announced.etag)


def _sync_and_hash(out: BinaryIO, part: Path) -> str:
    os.fsync(out.fileno())
    return _hash_file(part)


def _size_on_disk(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _open_part(part: Path, mode: str) -> BinaryIO:
    part.parent.mkdir(parents=True, exist_ok=True)
    return cast(BinaryIO, open(part, mode))


def _hash_file(path: Path) -> str:
    """The SHA-256 of the file, read a block at a time."""
    hasher = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(HASH_BLOCK):
            hasher.update(block)
    return hasher.hexdigest()


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _content_range(value: str) -> tuple[int | None, int | None]:
    """``bytes START-END/TOTAL`` as (START, TOTAL); None for what is missing."""
    unit, _, spec = value.strip().partition(" ")
    if unit != "bytes":
        return None, None
    span, _, total = spec.partition("/")
    start = span.partition("-")[0]
    return (
        int(start) if start.isdigit() else None,
        int(total) if total.isdigit() else None,
    )


def _range_total(response: httpx.Response) -> int | None:
    """The size a 416 answer names (``Content-Range: bytes */TOTAL``)."""
    return _content_range(response.headers.get("Content-Range", ""))[1]
