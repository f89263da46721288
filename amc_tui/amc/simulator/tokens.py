"""Login with Amazon, simulated: the refresh-token grant and the bearer check.

``POST /auth/o2/token`` answers like LWA (``{"error", "error_description"}`` on
refusal).  Every AMC call then needs ``Authorization: Bearer <token>`` for a token
that has not expired by the monotonic clock (``token_ttl``, whatever ``expires_in``
announced), and the ``Amazon-Advertising-API-ClientId``
of the client the token was issued to.  A missing or wrong client id answers 401, not
403: the caller has not proven who it is (the token belongs to another application),
which is a credentials problem, not a permission on an instance.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from amc_tui.amc.simulator.asgi import Request, Response, error, json_response
from amc_tui.amc.simulator.state import SimulatorState

_FIELDS = ("grant_type", "refresh_token", "client_id", "client_secret")


def _lwa_error(status: int, code: str, description: str) -> Response:
    return json_response(status, {"error": code, "error_description": description})


def _form(request: Request) -> dict[str, str]:
    content_type = (request.header("content-type") or "").lower()
    text = request.body.decode("utf-8", errors="replace")
    if content_type.startswith("application/json"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, str)}
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def token_endpoint(state: SimulatorState, request: Request) -> Response:
    """The refresh-token grant: a new access token, or LWA's refusal."""
    state.stats.token_requests += 1
    form = _form(request)
    for name in _FIELDS:
        if not form.get(name):
            return _lwa_error(
                400, "invalid_request", f"The request is missing a required parameter : {name}"
            )
    if form["grant_type"] != "refresh_token":
        return _lwa_error(
            400, "unsupported_grant_type", "The authorization grant type is not supported"
        )
    config = state.config
    if form["client_id"] != config.client_id or form["client_secret"] != config.client_secret:
        return _lwa_error(401, "invalid_client", "Client authentication failed")
    if form["refresh_token"] != config.refresh_token:
        return _lwa_error(
            400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
        )
    rng = state.rng("token")
    access_token = "Atza|" + f"{rng.getrandbits(256):064x}"
    state.tokens[access_token] = (form["client_id"], state.clock() + config.token_ttl)
    return json_response(
        200,
        {
            "access_token": access_token,
            "refresh_token": config.refresh_token,
            "token_type": "bearer",
            "expires_in": round(
                config.token_ttl
                if config.announced_token_ttl is None
                else config.announced_token_ttl
            ),
        },
    )


def unauthorized(state: SimulatorState, details: str) -> Response:
    state.stats.unauthorized += 1
    return error(401, details)


def check_credentials(state: SimulatorState, request: Request) -> Response | None:
    """401 unless the bearer token is known and fresh and the client id matches it."""
    header = request.header("authorization") or ""
    scheme, _, token = header.partition(" ")
    if not header:
        return unauthorized(state, "Missing Authorization header")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized(state, "Authorization header must be 'Bearer <access token>'")
    issued = state.tokens.get(token.strip())
    if issued is None:
        return unauthorized(state, "Invalid access token")
    client_id, expires_at = issued
    if state.clock() >= expires_at:
        return unauthorized(state, "Access token has expired")
    sent_client_id = request.header("amazon-advertising-api-clientid")
    if not sent_client_id:
        return unauthorized(state, "Missing Amazon-Advertising-API-ClientId header")
    if sent_client_id != client_id:
        return unauthorized(
            state, "Amazon-Advertising-API-ClientId does not match the access token"
        )
    return None


def check_account(state: SimulatorState, request: Request) -> Response | None:
    """400 without the advertiser or marketplace header; 403 for an unknown advertiser."""
    advertiser = request.header("amazon-advertising-api-advertiserid")
    if not advertiser:
        return error(400, "Missing Amazon-Advertising-API-AdvertiserId header")
    if not request.header("amazon-advertising-api-marketplaceid"):
        return error(400, "Missing Amazon-Advertising-API-MarketplaceId header")
    if advertiser != state.config.advertiser_id:
        return error(403, f"Not authorized to access AMC account {advertiser}")
    return None
