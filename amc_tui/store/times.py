"""Times as the history file stores them: fixed-width ISO-8601 UTC text.

Kept apart from :mod:`amc_tui.store.codec` (which builds the domain's pydantic models)
so that ``amc-tui history`` (:mod:`amc_tui.store.summaries`) reads times the same way
without importing pydantic.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_db_time(value: datetime) -> str:
    """``value`` as fixed-width ISO-8601 UTC text; naive values are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def to_db_time_or_none(value: datetime | None) -> str | None:
    return None if value is None else to_db_time(value)


def from_db_time(text: str) -> datetime:
    """A timezone-aware UTC datetime from stored text."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def from_db_time_or_none(text: str | None) -> datetime | None:
    return None if text is None else from_db_time(text)
