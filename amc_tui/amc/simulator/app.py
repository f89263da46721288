"""The ASGI application: :class:`AmcSimulator`, its routing and the account-level calls.

It answers the token endpoint, ``/amc/accounts``, ``/amc/instances``, the
workflow-execution calls (see :mod:`.executions_api`) and the pre-signed result
files (see :mod:`.results`).  For every AMC call it checks, in order: credentials
(401), the account headers (400 / 403), then draws injected faults (429 / 5xx), then
the instance (404 unknown, 403 another account's).  The per-operation knobs
(scripts, slow answers, odd bodies, dropped connections; :mod:`.operation_faults`) wrap
the token call and every call past the header checks.  Anything else is a JSON 404, or
405 for a known path with the wrong method.  With a state file (see :mod:`.persistence`)
the executions are shared with other processes and outlive this one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from amc_tui.amc.simulator import executions_api
from amc_tui.amc.simulator.asgi import (
    BodyTooLargeError,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error,
    handle_lifespan,
    json_response,
    read_request,
    send_response,
)
from amc_tui.amc.simulator.config import TOKEN_PATH, OperationKey, SimInstance, SimulatorConfig
from amc_tui.amc.simulator.faults import draw_fault
from amc_tui.amc.simulator.operation_faults import answer_with_knobs
from amc_tui.amc.simulator.persistence import ExecutionFile
from amc_tui.amc.simulator.records import ExecutionRecord
from amc_tui.amc.simulator.results import RESULTS_PREFIX, serve_result
from amc_tui.amc.simulator.state import SimulatorState
from amc_tui.amc.simulator.stats import SimulatorStats
from amc_tui.amc.simulator.tokens import check_account, check_credentials, token_endpoint


def _utc_now() -> datetime:
    return datetime.now(UTC)


RouteKey = OperationKey | Literal["GET result"]


class _Route:
    """What a path names: an operation key, its allowed methods, and its path parts."""

    def __init__(
        self,
        key: RouteKey,
        methods: tuple[str, ...],
        instance_id: str = "",
        execution_id: str = "",
    ) -> None:
        self.key = key
        self.methods = methods
        self.instance_id = instance_id
        self.execution_id = execution_id


def _route(method: str, path: str) -> _Route | None:
    if path == TOKEN_PATH:
        return _Route("POST token", ("POST",))
    if path.startswith(RESULTS_PREFIX):
        return _Route("GET result", ("GET",))
    if path == "/amc/accounts":
        return _Route("GET accounts", ("GET",))
    if path == "/amc/instances":
        return _Route("GET instances", ("GET",))
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[:2] != ["amc", "reporting"] or parts[3] != "workflowExecutions":
        return None
    instance_id = parts[2]
    if len(parts) == 4 and instance_id:
        key: OperationKey = "POST create" if method == "POST" else "GET list"
        return _Route(key, ("GET", "POST"), instance_id)
    if len(parts) == 5 and parts[4]:
        key = "PUT cancel" if method == "PUT" else "GET status"
        return _Route(key, ("GET", "PUT"), instance_id, parts[4])
    if len(parts) == 6 and parts[4] and parts[5] == "downloadUrls":
        return _Route("GET downloadUrls", ("GET",), instance_id, parts[4])
    return None


class AmcSimulator:
    """An Amazon Marketing Cloud look-alike, as an ASGI app.

    ``clock`` (monotonic seconds) drives execution progress, token and URL expiry;
    ``wall_clock`` (aware datetimes) stamps createTime and the like.  Inject both to
    make time pass in tests without sleeping.

    The simulator works on its own deep copy of ``config`` (scripts are consumed from
    it); change knobs while it runs through :attr:`config`.

    With ``state_file`` the executions are loaded from it, saved to it after every
    create or cancel, and re-read when another process changed it (see
    :mod:`.persistence`); without, they live in memory only.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        state_file: Path | None = None,
    ) -> None:
        own = config.model_copy(deep=True) if config is not None else SimulatorConfig()
        self._state = SimulatorState(own, clock, wall_clock)
        self._file = ExecutionFile(state_file, self._state) if state_file else None
        if self._file is not None:
            self._file.refresh()

    @property
    def config(self) -> SimulatorConfig:
        return self._state.config

    @property
    def stats(self) -> SimulatorStats:
        return self._state.stats

    @property
    def executions(self) -> dict[str, ExecutionRecord]:
        """Every execution made, by workflowExecutionId."""
        return self._state.executions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await handle_lifespan(receive, send)
            return
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1003})
            return
        try:
            request = await read_request(scope, receive)
        except BodyTooLargeError:
            response = error(413, "The request body is too large")
        else:
            response = await self._answer(request)
        if not response.cut_short:
            self.stats.responses[response.status] += 1
        await send_response(send, response)

    async def _answer(self, request: Request) -> Response:
        state = self._state
        config = state.config
        if config.latency_max > 0:
            delay = state.rng("latency").uniform(config.latency_min, config.latency_max)
            await asyncio.sleep(delay)
        route = _route(request.method, request.path)
        if route is None:
            self.stats.requests["other"] += 1
            return error(404, f"No such resource: {request.path}")
        if request.method not in route.methods:
            self.stats.requests["other"] += 1
            return error(
                405,
                f"Method {request.method} is not allowed on {request.path}",
                [("Allow", ", ".join(route.methods))],
            )
        self.stats.requests[route.key] += 1
        if route.key == "POST token":
            return await answer_with_knobs(state, route.key, lambda: token_endpoint(state, request))
        if route.key == "GET result":
            return serve_result(state, request)
        refused = check_credentials(state, request)
        if refused is not None:
            return refused
        if route.key == "GET accounts":
            return await answer_with_knobs(state, route.key, self._accounts)
        refused = check_account(state, request)
        if refused is not None:
            return refused
        return await answer_with_knobs(state, route.key, lambda: self._amc_call(request, route))

    def _amc_call(self, request: Request, route: _Route) -> Response:
        state = self._state
        if route.key == "GET instances":
            return self._fault(route.key) or self._instances(request)
        instance = state.instances.get(route.instance_id)
        if route.key == "GET status" and route.execution_id:
            state.stats.status_calls_per_execution[route.execution_id] += 1
        if route.key != "POST create":
            fault = self._fault(route.key, route.instance_id, route.execution_id)
            if fault is not None:
                return fault
        if instance is None:
            return error(404, f"Instance {route.instance_id} not found")
        if instance.advertiser_id != state.config.advertiser_id:
            return error(403, f"Not authorized to access instance {instance.instance_id}")
        return self._execution_call(request, route, instance)

    def _execution_call(self, request: Request, route: _Route, instance: SimInstance) -> Response:
        if self._file is None:
            return self._execution_answer(request, route, instance)
        if route.key in ("POST create", "PUT cancel"):
            with self._file.changes():
                return self._execution_answer(request, route, instance)
        self._file.refresh()
        return self._execution_answer(request, route, instance)

    def _execution_answer(self, request: Request, route: _Route, instance: SimInstance) -> Response:
        state = self._state
        if route.key == "POST create":
            return executions_api.create(state, request, instance)
        if route.key == "GET list":
            return executions_api.list_executions(state, request, instance)
        found = executions_api.find_execution(state, instance, route.execution_id)
        if isinstance(found, Response):
            return found
        if route.key == "PUT cancel":
            return executions_api.cancel(state, request, found)
        if route.key == "GET downloadUrls":
            return executions_api.download_urls(state, request, found)
        return executions_api.status(state, found)

    def _fault(self, *key: str) -> Response | None:
        return draw_fault(self._state, self._state.rng("fault", *key))

    def _accounts(self) -> Response:
        config = self._state.config
        account = {
            "accountId": config.advertiser_id,
            "accountName": config.account_name,
            "marketplaceId": config.marketplace_id,
        }
        return json_response(200, {"amcAccounts": [account]})

    def _instances(self, request: Request) -> Response:
        state = self._state
        offset = 0
        token = request.param("nextToken")
        if token is not None:
            decoded = state.read_page_token("instances", token)
            if decoded is None:
                return error(400, "nextToken is not valid")
            offset = decoded
        instances = state.account_instances()
        size = state.config.instances_page_size
        page = instances[offset : offset + size]
        payload: dict[str, object] = {"instances": [i.api_json() for i in page]}
        if offset + size < len(instances):
            payload["nextToken"] = state.page_token("instances", offset + size)
        return json_response(200, payload)
