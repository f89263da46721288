"""Simulator: download URLs (paged) and the result files, which behave like S3 objects
(exact length, ETag, byte ranges, cut-off downloads)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sim_support import (
    FakeClock,
    Harness,
    MakeHarness,
    quiet,
    token_form,
)

from amc_tui.amc.auth import TokenManager
from amc_tui.amc.client import AmcClient
from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MARKETPLACE_ID,
    DEMO_REFRESH_TOKEN,
    SIMULATOR_BASE_URL,
    TOKEN_PATH,
    AmcSimulator,
)
from amc_tui.amc.simulator.result_objects import (
    BLOCK_ROWS,
    HEADER,
    ResultCache,
    result_cache,
    result_object,
)
from amc_tui.amc.simulator.results import COLUMNS
from amc_tui.amc.simulator.server import ThreadedServer
from amc_tui.domain import QuerySpec, TimeWindow

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


# --- result files as S3 objects ----------------------------------------------------------

ETAG = re.compile(r'"[0-9a-f]{16,}"')


async def _urls(h: Harness, execution_id: str | None = None) -> dict[str, Any]:
    """The (first page of the) downloadUrls answer of a finished execution."""
    if execution_id is None:
        execution_id = await h.create_id()
    h.clock.advance(100.0)
    response = await h.download_urls(execution_id)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _url(h: Harness, n: int = 1) -> str:
    return str((await _urls(h))["downloadUrls"][n - 1])


def _parse(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


async def test_a_result_file_has_an_exact_length_and_s3_headers(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=120, result_files=2))
    urls = await _urls(h)
    metadata = (await h.http.get(urls["metadataDownloadUrls"][0])).json()
    for n, url in enumerate(urls["downloadUrls"], start=1):
        response = await h.http.get(url)
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(response.content)
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["accept-ranges"] == "bytes"
        assert ETAG.fullmatch(response.headers["etag"])
        detail = metadata["fileDetails"][n - 1]
        assert detail == {
            "name": f"{n}.csv",
            "rows": 120,
            "sizeBytes": len(response.content),
            "etag": response.headers["etag"],
        }
    assert metadata["rowsPerFile"] == 120


async def test_a_long_file_repeats_a_block_and_parses_with_quoted_newlines(
    make: MakeHarness,
) -> None:
    rows_wanted = 2 * BLOCK_ROWS + 345  # two whole blocks and a part of a third
    h = await make(quiet(result_rows=rows_wanted))
    response = await h.http.get(await _url(h))
    assert int(response.headers["content-length"]) == len(response.content)
    assert b'"Line one\nline two"' in response.content  # quoted, newline kept raw
    rows = _parse(response.content)
    assert rows[0] == [name for name, _ in COLUMNS]
    assert len(rows) == rows_wanted + 1
    assert all(len(row) == len(COLUMNS) for row in rows)
    campaigns = {row[0] for row in rows[1:]}
    assert "Line one\nline two" in campaigns
    assert 'Gift Guide:\n"Top 10", under $25' in campaigns
    assert rows[1 + BLOCK_ROWS] == rows[1]  # the block again
    assert rows[1 + 2 * BLOCK_ROWS : 1 + rows_wanted] == rows[1:346]  # cut at a row end
    assert response.content.endswith(b"\r\n")


async def test_the_default_result_has_no_embedded_newline(make: MakeHarness) -> None:
    # A line count of a default-sized file (25 rows) still counts its rows.
    h = await make(quiet())
    response = await h.http.get(await _url(h))
    assert response.content.count(b"\n") == h.sim.config.result_rows + 1


async def test_the_same_object_has_the_same_etag_and_bytes(make: MakeHarness) -> None:
    first, second = await make(quiet(seed=5, result_files=2)), await make(quiet(seed=5))
    urls_a = (await _urls(first))["downloadUrls"]
    url_b = (await _urls(second))["downloadUrls"][0]
    a1, a1_again = await first.http.get(urls_a[0]), await first.http.get(urls_a[0])
    b1 = await second.http.get(url_b)
    assert a1.headers["etag"] == a1_again.headers["etag"] == b1.headers["etag"]
    assert a1.content == a1_again.content == b1.content
    a2 = await first.http.get(urls_a[1])
    other = await first.http.get((await _urls(first))["downloadUrls"][0])  # a new execution
    etags = {a1.headers["etag"], a2.headers["etag"], other.headers["etag"]}
    assert len(etags) == 3
    assert other.content != a1.content
    reseeded = await make(quiet(seed=6))
    assert (await reseeded.http.get(await _url(reseeded))).headers["etag"] != a1.headers["etag"]


async def test_byte_ranges_give_exactly_the_bytes_asked(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=BLOCK_ROWS + 2_000))
    execution_id = await h.create_id()
    url = (await _urls(h, execution_id))["downloadUrls"][0]
    whole = (await h.http.get(url)).content
    size = len(whole)
    block = result_object(h.sim._state, h.sim.executions[execution_id], 1).block
    block_end = len(HEADER) + len(block.data)  # where the repetition starts
    row_end = whole.index(b"\r\n", 1000) + 2  # a row boundary in the first block
    starts = [0, 1, len(HEADER), row_end, block_end - 1, block_end, block_end + 777, size - 1]
    for first in starts:
        response = await h.http.get(url, headers={"Range": f"bytes={first}-"})
        assert response.status_code == 206
        assert response.content == whole[first:]
        assert response.headers["content-range"] == f"bytes {first}-{size - 1}/{size}"
        assert int(response.headers["content-length"]) == size - first
        assert response.headers["etag"] == (await h.http.get(url)).headers["etag"]
        for length in (1, 100, 70_000):
            last = first + length - 1
            response = await h.http.get(url, headers={"Range": f"bytes={first}-{last}"})
            assert response.status_code == 206
            assert response.content == whole[first : last + 1]
            shown = min(last, size - 1)
            assert response.headers["content-range"] == f"bytes {first}-{shown}/{size}"
    tail = await h.http.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == whole[-100:]
    assert tail.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"


async def test_a_range_past_the_end_is_416(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=50))
    url = await _url(h)
    size = len((await h.http.get(url)).content)
    for asked in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        response = await h.http.get(url, headers={"Range": asked})
        assert response.status_code == 416, asked
        assert response.headers["content-range"] == f"bytes */{size}"
        assert b"<Code>InvalidRange</Code>" in response.content
    assert (await h.http.get(url, headers={"Range": f"bytes={size - 1}-"})).status_code == 206


async def test_malformed_or_multiple_ranges_get_the_whole_object(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=50))
    url = await _url(h)
    whole = (await h.http.get(url)).content
    for asked in ("bytes=0-10,20-30", "bytes=abc", "items=0-5", "bytes=10-5", "bytes=-", "0-5"):
        response = await h.http.get(url, headers={"Range": asked})
        assert response.status_code == 200, asked
        assert response.content == whole
        assert "content-range" not in response.headers


async def test_if_range_other_than_the_etag_gets_the_whole_object(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=50))
    url = await _url(h)
    whole = await h.http.get(url)
    etag = whole.headers["etag"]
    matching = await h.http.get(url, headers={"Range": "bytes=10-", "If-Range": etag})
    assert matching.status_code == 206 and matching.content == whole.content[10:]
    for stale in (
        '"0123456789abcdef0123456789abcdef"',
        f"W/{etag}",
        "Sat, 01 Jun 2024 12:00:00 GMT",
    ):
        response = await h.http.get(url, headers={"Range": "bytes=10-", "If-Range": stale})
        assert response.status_code == 200, stale
        assert response.content == whole.content


async def test_metadata_answers_ranges_too(make: MakeHarness) -> None:
    h = await make(quiet())
    url = (await _urls(h))["metadataDownloadUrls"][0]
    whole = await h.http.get(url)
    assert int(whole.headers["content-length"]) == len(whole.content)
    assert ETAG.fullmatch(whole.headers["etag"])
    part = await h.http.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == whole.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(whole.content)}"


async def test_an_empty_result_is_the_header_alone(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=1000))
    execution_id = await h.create_id(timeWindowEnd="2024-05-08T00:00:00Z")
    url = (await _urls(h, execution_id))["downloadUrls"][0]
    response = await h.http.get(url)
    assert response.content == HEADER
    assert int(response.headers["content-length"]) == len(HEADER)
    assert (await h.http.get(url, headers={"Range": f"bytes={len(HEADER)}-"})).status_code == 416


async def test_a_huge_file_has_a_size_without_being_generated(make: MakeHarness) -> None:
    rows = 2_000_000
    h = await make(quiet(result_rows=rows))
    execution_id = await h.create_id()
    urls = await _urls(h, execution_id)
    url = urls["downloadUrls"][0]
    first = await h.http.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.content == HEADER[:100]
    size = int(first.headers["content-range"].rsplit("/", 1)[1])
    cache = result_cache(h.sim._state)
    assert [key[3] for key in cache.blocks] == [BLOCK_ROWS]  # only the block was made
    (block,) = cache.blocks.values()
    assert len(block.data) < 1_000_000
    assert size == len(HEADER) + (rows // BLOCK_ROWS) * len(block.data)
    assert size > 150_000_000
    last = await h.http.get(url, headers={"Range": f"bytes={size - 100}-"})
    assert last.content == block.data[-100:]
    metadata = (await h.http.get(urls["metadataDownloadUrls"][0])).json()
    assert metadata["fileDetails"][0]["sizeBytes"] == size


def test_the_block_cache_is_bounded() -> None:
    cache = ResultCache(capacity=2)
    first = cache.block(0, "a", 1, 10)
    cache.block(0, "b", 1, 10)
    assert cache.block(0, "a", 1, 10) is first  # a hit, and now the most recent
    cache.block(0, "c", 1, 10)
    assert [key[1] for key in cache.blocks] == ["a", "c"]


# --- paged downloadUrls ------------------------------------------------------------------


async def test_download_urls_are_paged(make: MakeHarness) -> None:
    h = await make(quiet(result_files=3, download_urls_page_size=2))
    execution_id = await h.create_id()
    first = await _urls(h, execution_id)
    assert len(first["downloadUrls"]) == 2 and len(first["metadataDownloadUrls"]) == 1
    path = f"{h.base('amc359b33843')}/{execution_id}/downloadUrls"
    params = {"nextToken": first["nextToken"]}
    second = (await h.http.get(path, params=params, headers=h.headers())).json()
    assert len(second["downloadUrls"]) == 1 and "nextToken" not in second
    assert second["metadataDownloadUrls"] == []
    urls = first["downloadUrls"] + second["downloadUrls"]
    assert len(set(urls)) == 3
    assert [urlsplit(u).path.rsplit("/", 1)[1] for u in urls] == ["1.csv", "2.csv", "3.csv"]
    for url in urls:
        assert (await h.http.get(url)).status_code == 200
    other_id = await h.create_id()
    other = await _urls(h, other_id)
    foreign = {"nextToken": other["nextToken"]}  # another execution's token
    assert (await h.http.get(path, params=foreign, headers=h.headers())).status_code == 400
    forged = {"nextToken": "bm9wZQ"}
    assert (await h.http.get(path, params=forged, headers=h.headers())).status_code == 400


async def test_the_client_merges_download_url_pages() -> None:
    clock = FakeClock()
    config = quiet(result_files=3, download_urls_page_size=2)
    sim = AmcSimulator(config, clock=clock, wall_clock=clock.wall)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim))
    tokens = TokenManager(
        http,
        token_url=SIMULATOR_BASE_URL + TOKEN_PATH,
        client_id=DEMO_CLIENT_ID,
        client_secret=SecretStr(DEMO_CLIENT_SECRET),
        refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
    )
    client = AmcClient(
        http,
        api_url=SIMULATOR_BASE_URL,
        client_id=DEMO_CLIENT_ID,
        advertiser_id=DEMO_ADVERTISER_ID,
        marketplace_id=DEMO_MARKETPLACE_ID,
        tokens=tokens,
    )
    async with client:
        instance = (await client.list_instances())[0].instance_id
        window = TimeWindow(start="2025-01-01T00:00:00", end="2025-01-08T00:00:00")
        created = await client.create_execution(
            instance, QuerySpec(sql="SELECT 1", time_window=window)
        )
        clock.advance(100.0)
        urls = await client.get_download_urls(instance, created.execution_id)
    assert len(urls.download_urls) == 3 and len(set(urls.download_urls)) == 3
    assert len(urls.metadata_download_urls) == 1
    assert sim.stats.requests["GET downloadUrls"] == 2


# --- cut-off downloads -------------------------------------------------------------------


async def test_the_first_gets_of_each_file_are_cut_short(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=3000, result_files=2, result_cuts=2))
    url_1, url_2 = (await _urls(h))["downloadUrls"]
    answered = h.sim.stats.responses[200]
    cut = [await h.http.get(url_1) for _ in range(2)]
    for response in cut:
        declared = int(response.headers["content-length"])
        assert len(response.content) == declared // 2
    whole = await h.http.get(url_1)
    assert len(whole.content) == int(whole.headers["content-length"])
    assert cut[0].content == whole.content[: len(cut[0].content)]
    ranged = await h.http.get(url_2, headers={"Range": "bytes=100-1099"})  # file 2: its own count
    assert ranged.status_code == 206 and ranged.headers["content-length"] == "1000"
    assert len(ranged.content) == 500
    assert h.sim.stats.dropped_connections == 3
    assert h.sim.stats.responses[200] == answered + 1  # cut answers are not counted


async def test_a_cut_rate_of_one_cuts_every_get(make: MakeHarness) -> None:
    h = await make(quiet(result_rows=300, result_cut_rate=1.0))
    urls = await _urls(h)
    for _ in range(3):
        response = await h.http.get(urls["downloadUrls"][0])
        assert len(response.content) < int(response.headers["content-length"])
    metadata = await h.http.get(urls["metadataDownloadUrls"][0])  # never cut
    assert len(metadata.content) == int(metadata.headers["content-length"])


@pytest.mark.socket
async def test_a_cut_download_is_a_dropped_connection_over_a_real_port() -> None:
    clock = FakeClock()
    sim = AmcSimulator(quiet(result_rows=20_000, result_cuts=1), clock=clock, wall_clock=clock.wall)
    with ThreadedServer(sim) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0) as http:
            token = (await http.post(TOKEN_PATH, data=token_form())).json()["access_token"]
            headers = {
                "Authorization": f"Bearer {token}",
                "Amazon-Advertising-API-ClientId": DEMO_CLIENT_ID,
                "Amazon-Advertising-API-AdvertiserId": DEMO_ADVERTISER_ID,
                "Amazon-Advertising-API-MarketplaceId": DEMO_MARKETPLACE_ID,
            }
            base = "/amc/reporting/amc359b33843/workflowExecutions"
            body = {"workflowId": "reach-frequency", "timeWindowType": "MOST_RECENT_WEEK"}
            created = await http.post(base, json=body, headers=headers)
            clock.advance(100.0)
            path = f"{base}/{created.json()['workflowExecutionId']}/downloadUrls"
            url = (await http.get(path, headers=headers)).json()["downloadUrls"][0]
            received = 0
            with pytest.raises(httpx.RemoteProtocolError):
                async with http.stream("GET", url) as response:
                    declared = int(response.headers["content-length"])
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
            assert 0 < received < declared
            again = await http.get(url, headers={"Range": f"bytes={received}-"})
            assert again.status_code == 206
            assert received + len(again.content) == declared
