"""How states, times and counts look on screen.

Every state has a symbol as well as a colour, so it stays readable with ``NO_COLOR``
or in a 16-colour terminal; colours are the standard ANSI names, which every
terminal has.  Nothing here imports textual (cells are Rich ``Text``).
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from amc_tui.domain import BatchCounts, BatchStatus, ExecutionStatus
from amc_tui.output import format_duration

EXECUTION_LOOK: dict[ExecutionStatus, tuple[str, str]] = {
    ExecutionStatus.QUEUED: ("·", "bright_black"),
    ExecutionStatus.SUBMITTING: ("↑", "cyan"),
    ExecutionStatus.PENDING: ("◔", "cyan"),
    ExecutionStatus.RUNNING: ("▶", "blue"),
    ExecutionStatus.SUCCEEDED: ("✔", "green"),
    ExecutionStatus.FAILED: ("✘", "red"),
    ExecutionStatus.CANCELLED: ("⊘", "yellow"),
    ExecutionStatus.UNKNOWN: ("?", "magenta"),
}

BATCH_LOOK: dict[BatchStatus, tuple[str, str]] = {
    BatchStatus.PENDING: ("·", "bright_black"),
    BatchStatus.RUNNING: ("▶", "blue"),
    BatchStatus.COMPLETED: ("✔", "green"),
    BatchStatus.PARTIAL: ("◑", "yellow"),
    BatchStatus.FAILED: ("✘", "red"),
    BatchStatus.CANCELLED: ("⊘", "yellow"),
    BatchStatus.INTERRUPTED: ("‖", "magenta"),
}


def execution_state(status: ExecutionStatus) -> Text:
    """``✔ SUCCEEDED`` in green (the symbol carries the meaning without colour)."""
    symbol, colour = EXECUTION_LOOK[status]
    return Text(f"{symbol} {status.value}", style=colour)


def batch_state(status: BatchStatus) -> Text:
    symbol, colour = BATCH_LOOK[status]
    return Text(f"{symbol} {status.value}", style=f"bold {colour}")


def counts_text(counts: BatchCounts) -> Text:
    """``✔ 12  ✘ 1  ⊘ 0  ▶ 5  · 22`` with each part in its state's colour."""
    text = Text()
    parts = (
        (ExecutionStatus.SUCCEEDED, counts.succeeded, "succeeded"),
        (ExecutionStatus.FAILED, counts.failed, "failed"),
        (ExecutionStatus.CANCELLED, counts.cancelled, "cancelled"),
        (ExecutionStatus.RUNNING, counts.in_flight, "in flight"),
        (ExecutionStatus.QUEUED, counts.queued, "queued"),
    )
    for status, number, label in parts:
        symbol, colour = EXECUTION_LOOK[status]
        if text:
            text.append("  ")
        text.append(f"{symbol} {number} {label}", style=colour)
    unknown = counts.total - sum(n for _, n, _ in parts)
    if unknown:
        symbol, colour = EXECUTION_LOOK[ExecutionStatus.UNKNOWN]
        text.append(f"  {symbol} {unknown} unknown", style=colour)
    return text


def since(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was, shortly (``42s``, ``3m 05s``); ``-`` if unknown."""
    if moment is None:
        return "-"
    return format_duration(max(0.0, (now - moment).total_seconds()))


def local_time(moment: datetime | None) -> str:
    """``2026-11-28 18:20`` in the machine's time zone; ``-`` if unknown."""
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, an ellipsis marking a cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"
