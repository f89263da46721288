"""Simulator: the per-operation knobs (scripts, slow answers, odd bodies, dropped
connections) and the announced token lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sim_support import UK, US, WINDOW, MakeHarness, quiet, token_form

from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_MARKETPLACE_ID,
    TOKEN_PATH,
    AmcSimulator,
    SimulatorConfig,
)
from amc_tui.amc.simulator.operation_faults import EXTRA_FIELDS
from amc_tui.amc.simulator.server import ThreadedServer


async def test_operation_scripts_are_consumed_in_order_by_any_instance(make: MakeHarness) -> None:
    h = await make(quiet(operation_scripts={"POST create": ["503", "429", "ok", "500"]}))
    codes = [(await h.create(instance)).status_code for instance in (US, UK, US, UK, US)]
    assert codes == [503, 429, 200, 500, 200]
    assert h.sim.config.operation_scripts == {"POST create": []}
    assert sum(h.sim.stats.executions_made_per_instance.values()) == 2


async def test_scripted_errors_leave_other_operations_alone(make: MakeHarness) -> None:
    h = await make(quiet(operation_scripts={"GET status": ["502"]}))
    made = await h.create_id(US)
    assert (await h.status(made)).status_code == 502
    assert (await h.status(made)).status_code == 200
    assert (await h.list(US)).status_code == 200


async def test_a_401_consumes_no_script(make: MakeHarness) -> None:
    h = await make(quiet(operation_scripts={"GET list": ["503"]}))
    refused = await h.http.get(h.base(US), headers=h.headers(Authorization="Bearer nope"))
    assert refused.status_code == 401
    assert (await h.list(US)).status_code == 503


async def test_token_endpoint_scripts(make: MakeHarness) -> None:
    h = await make(quiet(operation_scripts={"POST token": ["500", "429", "ok"]}), login=False)
    codes = [(await h.http.post(TOKEN_PATH, data=token_form())).status_code for _ in range(4)]
    assert codes == [500, 429, 200, 200]
    assert h.sim.stats.requests["POST token"] == 4
    assert h.sim.stats.token_requests == 2  # the two the endpoint answered itself


async def test_malformed_and_incomplete_answers_carry_out_the_call(make: MakeHarness) -> None:
    h = await make(quiet(operation_scripts={"POST create": ["malformed", "incomplete"]}))
    garbled = await h.create(US)
    assert garbled.status_code == 200 and "location" not in garbled.headers
    with pytest.raises(ValueError):
        garbled.json()
    stripped = await h.create(UK)
    assert stripped.status_code == 200 and "location" not in stripped.headers
    assert "workflowExecutionId" not in stripped.json()
    assert h.sim.stats.executions_made_per_instance == {US: 1, UK: 1}


async def test_extra_fields_pad_answers_where_amc_might(make: MakeHarness) -> None:
    h = await make(quiet(extra_answer_fields=True))
    created = await h.create(US)
    body = created.json()
    assert EXTRA_FIELDS.keys() <= body.keys()
    assert body["parameterValues"] == {}  # the operator's own values are left alone
    listed = (await h.list(US)).json()
    assert EXTRA_FIELDS.keys() <= listed.keys()
    assert EXTRA_FIELDS.keys() <= listed["executions"][0].keys()
    token = (await h.http.post(TOKEN_PATH, data=token_form())).json()
    assert EXTRA_FIELDS.keys() <= token.keys()


async def test_nested_create_answer_is_padded_inside(make: MakeHarness) -> None:
    h = await make(quiet(extra_answer_fields=True, create_answer_shape="nested"))
    body = (await h.create(US)).json()
    assert EXTRA_FIELDS.keys() <= body["workflowExecution"].keys()


async def test_slow_answers_and_per_operation_latency(make: MakeHarness) -> None:
    h = await make(
        quiet(
            operation_scripts={"GET status": ["slow"]},
            slow_answer_seconds=0.2,
            operation_latency={"POST create": 0.1},
        )
    )
    started = time.perf_counter()
    made = await h.create_id(US)
    assert time.perf_counter() - started >= 0.1
    assert h.sim.executions[made]  # made before the answer was held
    started = time.perf_counter()
    assert (await h.status(made)).status_code == 200
    assert time.perf_counter() - started >= 0.2
    started = time.perf_counter()
    assert (await h.status(made)).status_code == 200
    assert time.perf_counter() - started < 0.2


async def test_announced_token_lifetime_may_differ_from_the_real_one(make: MakeHarness) -> None:
    h = await make(quiet(token_ttl=5.0, announced_token_ttl=3600.0), login=False)
    answer = (await h.http.post(TOKEN_PATH, data=token_form())).json()
    assert answer["expires_in"] == 3600
    h.access_token = answer["access_token"]
    h.clock.advance(6.0)
    assert (await h.list(US)).status_code == 401
    plain = await make(quiet(token_ttl=5.0), login=False)
    assert (await plain.http.post(TOKEN_PATH, data=token_form())).json()["expires_in"] == 5


def test_knob_typos_are_refused() -> None:
    with pytest.raises(ValueError, match="operation_scripts"):
        SimulatorConfig.model_validate({"operation_scripts": {"POST creat": ["503"]}})
    with pytest.raises(ValueError, match="operation_scripts"):
        SimulatorConfig.model_validate({"operation_scripts": {"POST create": ["418"]}})
    with pytest.raises(ValueError, match="operation_latency"):
        SimulatorConfig.model_validate({"operation_latency": {"GET status": -1}})


# --- dropped connections, on a real port -----------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[AmcSimulator, ThreadedServer]]:
    sim = AmcSimulator(quiet())
    with ThreadedServer(sim) as server:
        yield sim, server


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Amazon-Advertising-API-ClientId": DEMO_CLIENT_ID,
        "Amazon-Advertising-API-AdvertiserId": DEMO_ADVERTISER_ID,
        "Amazon-Advertising-API-MarketplaceId": DEMO_MARKETPLACE_ID,
    }


@pytest.mark.socket
async def test_resets_drop_the_connection_before_or_after_the_work(
    served: tuple[AmcSimulator, ThreadedServer],
) -> None:
    sim, server = served
    sim.config.operation_scripts["POST create"] = ["reset", "reset_after"]
    sim.config.instance_scripts[UK] = ["reset_after_create", "reset"]
    body = {"workflowId": "reach-frequency", **WINDOW}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5.0) as http:
        token = (await http.post(TOKEN_PATH, data=token_form())).json()["access_token"]
        url = f"/amc/reporting/{US}/workflowExecutions"
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(url, json=body, headers=_headers(token))
        assert sim.stats.executions_made_per_instance == {US: 1}  # the "reset_after" one
        uk = f"/amc/reporting/{UK}/workflowExecutions"
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post(uk, json=body, headers=_headers(token))
        assert sim.stats.executions_made_per_instance == {US: 1, UK: 1}
        after = await http.post(url, json=body, headers=_headers(token))
        assert after.status_code == 200  # the client reconnects; the server carries on
    assert sim.stats.dropped_connections == 4
    assert sim.stats.responses[200] == 2  # the token and the last create; drops not counted
