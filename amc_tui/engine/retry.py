"""Retry policy: which failures are tried again, and how long to wait between tries.

Only :class:`~amc_tui.errors.TransientError` is retried (timeouts, lost connections,
429, 500/502/503/504); every other error, and ``asyncio.CancelledError`` (not an
``Exception``), ends the call at once.  Before try ``n + 1`` the wait is
``retry_delay_base * 2 ** (n - 1)`` seconds (2, 4, 8 s by default: the configured
``max_retry_attempts`` counts the retries, after the first try), stretched by up to
a quarter at random (jitter, so many clients do not retry in step) and never shorter than a 429's
``Retry-After``.  The waiting itself is done by tenacity.

The sleep function is a parameter so that tests and benchmarks can make time fast
through configuration, not by patching this module.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from amc_tui.errors import ThrottledError, TransientError
from amc_tui.settings import EngineSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

JITTER = 0.25
"""Waits are stretched by a random factor in [1, 1 + JITTER]."""

Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[int, TransientError, float], None]
"""Called before each wait with the failed try's number, its error and the wait."""


def is_retryable(error: BaseException) -> bool:
    """Transient amc-tui errors only; never a cancel."""
    return isinstance(error, TransientError)


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries, and the base of the exponential wait between them."""

    max_attempts: int = 4
    """Tries in all: the first and the retries."""
    delay_base: float = 2.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @classmethod
    def from_settings(cls, engine: EngineSettings) -> RetryPolicy:
        """``max_retry_attempts`` counts retries, so there is one try more."""
        return cls(max_attempts=1 + engine.max_retry_attempts, delay_base=engine.retry_delay_base)

    def delay_after(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after try number ``attempt`` (1-based) failed with ``error``."""
        delay = self.delay_base * 2.0 ** (attempt - 1)
        delay *= self.rng.uniform(1.0, 1.0 + JITTER)
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> T:
    """Await ``call()``, trying again after transient errors as ``policy`` says.

    The last error is raised as it is once the tries are used up.  Only calls that are
    safe to repeat belong here (reads, or a create already checked for a lost answer).
    """

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.delay_after(state.attempt_number, error)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.upcoming_sleep
        assert isinstance(error, TransientError)
        log.warning(
            "%s: try %d of %d failed (%s); retrying in %.1f s",
            what,
            state.attempt_number,
            policy.max_attempts,
            error.log_text(),
            delay,
        )
        if on_retry is not None:
            on_retry(state.attempt_number, error, delay)

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )

    async def attempt() -> T:
        # A coroutine function for tenacity, whatever ``call`` is (a lambda returning
        # a coroutine would otherwise be taken for a plain function and not awaited).
        return await call()

    return await retrying(attempt)
