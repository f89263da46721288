"""AmcClient and Login-with-Amazon auth against the embedded simulator, in-process.

The simulator's clock and the client's token clock are separate fakes, so token
expiry on either side is driven without sleeping.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from amc_tui.amc.auth import TokenManager
from amc_tui.amc.client import AmcClient, create_body
from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MARKETPLACE_ID,
    DEMO_REFRESH_TOKEN,
    SIMULATOR_BASE_URL,
    TOKEN_PATH,
    AmcSimulator,
    SimulatorConfig,
)
from amc_tui.domain import ExecutionStatus, QuerySpec, TimeWindow
from amc_tui.errors import (
    AccessDeniedError,
    CredentialsError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ThrottledError,
)

CALM = dict(
    throttle_rate=0.0,
    server_error_rate=0.0,
    lost_answer_rate=0.0,
    failure_rate=0.0,
    duration_min=100.0,
    duration_max=100.0,
    time_scale=1.0,
)
SQL = "SELECT campaign, SUM(impressions) AS impressions FROM dsp_impressions GROUP BY 1"
QUERY = QuerySpec(
    sql=SQL,
    time_window=TimeWindow(start="2025-01-01T00:00:00", end="2025-01-08T00:00:00"),
    parameters={"brand": "acme"},
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Env:
    def __init__(self, **knobs: object) -> None:
        self.sim_clock = Clock()
        self.client_clock = Clock()
        self.sim = AmcSimulator(SimulatorConfig(**{**CALM, **knobs}), clock=self.sim_clock)
        self.client = self.make_client()

    def make_client(
        self, *, secret: str = DEMO_CLIENT_SECRET, advertiser: str = DEMO_ADVERTISER_ID
    ) -> AmcClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.sim))
        tokens = TokenManager(
            http,
            token_url=SIMULATOR_BASE_URL + TOKEN_PATH,
            client_id=DEMO_CLIENT_ID,
            client_secret=SecretStr(secret),
            refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
            clock=self.client_clock,
        )
        return AmcClient(
            http,
            api_url=SIMULATOR_BASE_URL,
            client_id=DEMO_CLIENT_ID,
            advertiser_id=advertiser,
            marketplace_id=DEMO_MARKETPLACE_ID,
            tokens=tokens,
        )

    def advance(self, seconds: float) -> None:
        self.sim_clock.now += seconds
        self.client_clock.now += seconds

    async def first_instance(self) -> str:
        return (await self.client.list_instances())[0].instance_id


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = Env()
    yield environment
    await environment.client.aclose()


def demo_instance_ids(sim: AmcSimulator) -> set[str]:
    return {i.instance_id for i in sim.config.instances if i.advertiser_id == DEMO_ADVERTISER_ID}


async def test_lists_every_page_of_instances(env: Env) -> None:
    instances = await env.client.list_instances()
    expected = demo_instance_ids(env.sim)
    assert len(expected) > env.sim.config.instances_page_size  # several pages
    assert {i.instance_id for i in instances} == expected
    assert len(instances) == len(expected)
    assert all(i.name for i in instances)
    assert env.sim.stats.requests["GET instances"] >= 2


async def test_whole_life_of_an_execution(env: Env) -> None:
    instance = await env.first_instance()
    created = await env.client.create_execution(instance, QUERY)
    assert created.execution_id
    assert created.status is ExecutionStatus.PENDING
    assert (
        await env.client.get_execution(instance, created.execution_id)
    ).status is ExecutionStatus.PENDING
    with pytest.raises(NotFoundError):
        await env.client.get_download_urls(instance, created.execution_id)
    env.advance(50)
    assert (
        await env.client.get_execution(instance, created.execution_id)
    ).status is ExecutionStatus.RUNNING
    env.advance(60)
    done = await env.client.get_execution(instance, created.execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED
    urls = await env.client.get_download_urls(instance, created.execution_id)
    assert len(urls.download_urls) == env.sim.config.result_files
    response = await env.client.http.get(urls.download_urls[0])
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert len(rows) == 1 + env.sim.config.result_rows
    assert env.sim.stats.creates_per_instance[instance] == 1


@pytest.mark.parametrize("shape", ["top", "nested"])
async def test_both_create_answer_shapes(shape: str) -> None:
    environment = Env(create_answer_shape=shape)
    try:
        instance = await environment.first_instance()
        created = await environment.client.create_execution(instance, QUERY)
        assert created.execution_id in environment.sim.executions
    finally:
        await environment.client.aclose()


async def test_saved_workflow_and_unknown_workflow(env: Env) -> None:
    sim_instance = next(i for i in env.sim.config.instances if i.workflows)
    workflow = next(iter(sim_instance.workflows))
    saved = QuerySpec(workflow_id=workflow, time_window=QUERY.time_window)
    created = await env.client.create_execution(sim_instance.instance_id, saved)
    assert created.execution_id
    with pytest.raises(NotFoundError):
        await env.client.create_execution(
            sim_instance.instance_id, QuerySpec(workflow_id="no-such-workflow")
        )


def test_create_body_is_amc_shaped() -> None:
    spec = QuerySpec(
        sql=SQL,
        time_window=QUERY.time_window,
        parameters={"a": "1"},
        instance_parameters={"amc1": {"a": "2"}},
    )
    body = create_body(spec, "amc1")
    assert body == {
        "workflow": {"sqlQuery": SQL},
        "timeWindowType": "EXPLICIT",
        "timeWindowStart": "2025-01-01T00:00:00",
        "timeWindowEnd": "2025-01-08T00:00:00",
        "timeWindowTimeZone": "America/New_York",
        "parameterValues": {"a": "2"},
    }
    assert "Z" not in body["timeWindowStart"]


async def test_time_window_is_sent_without_zone(env: Env) -> None:
    instance = await env.first_instance()
    await env.client.create_execution(instance, QUERY)
    assert env.sim.stats.zone_suffixed_windows == 0


async def test_token_is_cached_and_shared_under_concurrency(env: Env) -> None:
    await asyncio.gather(*(env.client.list_instances() for _ in range(20)))
    assert env.sim.stats.token_requests == 1
    assert env.client.tokens.refresh_count == 1


async def test_token_refreshed_before_it_expires(env: Env) -> None:
    await env.client.list_instances()
    env.advance(env.sim.config.token_ttl - 30)  # inside the refresh margin
    await env.client.list_instances()
    assert env.sim.stats.token_requests == 2
    assert env.sim.stats.unauthorized == 0


async def test_401_refreshes_once_and_retries(env: Env) -> None:
    await env.client.list_instances()
    env.sim_clock.now += env.sim.config.token_ttl + 1  # the server sees it expired, we do not
    instances = await env.client.list_instances()
    assert instances
    assert env.sim.stats.unauthorized == 1
    assert env.sim.stats.token_requests == 2


async def test_concurrent_401s_cause_one_refresh(env: Env) -> None:
    await env.client.list_instances()
    env.sim_clock.now += env.sim.config.token_ttl + 1
    await asyncio.gather(*(env.client.list_instances() for _ in range(10)))
    assert env.sim.stats.token_requests == 2


async def test_bad_credentials_are_permanent_and_secret_free() -> None:
    environment = Env()
    client = environment.make_client(secret="wrong-secret-value")
    try:
        with pytest.raises(CredentialsError) as caught:
            await client.list_instances()
        assert not caught.value.transient
        assert "wrong-secret-value" not in str(caught.value)
        assert "wrong-secret-value" not in caught.value.detail
    finally:
        await client.aclose()
        await environment.client.aclose()


@pytest.mark.parametrize(("status", "kind"), [(503, ServerError), (429, ThrottledError)])
async def test_token_endpoint_transient_errors(status: int, kind: type) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "busy"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    tokens = TokenManager(
        http,
        token_url="https://lwa.test/token",
        client_id="c",
        client_secret=SecretStr("secret-1234"),
        refresh_token=SecretStr("refresh-1234"),
    )
    with pytest.raises(kind) as caught:
        await tokens.get()
    assert caught.value.transient
    await http.aclose()


async def test_unknown_account_and_foreign_instance_are_forbidden(env: Env) -> None:
    foreign = next(i for i in env.sim.config.instances if i.advertiser_id != DEMO_ADVERTISER_ID)
    with pytest.raises(AccessDeniedError) as caught:
        await env.client.create_execution(foreign.instance_id, QUERY)
    assert str(caught.value) == "Access denied for this instance"
    stranger = env.make_client(advertiser="ENTITYNOBODY")
    try:
        with pytest.raises(AccessDeniedError):
            await stranger.list_instances()
    finally:
        await stranger.aclose()


async def test_unknown_instance_and_execution_are_not_found(env: Env) -> None:
    with pytest.raises(NotFoundError):
        await env.client.create_execution("amcnosuchinstance", QUERY)
    instance = await env.first_instance()
    with pytest.raises(NotFoundError):
        await env.client.get_execution(instance, "no-such-execution")


async def test_sql_error_is_an_invalid_request(env: Env) -> None:
    instance = await env.first_instance()
    with pytest.raises(InvalidRequestError) as caught:
        await env.client.create_execution(instance, QuerySpec(sql="DELETE everything"))
    assert not caught.value.transient
    assert "SQL" in caught.value.detail
    assert "SQL compilation" not in str(caught.value)


@pytest.mark.parametrize("as_date", [False, True])
async def test_throttling_carries_retry_after(as_date: bool) -> None:
    environment = Env(throttle_rate=1.0, retry_after=5.0, retry_after_as_date=as_date)
    try:
        with pytest.raises(ThrottledError) as caught:
            await environment.client.list_instances()
        assert caught.value.retry_after is not None
        assert 3.0 <= caught.value.retry_after <= 6.0
    finally:
        await environment.client.aclose()


async def test_server_errors_are_transient() -> None:
    environment = Env(server_error_rate=1.0, server_error_statuses=[502])
    try:
        with pytest.raises(ServerError) as caught:
            await environment.client.list_instances()
        assert caught.value.status_code == 502
        assert caught.value.transient
    finally:
        await environment.client.aclose()


async def test_lost_create_answer_is_found_with_the_list_call(env: Env) -> None:
    instance = await env.first_instance()
    env.sim.config.instance_scripts[instance] = ["lost"]
    before = datetime.now(UTC) - timedelta(minutes=1)
    with pytest.raises(ServerError) as caught:
        await env.client.create_execution(instance, QUERY)
    assert caught.value.may_have_taken_effect
    found = await env.client.list_executions(instance, min_creation_time=before)
    assert len(found) == 1
    assert found[0].execution_id in env.sim.executions
    assert env.sim.stats.executions_made_per_instance[instance] == 1


async def test_list_executions_follows_pages(env: Env) -> None:
    instance = await env.first_instance()
    before = datetime.now(UTC) - timedelta(minutes=1)
    made = {(await env.client.create_execution(instance, QUERY)).execution_id for _ in range(5)}
    found = await env.client.list_executions(instance, min_creation_time=before, page_size=2)
    assert {e.execution_id for e in found} == made


async def test_cancel_while_running_then_refused(env: Env) -> None:
    instance = await env.first_instance()
    created = await env.client.create_execution(instance, QUERY)
    await env.client.cancel_execution(instance, created.execution_id)
    status = await env.client.get_execution(instance, created.execution_id)
    assert status.status is ExecutionStatus.CANCELLED
    with pytest.raises(InvalidRequestError):
        await env.client.cancel_execution(instance, created.execution_id)
    assert env.sim.stats.in_flight() == 0
