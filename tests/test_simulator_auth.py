"""Simulator: the token endpoint, header checks, accounts and instance paging."""

from __future__ import annotations

import math

import pytest
from sim_support import (
    FOREIGN,
    MakeHarness,
    quiet,
    token_form,
)

from amc_tui.amc.simulator import (
    DEMO_ADVERTISER_ID,
    DEMO_REFRESH_TOKEN,
    OTHER_ADVERTISER_ID,
    TOKEN_PATH,
    demo_instances,
)

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
