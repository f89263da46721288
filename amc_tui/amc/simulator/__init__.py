"""The embedded AMC simulator: an ASGI app that behaves like Amazon Marketing Cloud.

Used in-process through ``httpx.ASGITransport`` for the demo mode and tests, and on a
real port by ``amc-tui simulator`` (see :mod:`.server`).  It implements the LWA token
endpoint, ``/amc/accounts``, ``/amc/instances`` and the workflow-execution calls of
``shared/AMC_API.md``, with seeded knobs for latency, throttling, server errors, lost
answers, SQL errors, failures, per-instance scripted outcomes, and per-operation ones
(bursts, dropped connections, slow, garbled or padded answers).

Modules: :mod:`.config` (knobs, demo credentials), :mod:`.app` (the ASGI app and
routing), :mod:`.tokens` (token grant, header checks), :mod:`.executions_api`
(execution calls), :mod:`.records` (an execution's timeline and JSON),
:mod:`.results` (pre-signed CSV downloads), :mod:`.faults`, :mod:`.operation_faults`
(the per-operation knobs), :mod:`.validation`,
:mod:`.state`, :mod:`.stats`, :mod:`.persistence` and :mod:`.stored` (the optional
state file shared across processes), :mod:`.asgi` (plumbing), :mod:`.demo_data`,
:mod:`.server` (uvicorn).
"""

from __future__ import annotations

from amc_tui.amc.simulator.app import AmcSimulator
from amc_tui.amc.simulator.config import (
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_MARKETPLACE_ID,
    DEMO_REFRESH_TOKEN,
    OTHER_ADVERTISER_ID,
    SIMULATOR_BASE_URL,
    TOKEN_PATH,
    ScriptOutcome,
    SimInstance,
    SimulatorConfig,
)
from amc_tui.amc.simulator.demo_data import DemoQuery, demo_instances, load_demo_queries
from amc_tui.amc.simulator.records import ExecutionRecord
from amc_tui.amc.simulator.stats import SimulatorStats

__all__ = [
    "DEMO_ADVERTISER_ID",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_MARKETPLACE_ID",
    "DEMO_REFRESH_TOKEN",
    "OTHER_ADVERTISER_ID",
    "SIMULATOR_BASE_URL",
    "TOKEN_PATH",
    "AmcSimulator",
    "DemoQuery",
    "ExecutionRecord",
    "ScriptOutcome",
    "SimInstance",
    "SimulatorConfig",
    "SimulatorStats",
    "demo_instances",
    "load_demo_queries",
]
