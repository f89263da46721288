"""The embedded AMC simulator, driven in-process with httpx and a fake clock."""

from __future__ import annotations

import csv
import email.utils
import io
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MARKETPLACE_ID,
    DEMO_REFRESH_TOKEN,
    OTHER_ADVERTISER_ID,
    SIMULATOR_BASE_URL,
    TOKEN_PATH,
    AmcSimulator,
    SimulatorConfig,
    demo_instances,
    load_demo_queries,
)
from amc_tui.amc.simulator.faults import sql_compile_error
from amc_tui.amc.simulator.results import COLUMNS

US = "amc359b33843"  # Acme Outdoor US
UK = "amcd4273d31a"  # Acme Outdoor UK
JP = "amc8b491eb38"  # Sakura Beauty JP
FOREIGN = "amc67e292468"  # Rival Brands US, another account
WINDOW = {
    "timeWindowType": "EXPLICIT",
    "timeWindowStart": "2024-05-01T00:00:00",
    "timeWindowEnd": "2024-05-08T00:00:00",
    "timeWindowTimeZone": "America/New_York",
}
START_WALL = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """A monotonic clock and a wall clock that move together, only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return START_WALL + timedelta(seconds=self.now - 1000.0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Harness:
    """One simulator, one fake clock, one httpx client, and the calls tests make."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.clock = FakeClock()
        self.sim = AmcSimulator(config, clock=self.clock, wall_clock=self.clock.wall)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sim), base_url=SIMULATOR_BASE_URL
        )
        self.access_token = ""

    async def login(self) -> str:
        response = await self.http.post(TOKEN_PATH, data=token_form())
        assert response.status_code == 200, response.text
        self.access_token = response.json()["access_token"]
        return self.access_token

    def headers(self, **changes: str | None) -> dict[str, str]:
        headers: dict[str, str | None] = {
            "Authorization": f"Bearer {self.access_token}",
            "Amazon-Advertising-API-ClientId": DEMO_CLIENT_ID,
            "Amazon-Advertising-API-AdvertiserId": DEMO_ADVERTISER_ID,
            "Amazon-Advertising-API-MarketplaceId": DEMO_MARKETPLACE_ID,
        }
        headers.update(changes)
        return {k: v for k, v in headers.items() if v is not None}

    @staticmethod
    def base(instance_id: str) -> str:
        return f"/amc/reporting/{instance_id}/workflowExecutions"

    async def create(self, instance_id: str = US, **body: Any) -> httpx.Response:
        payload: dict[str, Any] = {"workflowId": "reach-frequency", **WINDOW}
        if "sql" in body:
            payload.pop("workflowId")
            payload["workflow"] = {"sqlQuery": body.pop("sql")}
        payload.update(body)
        return await self.http.post(self.base(instance_id), json=payload, headers=self.headers())

    async def create_id(self, instance_id: str = US, **body: Any) -> str:
        response = await self.create(instance_id, **body)
        assert response.status_code == 200, response.text
        return str(response.json()["workflowExecutionId"])

    async def status(self, execution_id: str, instance_id: str = US) -> httpx.Response:
        return await self.http.get(
            f"{self.base(instance_id)}/{execution_id}", headers=self.headers()
        )

    async def status_of(self, execution_id: str, instance_id: str = US) -> str:
        response = await self.status(execution_id, instance_id)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    async def cancel(
        self, execution_id: str, instance_id: str = US, body: object = None
    ) -> httpx.Response:
        return await self.http.put(
            f"{self.base(instance_id)}/{execution_id}",
            json={"status": "CANCELLED"} if body is None else body,
            headers=self.headers(),
        )

    async def list(self, instance_id: str = US, **params: str) -> httpx.Response:
        return await self.http.get(self.base(instance_id), params=params, headers=self.headers())

    async def download_urls(self, execution_id: str, instance_id: str = US) -> httpx.Response:
        return await self.http.get(
            f"{self.base(instance_id)}/{execution_id}/downloadUrls", headers=self.headers()
        )


def token_form(**changes: str) -> dict[str, str]:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": DEMO_REFRESH_TOKEN,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v}


def quiet(**overrides: Any) -> SimulatorConfig:
    """No random faults; every execution PENDING for 20 s, RUNNING until 100 s (scale 1)."""
    values: dict[str, Any] = {
        "time_scale": 1.0,
        "duration_min": 100.0,
        "duration_max": 100.0,
        "pending_fraction": 0.2,
    }
    values.update(overrides)
    return SimulatorConfig.reliable(**values)


MakeHarness = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make() -> AsyncIterator[MakeHarness]:
    made: list[Harness] = []

    async def factory(config: SimulatorConfig | None = None, *, login: bool = True) -> Harness:
        harness = Harness(config or quiet())
        made.append(harness)
        if login:
            await harness.login()
        return harness

    yield factory
    for harness in made:
        await harness.http.aclose()


# --- token endpoint ------------------------------------------------------------------


async def test_token_grant(make: MakeHarness) -> None:
    h = await make(login=False)
    response = await h.http.post(TOKEN_PATH, data=token_form())
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == DEMO_REFRESH_TOKEN
    assert body["access_token"].startswith("Atza|")
    second = (await h.http.post(TOKEN_PATH, data=token_form())).json()["access_token"]
    assert second != body["access_token"]
    assert h.sim.stats.token_requests == 2
    assert h.sim.stats.requests["POST token"] == 2


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "amzn1.application-oa2-client.other"}, 401, "invalid_client"),
        ({"refresh_token": "Atzr|stale"}, 400, "invalid_grant"),
        ({"refresh_token": ""}, 400, "invalid_request"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ],
)
async def test_token_refusals(
    make: MakeHarness, changes: dict[str, str], status: int, code: str
) -> None:
    h = await make(login=False)
    response = await h.http.post(TOKEN_PATH, data=token_form(**changes))
    assert response.status_code == status
    assert response.json()["error"] == code
    assert response.json()["error_description"]
    assert "access_token" not in response.json()


async def test_token_endpoint_takes_post_only(make: MakeHarness) -> None:
    h = await make(login=False)
    response = await h.http.get(TOKEN_PATH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


# --- headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"Authorization": None}, 401),
        ({"Authorization": "Bearer Atza|forged"}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Amazon-Advertising-API-ClientId": None}, 401),
        ({"Amazon-Advertising-API-ClientId": "amzn1.application-oa2-client.other"}, 401),
        ({"Amazon-Advertising-API-AdvertiserId": None}, 400),
        ({"Amazon-Advertising-API-MarketplaceId": None}, 400),
        ({"Amazon-Advertising-API-AdvertiserId": OTHER_ADVERTISER_ID}, 403),
    ],
)
async def test_header_checks(
    make: MakeHarness, changes: dict[str, str | None], status: int
) -> None:
    h = await make()
    response = await h.http.get("/amc/instances", headers=h.headers(**changes))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == str(status)
    assert body["details"]
    assert h.sim.stats.unauthorized == (1 if status == 401 else 0)
    ok = await h.http.get("/amc/instances", headers=h.headers())
    assert ok.status_code == 200


async def test_expired_token_is_refused(make: MakeHarness) -> None:
    h = await make(quiet(token_ttl=100.0))
    h.clock.advance(99.0)
    assert (await h.http.get("/amc/instances", headers=h.headers())).status_code == 200
    h.clock.advance(1.0)
    response = await h.http.get("/amc/instances", headers=h.headers())
    assert response.status_code == 401
    assert "expired" in response.json()["details"]
    await h.login()
    assert (await h.http.get("/amc/instances", headers=h.headers())).status_code == 200


# --- accounts and instances ------------------------------------------------------------


async def test_accounts_needs_no_account_headers(make: MakeHarness) -> None:
    h = await make()
    headers = h.headers(
        **{
            "Amazon-Advertising-API-AdvertiserId": None,
            "Amazon-Advertising-API-MarketplaceId": None,
        }
    )
    response = await h.http.get("/amc/accounts", headers=headers)
    assert response.status_code == 200
    accounts = response.json()["amcAccounts"]
    assert [a["accountId"] for a in accounts] == [DEMO_ADVERTISER_ID]
    assert (await h.http.get("/amc/accounts")).status_code == 401


async def test_instances_paging_visits_all_and_only_the_accounts_instances(
    make: MakeHarness,
) -> None:
    h = await make(quiet(instances_page_size=7))
    seen: list[str] = []
    pages = 0
    params: dict[str, str] = {}
    while True:
        response = await h.http.get("/amc/instances", params=params, headers=h.headers())
        assert response.status_code == 200
        body = response.json()
        pages += 1
        assert len(body["instances"]) <= 7
        for item in body["instances"]:
            assert item["creationStatus"] == "COMPLETED"
            assert item["instanceType"] in ("STANDARD", "SANDBOX")
            assert item["region"] in ("NA", "EU", "FE")
            assert {"instanceName", "customerCanonicalName", "apiEndpoint", "entities"} <= set(item)
            seen.append(item["instanceId"])
        if "nextToken" not in body:
            break
        params = {"nextToken": body["nextToken"]}
    expected = [i.instance_id for i in demo_instances() if i.advertiser_id == DEMO_ADVERTISER_ID]
    assert seen == expected
    assert len(seen) == len(set(seen)) == 24
    assert FOREIGN not in seen
    assert pages == math.ceil(24 / 7)


@pytest.mark.parametrize("token", ["garbage", "aW5zdGFuY2VzOjEwOmJhZG1hYw", ""])
async def test_bad_instances_next_token(make: MakeHarness, token: str) -> None:
    h = await make()
    response = await h.http.get("/amc/instances", params={"nextToken": token}, headers=h.headers())
    assert response.status_code == 400
    assert "nextToken" in response.json()["details"]


# --- create ----------------------------------------------------------------------------


async def test_create_top_level_answer(make: MakeHarness) -> None:
    h = await make()
    response = await h.create(parameterValues={"brand": "Acme"})
    assert response.status_code == 200
    body = response.json()
    execution_id = body["workflowExecutionId"]
    assert body["status"] == "PENDING"
    assert body["workflowId"] == "reach-frequency"
    assert body["parameterValues"] == {"brand": "Acme"}
    assert body["timeWindowStart"] == WINDOW["timeWindowStart"]
    assert body["createTime"] == "2024-06-01T12:00:00Z"
    assert response.headers["location"].endswith(f"/workflowExecutions/{execution_id}")
    assert execution_id in h.sim.executions


async def test_create_nested_answer(make: MakeHarness) -> None:
    h = await make(quiet(create_answer_shape="nested"))
    response = await h.create(sql="SELECT 1")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"workflowExecution"}
    execution = body["workflowExecution"]
    assert execution["status"] == "PENDING"
    assert execution["workflow"] == {"sqlQuery": "SELECT 1"}
    assert response.headers["location"].rsplit("/", 1)[1] == execution["workflowExecutionId"]


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"workflow": {"sqlQuery": "SELECT 1"}}, "exactly one"),
        ({"workflowId": None}, "exactly one"),
        ({"timeWindowType": "LAST_YEAR"}, "timeWindowType"),
        ({"timeWindowEnd": None}, "timeWindowEnd"),
        ({"timeWindowStart": "2024-05-01 00:00:00"}, "timeWindowStart"),
        ({"timeWindowStart": "2024-05-09T00:00:00"}, "before"),
        ({"parameterValues": {"n": 3}}, "parameterValues"),
        ({"parameterValues": ["a"]}, "parameterValues"),
        ({"dryRun": "yes"}, "dryRun"),
    ],
)
async def test_create_body_validation(
    make: MakeHarness, body: dict[str, Any], mentions: str
) -> None:
    h = await make()
    payload: dict[str, Any] = {"workflowId": "reach-frequency", **WINDOW, **body}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = await h.http.post(h.base(US), json=payload, headers=h.headers())
    assert response.status_code == 400
    assert response.json()["code"] == "400"
    assert mentions in response.json()["details"]
    assert h.sim.executions == {}


async def test_non_explicit_window_needs_no_times(make: MakeHarness) -> None:
    h = await make()
    body = {"workflowId": "new-to-brand", "timeWindowType": "MOST_RECENT_WEEK"}
    response = await h.http.post(h.base(US), json=body, headers=h.headers())
    assert response.status_code == 200
    assert response.json()["timeWindowType"] == "MOST_RECENT_WEEK"


async def test_create_rejects_non_json(make: MakeHarness) -> None:
    h = await make()
    response = await h.http.post(h.base(US), content=b"{not json", headers=h.headers())
    assert response.status_code == 400
    assert "JSON" in response.json()["details"]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM dsp_impressions",
        "-- just a comment\n",
        "/* SELECT */ DROP TABLE x",
        "SELECT syntax_error FROM dsp_impressions",
    ],
)
async def test_sql_compile_errors(make: MakeHarness, sql: str) -> None:
    h = await make()
    response = await h.create(sql=sql)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "400"
    assert body["details"].startswith("SQL compilation error:")
    assert h.sim.stats.executions_made_per_instance[US] == 0


async def test_sql_with_leading_comments_is_accepted(make: MakeHarness) -> None:
    h = await make()
    sql = "-- name: x\n/* block */\n  with t as (select 1) select * from t"
    assert (await h.create(sql=sql)).status_code == 200


async def test_sql_error_rate_hits_ad_hoc_sql_only(make: MakeHarness) -> None:
    h = await make(quiet(sql_error_rate=1.0))
    response = await h.create(sql="SELECT campaign FROM dsp_impressions")
    assert response.status_code == 400
    assert response.json()["details"].startswith("SQL compilation error:")
    assert (await h.create(workflowId="reach-frequency")).status_code == 200


async def test_demo_queries_compile_and_back_saved_workflows() -> None:
    queries = load_demo_queries()
    assert 3 <= len(queries) <= 5
    for query in queries:
        assert query.sql.startswith("-- name: ")
        assert query.name and query.description
        assert sql_compile_error(query.sql) is None
    instance = next(i for i in demo_instances() if i.instance_id == US)
    assert set(instance.workflows) == {q.workflow_id for q in queries}
    assert instance.workflows["path-to-conversion"] == next(
        q.sql for q in queries if q.workflow_id == "path-to-conversion"
    )
    everything = demo_instances()
    assert sum(i.instance_type == "SANDBOX" for i in everything) == 3
    assert {i.region for i in everything} == {"NA", "EU", "FE"}
    assert sum(i.advertiser_id == OTHER_ADVERTISER_ID for i in everything) == 2


# --- the life of an execution ----------------------------------------------------------


async def test_pending_running_succeeded_as_time_passes(make: MakeHarness) -> None:
    h = await make()
    execution_id = await h.create_id()
    assert await h.status_of(execution_id) == "PENDING"
    h.clock.advance(19.9)
    assert await h.status_of(execution_id) == "PENDING"
    h.clock.advance(0.2)
    running = (await h.status(execution_id)).json()
    assert running["status"] == "RUNNING"
    assert running["startTime"] == "2024-06-01T12:00:20Z"
    assert running["endTime"] is None
    h.clock.advance(80.0)
    done = (await h.status(execution_id)).json()
    assert done["status"] == "SUCCEEDED"
    assert done["endTime"] == "2024-06-01T12:01:40Z"
    assert done["lastUpdatedTime"] == done["endTime"]
    assert done["failureReason"] is None
    assert done["outputS3URI"].startswith("s3://")


async def test_time_scale_speeds_executions_up(make: MakeHarness) -> None:
    h = await make(quiet(time_scale=60.0))
    execution_id = await h.create_id()
    h.clock.advance(100.0 / 60.0 + 0.01)
    assert await h.status_of(execution_id) == "SUCCEEDED"


async def test_failure_rate_one_fails_every_execution(make: MakeHarness) -> None:
    h = await make(quiet(failure_rate=1.0))
    ids = [await h.create_id(), await h.create_id(UK)]
    h.clock.advance(50.0)
    assert await h.status_of(ids[0]) == "RUNNING"
    h.clock.advance(50.0)
    for execution_id, instance_id in zip(ids, (US, UK), strict=True):
        body = (await h.status(execution_id, instance_id)).json()
        assert body["status"] == "FAILED"
        assert body["failureReason"]
    response = await h.download_urls(ids[0])
    assert response.status_code == 400


async def test_scripts_are_consumed_in_order(make: MakeHarness) -> None:
    script = ["429", "500", "502", "503", "504", "lost", "fail", "cancel", "ok"]
    h = await make(quiet(instance_scripts={US: script, UK: ["403"]}))
    answers = [await h.create() for _ in script]
    assert [r.status_code for r in answers] == [429, 500, 502, 503, 504, 504, 200, 200, 200]
    assert answers[0].headers["retry-after"] == "1"
    after = await h.create()  # the script is used up: normal behaviour again
    assert after.status_code == 200
    assert h.sim.stats.creates_per_instance[US] == len(script) + 1
    assert h.sim.stats.executions_made_per_instance[US] == 5  # lost, fail, cancel, ok, after
    h.clock.advance(100.0)
    ids = [r.json()["workflowExecutionId"] for r in answers[6:]]
    assert [await h.status_of(i) for i in ids] == ["FAILED", "CANCELLED", "SUCCEEDED"]
    assert (await h.create(UK)).status_code == 403
    assert (await h.create(UK)).status_code == 200


@pytest.mark.parametrize("outcome", ["400", "sql_error"])
async def test_scripted_sql_error(make: MakeHarness, outcome: str) -> None:
    h = await make(quiet(instance_scripts={JP: [outcome]}))
    response = await h.create(JP)
    assert response.status_code == 400
    assert response.json()["details"].startswith("SQL compilation error:")
    assert h.sim.stats.executions_made_per_instance[JP] == 0


async def test_lost_answer_makes_an_execution_the_list_shows(make: MakeHarness) -> None:
    h = await make(quiet(lost_answer_rate=1.0))
    response = await h.create(parameterValues={"marker": "m1"})
    assert response.status_code == 504
    assert "workflowExecutionId" not in response.json()
    assert h.sim.stats.executions_made_per_instance[US] == 1
    listed = await h.list(minCreationTime="2024-06-01T11:59:00", sortAscending="true")
    executions = listed.json()["executions"]
    assert len(executions) == 1
    assert executions[0]["parameterValues"] == {"marker": "m1"}
    assert executions[0]["workflowExecutionId"] in h.sim.executions


# --- cancel ----------------------------------------------------------------------------


async def test_cancel_while_pending_and_running_then_refused(make: MakeHarness) -> None:
    h = await make()
    pending = await h.create_id()
    response = await h.cancel(pending)
    assert response.status_code == 200
    assert await h.status_of(pending) == "CANCELLED"
    assert (await h.cancel(pending)).status_code == 400

    running = await h.create_id()
    h.clock.advance(30.0)
    assert await h.status_of(running) == "RUNNING"
    assert (await h.cancel(running)).status_code == 200
    body = (await h.status(running)).json()
    assert body["status"] == "CANCELLED"
    assert body["startTime"] is not None and body["endTime"] is not None

    finished = await h.create_id()
    h.clock.advance(100.0)
    assert await h.status_of(finished) == "SUCCEEDED"
    refused = await h.cancel(finished)
    assert refused.status_code == 400
    assert "SUCCEEDED" in refused.json()["details"]
    assert h.sim.stats.cancels == 2
    assert h.sim.stats.requests["PUT cancel"] == 4


@pytest.mark.parametrize("body", [{"status": "SUCCEEDED"}, {}, ["CANCELLED"]])
async def test_cancel_needs_the_cancelled_body(make: MakeHarness, body: object) -> None:
    h = await make()
    execution_id = await h.create_id()
    response = await h.cancel(execution_id, body=body)
    assert response.status_code == 400
    assert await h.status_of(execution_id) == "PENDING"
    assert h.sim.stats.cancels == 0


async def test_cancel_delay_keeps_the_state_until_it_passes(make: MakeHarness) -> None:
    h = await make(quiet(cancel_delay=30.0))
    execution_id = await h.create_id()
    h.clock.advance(90.0)
    assert (await h.cancel(execution_id)).status_code == 200
    h.clock.advance(15.0)  # past its natural end, but the cancel is under way
    assert await h.status_of(execution_id) == "RUNNING"
    assert (await h.cancel(execution_id)).status_code == 200  # still cancellable
    h.clock.advance(15.0)
    assert await h.status_of(execution_id) == "CANCELLED"
    assert h.sim.stats.cancels == 1
    assert (await h.download_urls(execution_id)).status_code == 400


# --- list ------------------------------------------------------------------------------


async def test_list_filters_sorting_and_paging(make: MakeHarness) -> None:
    h = await make()
    ids = []
    for workflow in ("reach-frequency", "new-to-brand", "reach-frequency", "path-to-conversion"):
        ids.append(await h.create_id(workflowId=workflow))
        h.clock.advance(60.0)
    assert (await h.cancel(ids[3])).status_code == 200  # RUNNING, cancelled
    await h.create_id(UK)  # another instance: never listed here
    h.clock.advance(60.0)

    async def listed(**params: str) -> list[str]:
        response = await h.list(**params)
        assert response.status_code == 200, response.text
        return [e["workflowExecutionId"] for e in response.json()["executions"]]

    assert await listed() == [ids[2], ids[1], ids[0]]  # newest first, no cancelled
    assert await listed(includeCancelled="true", sortAscending="true") == ids
    assert await listed(minCreationTime="2024-06-01T12:01:00", sortAscending="true") == ids[1:3]
    assert (
        await listed(
            maxCreationTime="2024-06-01T12:01:00", includeCancelled="true", sortAscending="true"
        )
        == ids[:2]
    )
    assert await listed(workflowId="reach-frequency") == [ids[2], ids[0]]

    pages: list[list[str]] = []
    params = {"limit": "1", "includeCancelled": "true", "sortAscending": "true"}
    while True:
        response = await h.list(**params)
        body = response.json()
        pages.append([e["workflowExecutionId"] for e in body["executions"]])
        if "nextToken" not in body:
            break
        params["nextToken"] = body["nextToken"]
    assert pages == [[i] for i in ids]


@pytest.mark.parametrize(
    "params",
    [
        {"minCreationTime": "2024-06-01"},
        {"maxCreationTime": "2024-06-01T12:00:00Z"},
        {"includeCancelled": "yes"},
        {"sortAscending": "1"},
        {"limit": "0"},
        {"limit": "ten"},
        {"nextToken": "not-a-token"},
    ],
)
async def test_list_rejects_bad_parameters(make: MakeHarness, params: dict[str, str]) -> None:
    h = await make()
    response = await h.list(**params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["details"]


# --- 403 / 404 / 405 -------------------------------------------------------------------


async def test_other_accounts_instance_is_forbidden(make: MakeHarness) -> None:
    h = await make()
    assert (await h.create(FOREIGN)).status_code == 403
    assert (await h.list(FOREIGN)).status_code == 403
    assert (await h.status("anything", FOREIGN)).status_code == 403
    assert h.sim.executions == {}


async def test_unknown_things_are_not_found(make: MakeHarness) -> None:
    h = await make()
    assert (await h.create("amcunknown00")).status_code == 404
    missing_workflow = await h.create(workflowId="no-such-workflow")
    assert missing_workflow.status_code == 404
    assert "no-such-workflow" in missing_workflow.json()["details"]
    assert (await h.status("00000000-0000-4000-8000-000000000000")).status_code == 404
    execution_id = await h.create_id()
    assert (await h.status(execution_id, UK)).status_code == 404  # wrong instance
    assert (await h.download_urls("nope")).status_code == 404
    other = await h.http.get("/amc/nothing-here", headers=h.headers())
    assert other.status_code == 404
    assert other.json()["code"] == "404"


async def test_wrong_method_is_405(make: MakeHarness) -> None:
    h = await make()
    response = await h.http.delete(h.base(US), headers=h.headers())
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert (await h.http.post("/amc/instances", headers=h.headers())).status_code == 405


# --- injected faults -------------------------------------------------------------------


async def test_throttling_with_retry_after_seconds(make: MakeHarness) -> None:
    h = await make(quiet(throttle_rate=1.0, retry_after=7.0))
    response = await h.http.get("/amc/instances", headers=h.headers())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["code"] == "429"
    assert (await h.create()).status_code == 429
    assert (await h.http.post(TOKEN_PATH, data=token_form())).status_code == 200


async def test_throttling_with_retry_after_as_http_date(make: MakeHarness) -> None:
    h = await make(quiet(throttle_rate=1.0, retry_after=7.0, retry_after_as_date=True))
    response = await h.http.get("/amc/instances", headers=h.headers())
    assert response.status_code == 429
    when = email.utils.parsedate_to_datetime(response.headers["retry-after"])
    assert when == h.clock.wall() + timedelta(seconds=7)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_error_knob(make: MakeHarness, status: int) -> None:
    h = await make(quiet(server_error_rate=1.0, server_error_statuses=[status]))
    response = await h.http.get("/amc/instances", headers=h.headers())
    assert response.status_code == status
    assert response.json()["code"] == str(status)
    assert (await h.create()).status_code == status
    assert h.sim.executions == {}
    assert h.sim.stats.responses[status] == 2


async def test_rates_in_between_give_a_mix(make: MakeHarness) -> None:
    h = await make(quiet(throttle_rate=0.3, server_error_rate=0.2))
    codes = [
        (await h.http.get("/amc/instances", headers=h.headers())).status_code for _ in range(60)
    ]
    assert {200, 429} <= set(codes)
    assert set(codes) & {500, 502, 503, 504}


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="duration_min"):
        SimulatorConfig(duration_min=10, duration_max=5)
    with pytest.raises(ValueError, match="5xx"):
        SimulatorConfig(server_error_statuses=[404])
    with pytest.raises(ValueError, match="extra"):
        SimulatorConfig.model_validate({"no_such_knob": 1})


# --- stats -----------------------------------------------------------------------------


async def test_stats(make: MakeHarness) -> None:
    h = await make()
    first = await h.create_id(US)
    await h.create_id(UK)
    await h.create_id(JP)
    assert h.sim.stats.in_flight() == 3
    await h.status(first)
    await h.status(first)
    h.clock.advance(100.0)
    assert h.sim.stats.in_flight() == 0
    zoned = {
        "timeWindowStart": "2024-05-01T00:00:00Z",
        "timeWindowEnd": "2024-05-08T00:00:00+00:00",
    }
    await h.create_id(US, **zoned)
    assert h.sim.stats.max_in_flight == 3
    assert h.sim.stats.in_flight() == 1
    assert h.sim.stats.creates_per_instance == {US: 2, UK: 1, JP: 1}
    assert h.sim.stats.status_calls_per_execution == {first: 2}
    assert h.sim.stats.zone_suffixed_windows == 1
    assert h.sim.stats.requests["POST create"] == 4
    assert h.sim.stats.requests["GET status"] == 2
    assert h.sim.stats.responses[200] >= 6


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


# --- determinism and protocol details --------------------------------------------------


async def _outcomes(h: Harness) -> list[tuple[int, str]]:
    found = []
    for instance_id in (US, UK, JP) * 5:
        response = await h.create(instance_id)
        execution_id = response.json().get("workflowExecutionId", "")
        found.append((response.status_code, execution_id))
    h.clock.advance(100.0)
    for execution_id in h.sim.executions:
        found.append((0, h.sim.executions[execution_id].status_at(h.clock())))
    return found


async def test_same_seed_same_outcomes(make: MakeHarness) -> None:
    knobs = {
        "throttle_rate": 0.2,
        "server_error_rate": 0.2,
        "lost_answer_rate": 0.2,
        "failure_rate": 0.3,
        "duration_min": 10.0,
    }
    first = await _outcomes(await make(quiet(seed=42, **knobs)))
    second = await _outcomes(await make(quiet(seed=42, **knobs)))
    other = await _outcomes(await make(quiet(seed=43, **knobs)))
    assert first == second
    assert first != other
    codes = {code for code, _ in first}
    assert {200, 429} <= codes


async def test_lifespan_is_answered(make: MakeHarness) -> None:
    h = await make(login=False)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await h.sim({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_default_config_is_the_demo(make: MakeHarness) -> None:
    config = SimulatorConfig()
    assert len([i for i in config.instances if i.advertiser_id == DEMO_ADVERTISER_ID]) == 24
    assert config.client_id == DEMO_CLIENT_ID
    assert 0 < config.throttle_rate < 0.2
    assert config.time_scale == 60.0


async def test_latency_knob_delays_every_answer(make: MakeHarness) -> None:
    h = await make(quiet(latency_min=0.05, latency_max=0.06))
    started = time.perf_counter()
    response = await h.http.get("/amc/instances", headers=h.headers())
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert 0.05 <= elapsed < 1.0


async def test_each_simulator_consumes_its_own_copy_of_the_scripts(make: MakeHarness) -> None:
    config = quiet(instance_scripts={US: ["503"]})
    first, second = await make(config), await make(config)
    assert (await first.create()).status_code == 503
    assert (await second.create()).status_code == 503
    assert config.instance_scripts == {US: ["503"]}
    first.sim.config.instance_scripts[UK] = ["429", "ok"]
    assert (await first.create(UK)).status_code == 429
    assert first.sim.config.instance_scripts[UK] == ["ok"]
    first.sim.config.throttle_rate = 1.0  # knobs changed on a running simulator apply
    assert (await first.http.get("/amc/instances", headers=first.headers())).status_code == 429
