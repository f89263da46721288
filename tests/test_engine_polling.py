"""The polling schedule: by age alone, then by what finished siblings took."""

from __future__ import annotations

from amc_tui.engine.polling import PollSchedule, SiblingDurations

SCHEDULE = PollSchedule(interval_min=2.0, interval_max=60.0)


def polls_until(end: float, siblings: SiblingDurations | None = None) -> int:
    """Status calls made for an execution that finishes at ``end`` seconds."""
    age, calls = 0.0, 0
    while True:
        age += SCHEDULE.next_delay(age, siblings)
        calls += 1
        if age >= end:
            return calls


def test_by_age_is_a_tenth_clamped() -> None:
    assert SCHEDULE.next_delay(0) == 2.0
    assert SCHEDULE.next_delay(100) == 10.0
    assert SCHEDULE.next_delay(10_000) == 60.0


def test_short_runs_are_noticed_quickly_and_long_runs_cost_few_calls() -> None:
    # A 30-second run ends within one minimum interval of the truth...
    age = 0.0
    while age < 30:
        age += SCHEDULE.next_delay(age)
    assert age - 30 <= 3.0
    # ...and a 15-minute run costs far fewer calls than a fixed 5-second poll (180).
    assert polls_until(900) < 60


def test_siblings_make_polling_sparse_early_and_close_at_the_end() -> None:
    siblings = SiblingDurations()
    for _ in range(5):
        siblings.add(898.0, 905.0)  # all took about 15 minutes
    calls = polls_until(900, siblings)
    assert calls <= 10
    # The wait just before the expected end lands on it, not far past it.
    assert SCHEDULE.next_delay(800, siblings) <= 98.0 + 1e-9
    assert SCHEDULE.next_delay(0, siblings) > 60.0  # sparse early: beyond the by-age cap
    assert SCHEDULE.next_delay(899, siblings) == 2.0  # close around the end


def test_an_execution_running_past_all_siblings_backs_off() -> None:
    siblings = SiblingDurations()
    siblings.add(100.0, 102.0)
    near = SCHEDULE.next_delay(110, siblings)
    far = SCHEDULE.next_delay(400, siblings)
    assert near < far <= SCHEDULE.by_age(400)


def test_expected_window_uses_low_and_high_brackets() -> None:
    siblings = SiblingDurations()
    assert siblings.expected_window() is None
    for low in range(10, 110, 10):
        siblings.add(float(low), float(low) + 5)
    earliest, latest = siblings.expected_window() or (0.0, 0.0)
    assert (earliest, latest) == (20.0, 95.0)  # 10th percentile low, 90th high
