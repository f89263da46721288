"""AmcClient: typed calls to the AMC API over one shared :class:`httpx.AsyncClient`.

It sends the four AMC headers on every call, authenticates through
:class:`~amc_tui.amc.auth.LwaAuth`, and turns every HTTP outcome into the error
taxonomy (see :mod:`amc_tui.amc.http_errors`).  It does not retry: retry policy
belongs to the engine, which knows what is safe to repeat.

A create that AMC accepted (2xx) but whose answer names no execution raises
:class:`~amc_tui.errors.LostAnswerError`: the execution exists and must be looked up,
not created again.

It does not know whether it talks to AMC or to the embedded simulator; the
transport is chosen by :mod:`amc_tui.amc.connection`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from amc_tui.amc.auth import LwaAuth, TokenManager
from amc_tui.amc.http_errors import error_from_response, error_from_transport
from amc_tui.amc.models import AmcExecution, AmcInstance, DownloadUrls
from amc_tui.domain import AMC_TIME_FORMAT, QuerySpec
from amc_tui.errors import LostAnswerError, ProtocolError, redact

log = logging.getLogger(__name__)

MAX_PAGES = 1000
"""A guard against a server that keeps handing out next tokens."""

CREATE_ANSWER_UNREADABLE = "AMC accepted the create but its answer could not be read"


def create_body(query: QuerySpec, instance_id: str) -> dict[str, Any]:
    """The JSON body that creates ``query``'s execution on one instance."""
    body: dict[str, Any] = {}
    if query.workflow_id is not None:
        body["workflowId"] = query.workflow_id
    else:
        body["workflow"] = {"sqlQuery": query.sql}
    body.update(query.time_window.amc_fields())
    body["parameterValues"] = query.parameters_for(instance_id)
    return body


def _execution_id_from_create(payload: object, location: str | None) -> dict[str, Any]:
    """The execution object of a create answer, whichever of AMC's shapes it has."""
    if isinstance(payload, dict):
        nested = payload.get("workflowExecution")
        if isinstance(nested, dict) and nested.get("workflowExecutionId"):
            return nested
        if payload.get("workflowExecutionId"):
            return payload
    if location:
        tail = location.rstrip("/").rsplit("/", 1)[-1]
        if tail:
            base = payload if isinstance(payload, dict) else {}
            return {**base, "workflowExecutionId": tail}
    raise ProtocolError(detail="create answer carries no workflowExecutionId")


class AmcClient:
    """The AMC calls amc-tui makes, for one account (advertiser) and marketplace."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_url: str,
        client_id: str,
        advertiser_id: str,
        marketplace_id: str,
        tokens: TokenManager,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.tokens = tokens
        self._auth = LwaAuth(tokens)
        self._clock = clock
        self._headers = {
            "Amazon-Advertising-API-ClientId": client_id,
            "Amazon-Advertising-API-AdvertiserId": advertiser_id,
            "Amazon-Advertising-API-MarketplaceId": marketplace_id,
            "Accept": "application/json",
        }

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AmcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- plumbing ------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> httpx.Response:
        started = self._clock()
        try:
            response = await self.http.request(
                method,
                self.api_url + path,
                params=params,
                json=json,
                headers=self._headers,
                auth=self._auth,
            )
        except httpx.TransportError as exc:
            log.warning("%s failed without an answer: %s", what, type(exc).__name__)
            raise error_from_transport(exc, what) from None
        elapsed = self._clock() - started
        log.debug("%s %s -> %s in %.3f s", method, path, response.status_code, elapsed)
        if response.is_success:
            return response
        error = error_from_response(response, what, self.tokens.secrets())
        log.warning("%s", error.log_text())
        raise error

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            raise ProtocolError(detail=f"{what}: answer is not JSON") from None
        if not isinstance(payload, dict):
            raise ProtocolError(detail=f"{what}: answer is not a JSON object")
        return payload

    async def _pages(
        self, path: str, what: str, params: dict[str, str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Each page of a paged GET, following ``nextToken`` until there is none.

        A token that comes back twice, or more than :data:`MAX_PAGES` pages, is a
        ProtocolError rather than an endless loop.
        """
        params = dict(params or {})
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            payload = self._json(
                await self._request("GET", path, what, params=params or None), what
            )
            yield payload
            token = payload.get("nextToken")
            if not token:
                return
            if token in seen:
                raise ProtocolError(detail=f"{what}: nextToken repeats")
            seen.add(token)
            params["nextToken"] = str(token)
        raise ProtocolError(detail=f"{what}: more than {MAX_PAGES} pages")

    @staticmethod
    def _base(instance_id: str) -> str:
        return f"/amc/reporting/{quote(instance_id, safe='')}/workflowExecutions"

    def _parse_execution(self, data: object, what: str) -> AmcExecution:
        try:
            return AmcExecution.model_validate(data)
        except ValidationError as exc:
            detail = redact(str(exc)[:500], self.tokens.secrets())
            raise ProtocolError(detail=f"{what}: {detail}") from None

    # --- instances -----------------------------------------------------------------

    async def list_instances(self) -> list[AmcInstance]:
        """Every instance the account can see, following ``nextToken`` to the end."""
        instances: list[AmcInstance] = []
        async for payload in self._pages("/amc/instances", "list instances"):
            items = payload.get("instances", [])
            if not isinstance(items, list):
                raise ProtocolError(detail="list instances: 'instances' is not a list")
            for item in items:
                try:
                    instances.append(AmcInstance.model_validate(item))
                except ValidationError:
                    log.warning("skipping an instance entry amc-tui cannot read")
        return instances

    # --- executions ----------------------------------------------------------------

    async def create_execution(self, instance_id: str, query: QuerySpec) -> AmcExecution:
        """Start ``query`` on one instance; returns the new execution (with its id)."""
        what = f"create execution on {instance_id}"
        response = await self._request(
            "POST", self._base(instance_id), what, json=create_body(query, instance_id)
        )
        try:
            payload: object = response.json()
        except ValueError:
            payload = None
        try:
            data = _execution_id_from_create(payload, response.headers.get("Location"))
            data.setdefault("status", "PENDING")
            return self._parse_execution(data, what)
        except ProtocolError as unreadable:
            # AMC said yes (2xx): the execution exists, only the answer naming it is
            # unusable.  The caller must find it with the list call, not create again.
            raise LostAnswerError(
                CREATE_ANSWER_UNREADABLE, detail=f"{what}: {unreadable.detail}"
            ) from None

    async def get_execution(self, instance_id: str, execution_id: str) -> AmcExecution:
        what = f"status of {execution_id} on {instance_id}"
        path = f"{self._base(instance_id)}/{quote(execution_id, safe='')}"
        payload = self._json(await self._request("GET", path, what), what)
        nested = payload.get("workflowExecution")
        return self._parse_execution(nested if isinstance(nested, dict) else payload, what)

    async def list_executions(
        self,
        instance_id: str,
        *,
        min_creation_time: datetime,
        max_creation_time: datetime | None = None,
        workflow_id: str | None = None,
        include_cancelled: bool = True,
        page_size: int = 100,
    ) -> list[AmcExecution]:
        """Executions created on the instance in a time range (UTC), all pages."""
        what = f"list executions on {instance_id}"
        params = {
            "minCreationTime": _amc_utc(min_creation_time),
            "includeCancelled": "true" if include_cancelled else "false",
            "sortAscending": "true",
            "limit": str(page_size),
        }
        if max_creation_time is not None:
            params["maxCreationTime"] = _amc_utc(max_creation_time)
        if workflow_id is not None:
            params["workflowId"] = workflow_id
        found: list[AmcExecution] = []
        async for payload in self._pages(self._base(instance_id), what, params):
            # Strict on purpose: this answer decides whether a lost create made an
            # execution, and reading a garbled page as "none" would make a duplicate.
            items = payload.get("executions")
            if not isinstance(items, list):
                raise ProtocolError(detail=f"{what}: 'executions' is missing or not a list")
            found.extend(self._parse_execution(item, what) for item in items)
        return found

    async def cancel_execution(self, instance_id: str, execution_id: str) -> None:
        """Ask AMC to cancel; allowed only while the execution is PENDING or RUNNING."""
        what = f"cancel {execution_id} on {instance_id}"
        path = f"{self._base(instance_id)}/{quote(execution_id, safe='')}"
        await self._request("PUT", path, what, json={"status": "CANCELLED"})

    async def get_download_urls(self, instance_id: str, execution_id: str) -> DownloadUrls:
        """Pre-signed result URLs, all pages merged.  404 (NotFoundError) while not ready."""
        what = f"download URLs of {execution_id} on {instance_id}"
        path = f"{self._base(instance_id)}/{quote(execution_id, safe='')}/downloadUrls"
        merged = DownloadUrls()
        async for payload in self._pages(path, what):
            try:
                page = DownloadUrls.model_validate(payload)
            except ValidationError:
                raise ProtocolError(detail=f"{what}: unexpected shape") from None
            merged.download_urls.extend(page.download_urls)
            merged.metadata_download_urls.extend(page.metadata_download_urls)
        return merged


def _amc_utc(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(AMC_TIME_FORMAT)
