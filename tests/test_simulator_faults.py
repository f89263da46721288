"""Simulator: injected faults, stats, determinism and protocol details."""

from __future__ import annotations

import email.utils
import time
from datetime import timedelta
from typing import Any

import pytest
from sim_support import (
    JP,
    UK,
    US,
    Harness,
    MakeHarness,
    quiet,
    token_form,
)

from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    TOKEN_PATH,
    SimulatorConfig,
)

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
