"""Building the one shared HTTP client and the :class:`AmcClient` for a profile.

This is the only place that decides where requests go: to the configured AMC
hosts, or, in demo mode, to the embedded simulator through
:class:`httpx.ASGITransport` (no socket at all).  The client above it cannot tell
the difference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpcore
import httpx
from pydantic import SecretStr

from amc_tui.amc.auth import TokenManager
from amc_tui.amc.client import AmcClient
from amc_tui.settings import HttpSettings, Settings

if TYPE_CHECKING:
    from amc_tui.amc.simulator import AmcSimulator

USER_AGENT = "amc-tui/0.1"

READ_BYTES = 256 * 1024
"""The most httpcore asks of a connection's socket at once (its default is 64 KiB).

asyncio's transport receives up to 256 KiB a call; with httpcore asking for 64 KiB,
every such block was cut into four, each going through httpcore, h11 and anyio again
(and anyio copies what is left of the block each time).  For a result file that was
most of the CPU of a download: a plain ``httpx`` loop on this project's bench moved
1 GB at 311-383 MB/s with 64 KiB and at 499-627 MB/s, with 40% less CPU, with 256 KiB
and more.  Small answers are unchanged: a read returns what has arrived, up to this.
"""

AsgiApp = Callable[[Any, Any, Any], Awaitable[None]]


def build_http_client(
    http: HttpSettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The shared AsyncClient: pool limits and timeouts from ``[http]``.

    It also sets httpcore's read size (:data:`READ_BYTES`): a public class attribute,
    so it holds for every HTTP/1.1 connection of the process, which has only this one
    client.
    """
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = READ_BYTES
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(http.timeout, connect=http.connect_timeout),
        limits=httpx.Limits(
            max_connections=http.max_connections,
            max_keepalive_connections=http.max_keepalive_connections,
        ),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


def open_client(
    *,
    api_url: str,
    token_url: str,
    client_id: str,
    advertiser_id: str,
    marketplace_id: str,
    client_secret: SecretStr,
    refresh_token: SecretStr,
    http: HttpSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AmcClient:
    """An AmcClient for explicit connection values (tests and tools use this)."""
    shared = build_http_client(http or HttpSettings(), transport)
    tokens = TokenManager(
        shared,
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
    )
    return AmcClient(
        shared,
        api_url=api_url,
        client_id=client_id,
        advertiser_id=advertiser_id,
        marketplace_id=marketplace_id,
        tokens=tokens,
    )


def open_demo_client(
    simulator: AmcSimulator | AsgiApp | None = None,
    http: HttpSettings | None = None,
    state_file: Path | None = None,
) -> AmcClient:
    """An AmcClient wired in-process to an embedded simulator.

    Without ``simulator`` a default one is made, keeping its executions in
    ``state_file`` (if given) so that other processes, and later ones, see them.
    ``simulator`` may also be any ASGI app in front of one (tests watch calls so).
    """
    # Here, not at the top: a process talking to AMC itself never loads the simulator.
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

    simulator = simulator or AmcSimulator(SimulatorConfig(), state_file=state_file)
    return open_client(
        api_url=SIMULATOR_BASE_URL,
        token_url=SIMULATOR_BASE_URL + TOKEN_PATH,
        client_id=DEMO_CLIENT_ID,
        advertiser_id=DEMO_ADVERTISER_ID,
        marketplace_id=DEMO_MARKETPLACE_ID,
        client_secret=SecretStr(DEMO_CLIENT_SECRET),
        refresh_token=SecretStr(DEMO_REFRESH_TOKEN),
        http=http,
        transport=httpx.ASGITransport(app=simulator),
    )


def open_client_for(settings: Settings, simulator: AmcSimulator | None = None) -> AmcClient:
    """The AmcClient of the active profile; the embedded simulator in demo mode."""
    if settings.profile is None:
        state_file = settings.paths.simulator_state_file
        return open_demo_client(simulator, settings.http, state_file)
    credentials = settings.require_credentials()
    profile = settings.profile
    return open_client(
        api_url=profile.api_url,
        token_url=profile.token_url,
        client_id=profile.client_id,
        advertiser_id=profile.advertiser_id,
        marketplace_id=profile.marketplace_id,
        client_secret=credentials.client_secret,
        refresh_token=credentials.refresh_token,
        http=settings.http,
    )
