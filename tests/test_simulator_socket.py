"""The simulator served by uvicorn on a real port, driven over the socket with httpx."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import sys
from collections.abc import Iterator

import httpx
import pytest

from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MARKETPLACE_ID,
    DEMO_REFRESH_TOKEN,
    TOKEN_PATH,
    AmcSimulator,
    SimulatorConfig,
)
from amc_tui.amc.simulator.results import COLUMNS
from amc_tui.amc.simulator.server import ThreadedServer, bind, connection_help

pytestmark = pytest.mark.socket

WINDOW = {
    "timeWindowType": "EXPLICIT",
    "timeWindowStart": "2024-05-01T00:00:00",
    "timeWindowEnd": "2024-05-08T00:00:00",
}


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    # 100..200 simulated seconds at 2000x: an execution takes 50..100 ms of real time.
    config = SimulatorConfig.reliable(
        time_scale=2000.0, duration_min=100.0, duration_max=200.0, result_rows=40
    )
    with ThreadedServer(AmcSimulator(config), host="127.0.0.1", port=0) as running:
        yield running


async def _login(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post(
        TOKEN_PATH,
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
    )
    assert response.status_code == 200
    return {
        "Authorization": f"Bearer {response.json()['access_token']}",
        "Amazon-Advertising-API-ClientId": DEMO_CLIENT_ID,
        "Amazon-Advertising-API-AdvertiserId": DEMO_ADVERTISER_ID,
        "Amazon-Advertising-API-MarketplaceId": DEMO_MARKETPLACE_ID,
    }


async def _poll(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, str]:
    seen = set()
    for _ in range(500):
        body = (await http.get(url, headers=headers)).json()
        seen.add(body["status"])
        if body["status"] not in ("PENDING", "RUNNING"):
            body["seen"] = ",".join(sorted(seen))
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.005)
    raise AssertionError("the execution never finished")


async def test_the_whole_life_of_an_execution(server: ThreadedServer) -> None:
    assert server.port > 0
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5.0) as http:
        headers = await _login(http)
        instances = (await http.get("/amc/instances", headers=headers)).json()["instances"]
        instance_id = instances[0]["instanceId"]
        base = f"/amc/reporting/{instance_id}/workflowExecutions"

        created = await http.post(
            base, json={"workflowId": "reach-frequency", **WINDOW}, headers=headers
        )
        assert created.status_code == 200
        execution_id = created.json()["workflowExecutionId"]
        assert created.headers["location"].endswith(execution_id)

        finished = await _poll(http, f"{base}/{execution_id}", headers)
        assert finished["status"] == "SUCCEEDED"
        assert "PENDING" in finished["seen"]

        urls = (await http.get(f"{base}/{execution_id}/downloadUrls", headers=headers)).json()
        url = urls["downloadUrls"][0]
        assert url.startswith(server.base_url + "/sim-results/")
        async with httpx.AsyncClient(timeout=5.0) as bare:  # no AMC headers, like S3
            result = await bare.get(url)
        assert result.status_code == 200
        rows = list(csv.reader(io.StringIO(result.content.decode("utf-8"), newline="")))
        assert rows[0] == [name for name, _ in COLUMNS]
        assert len(rows) == 41


async def test_cancel_over_the_socket(server: ThreadedServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=5.0) as http:
        headers = await _login(http)
        base = "/amc/reporting/amc8b491eb38/workflowExecutions"
        created = await http.post(
            base, json={"workflow": {"sqlQuery": "SELECT 1"}, **WINDOW}, headers=headers
        )
        execution_id = created.json()["workflowExecutionId"]
        cancelled = await http.put(
            f"{base}/{execution_id}", json={"status": "CANCELLED"}, headers=headers
        )
        assert cancelled.status_code == 200
        body = (await http.get(f"{base}/{execution_id}", headers=headers)).json()
        assert body["status"] == "CANCELLED"
        again = await http.put(
            f"{base}/{execution_id}", json={"status": "CANCELLED"}, headers=headers
        )
        assert again.status_code == 400
        listed = await http.get(base, params={"includeCancelled": "true"}, headers=headers)
        assert [e["workflowExecutionId"] for e in listed.json()["executions"]] == [execution_id]


def test_servers_stop_and_free_their_port() -> None:
    app = AmcSimulator(SimulatorConfig.reliable())
    with ThreadedServer(app) as running:
        url = running.base_url
        assert httpx.get(url + "/amc/instances").status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/amc/instances", timeout=1.0)
    help_text = connection_help(app.config, url)
    assert f'token_url = "{url}{TOKEN_PATH}"' in help_text


def test_the_served_simulator_answers_without_waiting_for_acks() -> None:
    # ``amc-tui simulator`` listens on bind()'s socket; its connections must send small
    # writes at once, or each answer (head, then body) waits ~40 ms on a delayed ACK.
    listener = bind("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()[:2]):
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_requests_over_a_socket_import_nothing(server: ThreadedServer) -> None:
    # httpcore asks sniffio which event loop runs on every request; were sniffio
    # missing, each request would search sys.path for it again (a failed import is
    # not remembered).  The requests after the first must look for no module at all.
    looked_for: list[str] = []

    class Spy:
        def find_spec(self, name: str, path: object = None, target: object = None) -> None:
            looked_for.append(name)

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        headers = await _login(http)
        spy = Spy()
        sys.meta_path.insert(0, spy)  # type: ignore[arg-type]
        try:
            for _ in range(5):
                response = await http.get(
                    "/amc/reporting/amc8b491eb38/workflowExecutions", headers=headers
                )
                assert response.status_code < 500
        finally:
            sys.meta_path.remove(spy)  # type: ignore[arg-type]
    assert looked_for == []
