"""What the simulator saw: :class:`SimulatorStats`, counters tests and demos read.

Counters only; the simulator updates them as it answers.  ``in_flight()`` asks the
simulator for the executions PENDING or RUNNING right now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


def _nothing_in_flight() -> int:
    return 0


@dataclass
class SimulatorStats:
    """Request and execution counters of one simulator.

    ``requests`` is keyed by operation: "POST token", "GET accounts", "GET instances",
    "POST create", "GET status", "GET list", "PUT cancel", "GET downloadUrls",
    "GET result" and "other" (anything that matched no route).
    """

    requests: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    creates_per_instance: Counter[str] = field(default_factory=Counter)
    executions_made_per_instance: Counter[str] = field(default_factory=Counter)
    """Creates that really made an execution, lost answers included."""
    status_calls_per_execution: Counter[str] = field(default_factory=Counter)
    max_in_flight: int = 0
    """Most executions PENDING or RUNNING at once in the account, measured at each create."""
    cancels: int = 0
    """Cancel requests accepted (the first one per execution)."""
    zone_suffixed_windows: int = 0
    """Creates whose timeWindowStart/End carried a zone suffix (accepted; empty result)."""
    token_requests: int = 0
    """Token requests the endpoint answered itself (scripted faults not counted)."""
    dropped_connections: int = 0
    """Answers cut off half-way on purpose ("reset" scripts)."""
    unauthorized: int = 0
    """AMC calls answered 401 (missing, unknown or expired token; wrong client id)."""
    count_in_flight: Callable[[], int] = field(default=_nothing_in_flight, repr=False)

    def in_flight(self) -> int:
        """Executions PENDING or RUNNING now, across the account."""
        return self.count_in_flight()
