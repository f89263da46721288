"""Login with Amazon (LWA) refresh-token authentication, as an :class:`httpx.Auth`.

:class:`TokenManager` trades the refresh token for an access token at the LWA
token endpoint, caches it, and refreshes it shortly before it expires.  Only one
refresh runs at a time: concurrent callers wait for it and share its result.

:class:`LwaAuth` puts the bearer token on each request and, on a 401, refreshes
once (unless another request already did) and sends the request again.  A second
401 is returned to the caller, which maps it to a credentials error.

Token endpoint outcomes: 400/401 are a credentials problem (permanent); 429, 5xx
and a 2xx answer that cannot be read are transient.  A failed token call means the
AMC call it was for never went out, so its errors say so (``may_have_taken_effect``
is False: a create needs no look-up before it is tried again).  A refusal is
shared: the callers that waited for the refused token call get the same error
without a request of their own (no storm of token calls from a batch's concurrent
executions); a later call (the operator retrying) asks again.  No token or secret
ever enters a log line or an exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from amc_tui.amc.http_errors import error_from_response, error_from_transport, response_detail
from amc_tui.errors import (
    TOKEN_SERVICE_MESSAGES,
    AmcTuiError,
    CredentialsError,
    ErrorCategory,
    TransientError,
)

log = logging.getLogger(__name__)

DEFAULT_EXPIRES_IN = 3600.0
MAX_REFRESH_MARGIN = 60.0
"""Refresh this many seconds before expiry (or a tenth of the lifetime, if shorter)."""

LWA_ANSWER_UNREADABLE = "Login with Amazon sent an answer amc-tui does not understand"


def _as_token_error(error: AmcTuiError) -> AmcTuiError:
    """The error told as the token service's, not AMC's (the operator looks elsewhere)."""
    message = TOKEN_SERVICE_MESSAGES.get(error.category)
    return error.restated(message) if message is not None else error


class UnreadableTokenAnswerError(TransientError):
    """The token endpoint said yes (2xx) in a way that cannot be read.

    Transient: nothing about the credentials is known to be wrong, and the next token
    call is likely to be read (a proxy garbling one answer); the AMC call it was for
    never went out.
    """

    category = ErrorCategory.PROTOCOL
    may_have_taken_effect = False

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(LWA_ANSWER_UNREADABLE, detail=detail)


@dataclass(frozen=True)
class AccessToken:
    value: SecretStr
    refresh_at: float
    """When to fetch the next one, on the manager's monotonic clock (shortly before expiry)."""


class TokenManager:
    """Holds the LWA credentials and the current access token."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        refresh_token: SecretStr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._clock = clock
        self._token: AccessToken | None = None
        self._finished = 0
        """Token calls finished so far (answered or failed)."""
        self._refusal: tuple[int, CredentialsError] | None = None
        """The last refusal, with the number of the token call that got it."""
        self._lock = asyncio.Lock()
        self.refresh_count = 0

    def secrets(self) -> list[str]:
        """Every secret value this manager holds, for redaction lists."""
        values = [self._client_secret.get_secret_value(), self._refresh_token.get_secret_value()]
        if self._token is not None:
            values.append(self._token.value.get_secret_value())
        return values

    async def get(self, *, stale: str | None = None) -> str:
        """A valid access token.

        ``stale`` names a token the server just refused: a new one is fetched unless
        another caller has replaced it in the meantime.  A caller that was waiting
        while the token call was refused gets the same refusal, without asking again.
        """
        asked = self._finished
        token = self._token
        if self._usable(token, stale):
            assert token is not None
            return token.value.get_secret_value()
        async with self._lock:
            token = self._token
            if self._usable(token, stale):
                assert token is not None
                return token.value.get_secret_value()
            if self._refusal is not None and self._refusal[0] > asked:
                raise CredentialsError(
                    self._refusal[1].user_message, detail="refused while this call waited"
                )
            try:
                self._token = await self._fetch()
            except CredentialsError as refused:
                self._refusal = (self._finished + 1, refused)
                raise
            except AmcTuiError as error:
                if isinstance(error, TransientError):
                    error.may_have_taken_effect = False  # the AMC call was never sent
                raise
            finally:
                self._finished += 1
            return self._token.value.get_secret_value()

    def _usable(self, token: AccessToken | None, stale: str | None) -> bool:
        if token is None or self._clock() >= token.refresh_at:
            return False
        return stale is None or token.value.get_secret_value() != stale

    async def _fetch(self) -> AccessToken:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.get_secret_value(),
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        started = self._clock()
        try:
            response = await self._http.post(self._token_url, data=form)
        except httpx.TransportError as exc:
            raise _as_token_error(error_from_transport(exc, "POST token")) from None
        if response.status_code in (400, 401):
            raise CredentialsError(
                "Login with Amazon refused the credentials",
                detail=response_detail(response, "POST token", self.secrets()),
            )
        if response.status_code >= 300:
            raise _as_token_error(error_from_response(response, "POST token", self.secrets()))
        try:
            payload = response.json()
            value = payload["access_token"]
            if not isinstance(value, str) or not value:
                raise TypeError("access_token is not a string")
            expires_in = float(payload.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (ValueError, KeyError, TypeError) as exc:
            raise UnreadableTokenAnswerError(
                detail=f"token answer unusable: {type(exc).__name__}"
            ) from None
        rotated = payload.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self._refresh_token = SecretStr(rotated)
        self.refresh_count += 1
        margin = min(MAX_REFRESH_MARGIN, expires_in / 10)
        log.info("access token obtained, valid for %.0f s", expires_in)
        return AccessToken(
            value=SecretStr(value),
            refresh_at=started + expires_in - margin,
        )


class LwaAuth(httpx.Auth):
    """Bearer-token auth with one refresh-and-retry on 401."""

    def __init__(self, tokens: TokenManager) -> None:
        self.tokens = tokens

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("LwaAuth works with httpx.AsyncClient only")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.tokens.get()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        log.info("AMC answered 401; refreshing the access token once")
        token = await self.tokens.get(stale=token)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request
