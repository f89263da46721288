"""The retry policy: what is retried, how long it waits, and the instance refresh using it."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from amc_tui.amc.connection import open_demo_client
from amc_tui.amc.simulator import AmcSimulator, SimulatorConfig
from amc_tui.engine.instances import InstanceCatalog
from amc_tui.engine.retry import RetryPolicy, call_with_retries
from amc_tui.errors import (
    AccessDeniedError,
    AmcTuiError,
    NetworkError,
    ServerError,
    ThrottledError,
    TransientError,
)
from amc_tui.store import HistoryStore


class Sleeps:
    """A sleep that records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Flaky:
    """Fails with the given errors in turn, then answers ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def policy(attempts: int = 3, base: float = 2.0) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, delay_base=base, rng=random.Random(1))


def test_delays_double_with_bounded_jitter() -> None:
    p = policy()
    for attempt, base in ((1, 2.0), (2, 4.0), (3, 8.0)):
        delay = p.delay_after(attempt, ServerError())
        assert base <= delay <= base * 1.25
    assert p.delay_after(1, ThrottledError(retry_after=30.0)) >= 30.0
    assert p.delay_after(3, ThrottledError(retry_after=1.0)) >= 8.0


async def test_transient_errors_are_retried_then_succeed() -> None:
    sleeps = Sleeps()
    seen: list[tuple[int, type[AmcTuiError]]] = []
    flaky = Flaky(ServerError(status_code=503), NetworkError())
    result = await call_with_retries(
        flaky,
        policy(),
        what="t",
        sleep=sleeps,
        on_retry=lambda n, e, d: seen.append((n, type(e))),
    )
    assert result == "ok"
    assert flaky.calls == 3
    assert [n for n, _ in seen] == [1, 2]
    assert [kind for _, kind in seen] == [ServerError, NetworkError]
    assert 2.0 <= sleeps.waits[0] <= 2.5
    assert 4.0 <= sleeps.waits[1] <= 5.0


async def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    sleeps = Sleeps()
    flaky = Flaky(*(ServerError(status_code=500) for _ in range(10)))
    with pytest.raises(ServerError):
        await call_with_retries(flaky, policy(attempts=4), what="t", sleep=sleeps)
    assert flaky.calls == 4
    assert len(sleeps.waits) == 3


async def test_permanent_errors_are_tried_once() -> None:
    sleeps = Sleeps()
    flaky = Flaky(AccessDeniedError())
    with pytest.raises(AccessDeniedError):
        await call_with_retries(flaky, policy(), what="t", sleep=sleeps)
    assert flaky.calls == 1
    assert sleeps.waits == []


async def test_cancel_is_never_retried() -> None:
    sleeps = Sleeps()
    flaky = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await call_with_retries(flaky, policy(), what="t", sleep=sleeps)
    assert flaky.calls == 1


async def test_retry_after_is_respected() -> None:
    sleeps = Sleeps()
    flaky = Flaky(ThrottledError(retry_after=17.0))
    assert await call_with_retries(flaky, policy(base=0.1), what="t", sleep=sleeps) == "ok"
    assert sleeps.waits[0] >= 17.0


async def test_instance_refresh_rides_out_throttling(tmp_path: Path) -> None:
    simulator = AmcSimulator(SimulatorConfig.reliable(throttle_rate=1.0, retry_after=7.0))

    async def sleep_then_calm(seconds: float) -> None:
        waits.append(seconds)
        simulator.config.throttle_rate = 0.0

    waits: list[float] = []
    async with await HistoryStore.open(tmp_path / "h.db") as store:
        catalog = InstanceCatalog(
            store,
            profile="demo",
            advertiser_id="",
            api_url="",
            retry=policy(),
            sleep=sleep_then_calm,
        )
        async with open_demo_client(simulator) as client:
            instances = await catalog.refresh(client)
    assert len(instances) == 24
    assert simulator.stats.responses[429] == 1
    assert len(waits) == 1 and waits[0] >= 7.0


async def test_instance_refresh_gives_up_and_writes_nothing(tmp_path: Path) -> None:
    simulator = AmcSimulator(SimulatorConfig.reliable(server_error_rate=1.0))
    sleeps = Sleeps()
    async with await HistoryStore.open(tmp_path / "h.db") as store:
        catalog = InstanceCatalog(
            store,
            profile="demo",
            advertiser_id="",
            api_url="",
            retry=policy(attempts=3),
            sleep=sleeps,
        )
        async with open_demo_client(simulator) as client:
            with pytest.raises(TransientError):
                await catalog.refresh(client)
        assert await store.list_instances("demo") == []
    assert simulator.stats.requests["GET instances"] == 3
    assert len(sleeps.waits) == 2
