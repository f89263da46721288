"""Every HTTP outcome's place in the error taxonomy, and both forms of Retry-After."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from amc_tui.amc.http_errors import error_from_response, error_from_transport, parse_retry_after
from amc_tui.errors import (
    AccessDeniedError,
    CredentialsError,
    ErrorCategory,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
    ThrottledError,
)

REQUEST = httpx.Request("GET", "https://amc.test/amc/instances")


def response(
    status: int, body: str = '{"code": "x", "details": "y"}', **headers: str
) -> httpx.Response:
    return httpx.Response(status, text=body, headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("status", "kind", "transient"),
    [
        (400, InvalidRequestError, False),
        (401, CredentialsError, False),
        (403, AccessDeniedError, False),
        (404, NotFoundError, False),
        (408, RequestTimeoutError, True),
        (409, InvalidRequestError, False),
        (422, InvalidRequestError, False),
        (429, ThrottledError, True),
        (500, ServerError, True),
        (501, ProtocolError, False),
        (502, ServerError, True),
        (503, ServerError, True),
        (504, ServerError, True),
        (505, ProtocolError, False),
    ],
)
def test_status_codes_are_classified(status: int, kind: type, transient: bool) -> None:
    error = error_from_response(response(status), "list instances")
    assert type(error) is kind
    assert error.transient is transient
    assert f"HTTP {status}" in error.detail


def test_server_body_goes_to_detail_never_to_the_message() -> None:
    marker = "SERVER-BODY-MARKER-9f3a"
    error = error_from_response(response(500, marker), "create")
    assert marker in error.detail
    assert marker not in str(error)
    assert str(error) == "AMC had a server error"


def test_secrets_are_scrubbed_from_detail() -> None:
    error = error_from_response(response(400, "token Atza|abcdef leaked"), "x", ["Atza|abcdef"])
    assert "Atza|abcdef" not in error.detail
    assert "***" in error.detail


def test_429_carries_retry_after_seconds() -> None:
    error = error_from_response(response(429, **{"Retry-After": "7"}), "x")
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 7.0
    assert error.may_have_taken_effect is False
    assert error.category is ErrorCategory.THROTTLED


def test_retry_after_as_http_date() -> None:
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(header, now=lambda: now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=lambda: now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf", "Mon, 99 Foo 2020"])
def test_unusable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_transport_errors() -> None:
    connect = error_from_transport(httpx.ConnectError("refused", request=REQUEST), "x")
    assert isinstance(connect, NetworkError)
    assert connect.transient and connect.may_have_taken_effect is False
    read = error_from_transport(httpx.ReadError("reset", request=REQUEST), "x")
    assert isinstance(read, NetworkError) and read.may_have_taken_effect is True
    timeout = error_from_transport(httpx.ReadTimeout("slow", request=REQUEST), "x")
    assert isinstance(timeout, RequestTimeoutError)
    assert timeout.transient and timeout.may_have_taken_effect is True
    pool = error_from_transport(httpx.PoolTimeout("full", request=REQUEST), "x")
    assert isinstance(pool, RequestTimeoutError) and pool.may_have_taken_effect is False


async def test_paging_stops_on_a_repeating_next_token() -> None:
    """A server that hands out the same nextToken forever is a protocol error, not a hang."""
    from pydantic import SecretStr

    from amc_tui.amc.auth import TokenManager
    from amc_tui.amc.client import AmcClient
    from amc_tui.errors import ProtocolError

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "tok-1234", "expires_in": 3600})
        calls.append(str(request.url))
        if request.url.path.endswith("/downloadUrls"):
            page = request.url.params.get("nextToken", "0")
            following = {"0": "1", "1": None}[page]
            return httpx.Response(
                200, json={"downloadUrls": [f"https://r/{page}.csv"], "nextToken": following}
            )
        return httpx.Response(200, json={"instances": [], "nextToken": "same"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    tokens = TokenManager(
        http,
        token_url="https://lwa.test/token",
        client_id="c",
        client_secret=SecretStr("secret-1234"),
        refresh_token=SecretStr("refresh-1234"),
    )
    client = AmcClient(
        http,
        api_url="https://amc.test",
        client_id="c",
        advertiser_id="E",
        marketplace_id="M",
        tokens=tokens,
    )
    async with client:
        with pytest.raises(ProtocolError) as caught:
            await client.list_instances()
        assert "nextToken repeats" in caught.value.detail
        assert len(calls) == 2
        urls = await client.get_download_urls("amc1", "exec1")
    assert urls.download_urls == ["https://r/0.csv", "https://r/1.csv"]
