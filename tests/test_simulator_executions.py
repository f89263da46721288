"""Simulator: create, the life of an execution, cancel, list, and 403/404/405."""

from __future__ import annotations

from typing import Any

import pytest
from sim_support import (
    FOREIGN,
    JP,
    UK,
    US,
    WINDOW,
    MakeHarness,
    quiet,
)

from amc_tui.amc.simulator import (
    OTHER_ADVERTISER_ID,
    demo_instances,
    load_demo_queries,
)
from amc_tui.amc.simulator.faults import sql_compile_error

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
