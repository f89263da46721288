"""Simulator: download URLs and the streamed CSV results."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sim_support import (
    Harness,
    MakeHarness,
    quiet,
)

from amc_tui.amc.simulator import (
    SIMULATOR_BASE_URL,
)
from amc_tui.amc.simulator.results import COLUMNS

# --- results ---------------------------------------------------------------------------


async def _fetch_csv(h: Harness, url: str) -> list[list[str]]:
    response = await h.http.get(url)  # pre-signed: no AMC headers at all
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))


async def test_download_urls_and_csv(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=30, result_files=2))
    execution_id = await h.create_id()
    not_yet = await h.download_urls(execution_id)
    assert not_yet.status_code == 404
    h.clock.advance(50.0)
    assert (await h.download_urls(execution_id)).status_code == 404
    h.clock.advance(50.0)
    response = await h.download_urls(execution_id)
    assert response.status_code == 200
    body = response.json()
    assert len(body["downloadUrls"]) == 2
    assert len(body["metadataDownloadUrls"]) == 1
    for url in body["downloadUrls"]:
        assert url.startswith(SIMULATOR_BASE_URL + "/")
        rows = await _fetch_csv(h, url)
        assert rows[0] == [name for name, _ in COLUMNS]
        assert len(rows) == 31
        assert all(len(row) == len(COLUMNS) for row in rows)
    rows = await _fetch_csv(h, body["downloadUrls"][0])
    campaigns = {row[0] for row in rows[1:]}
    tricky = 'Spring Sale, "Outdoor Gear" – Größe M'  # noqa: RUF001
    assert tricky in campaigns
    assert any(not c.isascii() for c in campaigns)
    assert int(rows[1][3]) > 0  # impressions
    metadata = await h.http.get(body["metadataDownloadUrls"][0])
    assert metadata.status_code == 200
    assert [c["name"] for c in metadata.json()["columns"]] == rows[0]
    assert h.sim.stats.requests["GET result"] == 4


async def test_results_are_deterministic_per_seed_and_execution(make: MakeHarness) -> None:
    first, second = await make(quiet(seed=5)), await make(quiet(seed=5))
    contents = []
    for h in (first, second):
        execution_id = await h.create_id()
        h.clock.advance(100.0)
        url = (await h.download_urls(execution_id)).json()["downloadUrls"][0]
        contents.append(await _fetch_csv(h, url))
    assert contents[0] == contents[1]


async def test_zone_suffixed_window_gives_an_empty_result(make: MakeHarness) -> None:
    h = await make()
    execution_id = await h.create_id(timeWindowEnd="2024-05-08T00:00:00Z")
    h.clock.advance(100.0)
    assert await h.status_of(execution_id) == "SUCCEEDED"
    url = (await h.download_urls(execution_id)).json()["downloadUrls"][0]
    rows = await _fetch_csv(h, url)
    assert rows == [[name for name, _ in COLUMNS]]


async def test_download_url_expires_and_cannot_be_forged(make: MakeHarness) -> None:
    h = await make(quiet(download_url_ttl=600.0))
    execution_id = await h.create_id()
    h.clock.advance(100.0)
    url = (await h.download_urls(execution_id)).json()["downloadUrls"][0]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = dict(query, signature="0" * 64)
    response = await h.http.get(f"{parts.path}?{urlencode(forged)}")
    assert response.status_code == 403
    assert b"SignatureDoesNotMatch" in response.content
    stretched = dict(query, expires=str(float(query["expires"]) + 1000))
    assert (await h.http.get(f"{parts.path}?{urlencode(stretched)}")).status_code == 403
    assert (await h.http.get(parts.path)).status_code == 403
    h.clock.advance(599.0)
    assert (await h.http.get(url)).status_code == 200
    h.clock.advance(2.0)
    expired = await h.http.get(url)
    assert expired.status_code == 403
    assert b"expired" in expired.content
    fresh = (await h.download_urls(execution_id)).json()["downloadUrls"][0]
    assert (await h.http.get(fresh)).status_code == 200


async def test_publish_delay_holds_download_urls_back(make: MakeHarness) -> None:
    h = await make(quiet(publish_delay=10.0))
    execution_id = await h.create_id()
    h.clock.advance(101.0)
    assert await h.status_of(execution_id) == "SUCCEEDED"
    assert (await h.download_urls(execution_id)).status_code == 404
    h.clock.advance(10.0)
    assert (await h.download_urls(execution_id)).status_code == 200


async def test_large_results_are_streamed_in_chunks(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=1000))
    execution_id = await h.create_id()
    h.clock.advance(100.0)
    url = urlsplit((await h.download_urls(execution_id)).json()["downloadUrls"][0])
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": url.path,
        "query_string": url.query.encode(),
        "headers": [(b"host", b"amc-simulator")],
        "scheme": "http",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        messages.append(dict(message))

    await h.sim(scope, receive, send)
    bodies = [m for m in messages if m["type"] == "http.response.body"]
    assert messages[0]["status"] == 200
    assert len(bodies) > 3
    assert all(m["more_body"] for m in bodies[:-1]) and not bodies[-1]["more_body"]
    text = b"".join(m["body"] for m in bodies).decode("utf-8")
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == 1001
