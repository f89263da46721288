"""Helpers shared by the simulator tests: a fake clock and an httpx harness."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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
