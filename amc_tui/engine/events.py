"""The events a :class:`~amc_tui.engine.runner.BatchRunner` emits, and how to receive them.

Every event describes something already committed to the history store: the runner
emits it only after the write returned.  Events are frozen dataclasses, so the TUI
can turn each into a message that updates one row, and the headless command line can
redraw its progress line.  Receive them with :meth:`EventHub.subscribe` (an async
iterator over a queue of its own) or :meth:`EventHub.add_listener` (a plain callback,
called synchronously in the event loop; it must not block).

Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from amc_tui.domain import BatchCounts, BatchStatus, Execution, ExecutionStatus
from amc_tui.errors import ErrorCategory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchStarted:
    """The runner took the batch on (a new run, or a resume)."""

    batch_id: str
    total: int
    resumed: bool


@dataclass(frozen=True)
class ExecutionChanged:
    """An execution moved from ``previous`` to ``execution.status`` (committed)."""

    batch_id: str
    execution: Execution
    previous: ExecutionStatus


@dataclass(frozen=True)
class AttemptFailed:
    """A try at creating an execution failed.

    ``retry_in`` is the wait (seconds) before the next try, or None when no try
    follows (a permanent error, or the tries are used up).
    """

    batch_id: str
    execution_id: int
    instance_id: str
    attempt: int
    max_attempts: int
    category: ErrorCategory
    message: str
    retry_in: float | None


@dataclass(frozen=True)
class PollFailed:
    """Asking AMC for an execution's status failed transiently; polling goes on."""

    batch_id: str
    execution_id: int
    instance_id: str
    category: ErrorCategory
    message: str


@dataclass(frozen=True)
class CancelRequested:
    """A cancel of the batch was asked for (here, or by another process)."""

    batch_id: str


@dataclass(frozen=True)
class BatchFinished:
    """The runner let go of the batch, in ``status`` (``interrupted`` if stopped early)."""

    batch_id: str
    status: BatchStatus
    counts: BatchCounts


EngineEvent = (
    BatchStarted | ExecutionChanged | AttemptFailed | PollFailed | CancelRequested | BatchFinished
)
Listener = Callable[[EngineEvent], None]


class EventSubscription:
    """An async iterator over the events emitted after it was made; ``close()`` ends it."""

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[EngineEvent | None] = asyncio.Queue()

    def put(self, event: EngineEvent | None) -> None:
        self._queue.put_nowait(event)

    def close(self) -> None:
        """Stop receiving; the iteration ends after the events already queued."""
        self._hub.unsubscribe(self)
        self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self

    async def __anext__(self) -> EngineEvent:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event


class EventHub:
    """Hands each emitted event to every listener and subscription, in order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._subscriptions: list[EventSubscription] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def subscribe(self) -> EventSubscription:
        subscription = EventSubscription(self)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: EventSubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def emit(self, event: EngineEvent) -> None:
        """Deliver ``event``; a listener that raises is logged and does not stop others."""
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("an event listener failed on %s", type(event).__name__)
        for subscription in list(self._subscriptions):
            subscription.put(event)
