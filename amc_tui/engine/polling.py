"""When to ask AMC again about an execution: the polling schedule.

AMC executions take minutes (a quarter of an hour is common), so a fixed short poll
wastes calls and a fixed long one notices the end late.  Two rules:

- **By age** (no sibling has finished yet): wait about a tenth of the execution's
  age, clamped to ``poll_interval_min``..``poll_interval_max``.  A 30-second run is
  noticed within a few seconds; a 15-minute one costs some fifty calls, not 180.
- **By siblings** (some executions of the same batch have finished): their durations
  bracket when this one should end.  Before the earliest expected end the wait halves
  the time left (sparse early, landing on the expected end); between the earliest and
  the latest expected end it polls closely (a tenth of that spread, at least the
  minimum, at most the by-age wait), and backs off again as an execution runs later
  than all its siblings.

Durations are measured on the runner's clock from the moment the create call
answered.  A finished sibling's true duration lies between the last poll that saw it
running and the poll that saw it finished; the lower bounds say when to start looking
closely, the upper bounds when the looking can relax.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOW_QUANTILE = 0.1
HIGH_QUANTILE = 0.9
BACK_OFF = 5.0
"""Past the latest expected end, wait a fifth of the overrun (at least the minimum)."""


def _quantile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class SiblingDurations:
    """Duration brackets of a batch's finished executions (seconds on the runner's clock)."""

    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)

    def add(self, seen_running_until: float, seen_finished_at: float) -> None:
        """Record a finished execution: last seen active at one age, finished by another."""
        self.lower.append(max(0.0, seen_running_until))
        self.upper.append(max(seen_running_until, seen_finished_at))
        self.lower.sort()
        self.upper.sort()

    def __len__(self) -> int:
        return len(self.lower)

    def expected_window(self) -> tuple[float, float] | None:
        """(earliest, latest) expected duration, or None before any sibling finished."""
        if not self.lower:
            return None
        return _quantile(self.lower, LOW_QUANTILE), _quantile(self.upper, HIGH_QUANTILE)


@dataclass(frozen=True)
class PollSchedule:
    """The waits between status calls, from the engine settings."""

    interval_min: float = 2.0
    interval_max: float = 60.0

    def by_age(self, age: float) -> float:
        return min(self.interval_max, max(self.interval_min, age / 10.0))

    def next_delay(self, age: float, siblings: SiblingDurations | None = None) -> float:
        """Seconds to wait before the next status call of an execution ``age`` seconds old."""
        by_age = self.by_age(age)
        window = siblings.expected_window() if siblings is not None else None
        if window is None:
            return by_age
        earliest, latest = window
        if age < earliest:
            left = earliest - age
            # Halve what is left, but never wait longer than the normal cap when that
            # cap already reaches the expected end: land on it.
            return max(self.interval_min, left / 2 if left > 2 * self.interval_max else left)
        if age <= latest:
            # Close looking, as close as the spread of the siblings' ends warrants.
            return max(self.interval_min, min(by_age, (latest - earliest) / 10.0))
        return min(by_age, max(self.interval_min, (age - latest) / BACK_OFF))
