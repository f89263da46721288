"""Results: pre-signed download URLs and the CSV files they point at.

``/sim-results/{executionId}/{n}.csv`` and ``.../metadata.json`` are served by the
simulator itself, without AMC headers, like S3 pre-signed URLs: the query carries
``expires`` (a monotonic clock reading) and an HMAC ``signature``; an expired or
forged URL answers 403 with an S3-style XML body.  The CSV is deterministic from the
seed and the execution id and is streamed in chunks.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import random
from collections.abc import AsyncIterator, Iterator
from itertools import islice
from urllib.parse import quote, urlencode

from amc_tui.amc.simulator.asgi import Request, Response
from amc_tui.amc.simulator.records import ExecutionRecord
from amc_tui.amc.simulator.state import SimulatorState

RESULTS_PREFIX = "/sim-results/"
ROWS_PER_CHUNK = 200

COLUMNS = (
    ("campaign", "STRING"),
    ("campaign_id", "STRING"),
    ("ad_product_type", "STRING"),
    ("impressions", "LONG"),
    ("reach", "LONG"),
    ("avg_frequency", "DOUBLE"),
    ("clicks", "LONG"),
    ("purchases", "LONG"),
    ("new_to_brand_purchases", "LONG"),
    ("total_product_sales", "DOUBLE"),
)
CAMPAIGNS = (
    'Spring Sale, "Outdoor Gear" – Größe M',  # noqa: RUF001 - non-ASCII on purpose
    "春の新生活キャンペーン",
    "Always-on | Brand Defense",
    "Retargeting – Warenkorbabbrecher",  # noqa: RUF001 - non-ASCII on purpose
    "Prime Day 2024",
    "Holiday Gifts, Stocking Stuffers",
    "Café Crème Launch",
    "Back to School",
)
AD_PRODUCTS = ("DSP", "SPONSORED_PRODUCTS", "SPONSORED_BRANDS", "SPONSORED_DISPLAY")


def _signature(state: SimulatorState, path: str, expires: str) -> str:
    message = f"{path}|{expires}".encode()
    return hmac.new(state.signing_key, message, hashlib.sha256).hexdigest()


def presign(state: SimulatorState, base_url: str, path: str) -> str:
    """An absolute URL for ``path`` valid for ``download_url_ttl`` from now."""
    expires = f"{state.clock() + state.config.download_url_ttl:.3f}"
    query = urlencode({"expires": expires, "signature": _signature(state, path, expires)})
    return f"{base_url}{quote(path)}?{query}"


def download_urls(
    state: SimulatorState, base_url: str, record: ExecutionRecord
) -> dict[str, object]:
    """The body of a downloadUrls answer for a finished execution."""
    base = f"{RESULTS_PREFIX}{record.execution_id}"
    return {
        "downloadUrls": [
            presign(state, base_url, f"{base}/{n}.csv")
            for n in range(1, state.config.result_files + 1)
        ],
        "metadataDownloadUrls": [presign(state, base_url, f"{base}/metadata.json")],
    }


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return Response(status, body, content_type="application/xml")


def _rows(state: SimulatorState, record: ExecutionRecord, file_number: int) -> Iterator[list[str]]:
    """The rows of one result file, made one at a time."""
    if record.result_is_empty:
        return
    seed = f"{state.config.seed}|result|{record.execution_id}|{file_number}"
    rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not security
    for index in range(state.config.result_rows):
        name = CAMPAIGNS[index % len(CAMPAIGNS)]
        if index >= len(CAMPAIGNS):
            name = f"{name} #{index // len(CAMPAIGNS) + 1}"
        reach = rng.randint(2_000, 900_000)
        frequency = rng.uniform(1.2, 6.5)
        impressions = round(reach * frequency)
        clicks = round(impressions * rng.uniform(0.001, 0.02))
        purchases = round(clicks * rng.uniform(0.02, 0.15))
        new_to_brand = round(purchases * rng.uniform(0.2, 0.8))
        yield [
            name,
            f"{rng.getrandbits(40):d}",
            rng.choice(AD_PRODUCTS),
            str(impressions),
            str(reach),
            f"{impressions / reach:.2f}",
            str(clicks),
            str(purchases),
            str(new_to_brand),
            f"{purchases * rng.uniform(8, 120):.2f}",
        ]


async def _csv_chunks(rows: Iterator[list[str]]) -> AsyncIterator[bytes]:
    """The header, then ``ROWS_PER_CHUNK`` rows at a time, as UTF-8 CSV."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(name for name, _ in COLUMNS)
    yield buffer.getvalue().encode("utf-8")
    while chunk := list(islice(rows, ROWS_PER_CHUNK)):
        buffer = io.StringIO()
        csv.writer(buffer).writerows(chunk)
        yield buffer.getvalue().encode("utf-8")


def _metadata(state: SimulatorState, record: ExecutionRecord) -> bytes:
    rows = 0 if record.result_is_empty else state.config.result_rows
    payload = {
        "workflowExecutionId": record.execution_id,
        "columns": [{"name": name, "type": kind} for name, kind in COLUMNS],
        "files": state.config.result_files,
        "rowsPerFile": rows,
    }
    return json.dumps(payload).encode()


def serve_result(state: SimulatorState, request: Request) -> Response:
    """A pre-signed result file, or 403 / 404 like S3."""
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
    parts = request.path[len(RESULTS_PREFIX) :].split("/")
    record = state.executions.get(parts[0]) if len(parts) == 2 else None
    if record is None:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    name = parts[1]
    if name == "metadata.json":
        return Response(200, _metadata(state, record))
    number = name.removesuffix(".csv")
    if not name.endswith(".csv") or not number.isdigit():
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    if not 1 <= int(number) <= state.config.result_files:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    rows = _rows(state, record, int(number))
    return Response(200, _csv_chunks(rows), content_type="text/csv; charset=utf-8")
