"""Rendering results for the headless commands: aligned text tables and JSON.

This module owns how ``instances``, ``run``, ``show``, ``resume`` and ``history``
present what they know: the ``--json`` documents of DESIGN section 7
(:func:`batch_json`, :func:`summary_json`, :func:`instance_json`), the human text
(:func:`batch_table`, :func:`history_table`, :func:`instances_table`) and the live
progress line drawn on stderr (:func:`progress_line`).  Every function here is pure:
it builds a string or a dict and leaves printing to the caller.

Human output is plain text (no markup, no colour codes); control and format
characters in values that came from elsewhere (instance names, error messages) are
replaced so that nothing printed can drive the terminal or reorder a line (a bidi
override); :func:`terminal_text` does it for other printers.  ``--json`` writes them
as ``\\uXXXX`` escapes: the same strings to a JSON reader, inert on a terminal.
Times are shown in UTC.

:func:`summary_json` and :func:`history_table` take a history row either as the
:class:`~amc_tui.domain.BatchSummary` model or as the plain
:class:`~amc_tui.store.summaries.SummaryRow` that ``amc-tui history`` reads, and
print both alike.  The models are imported for annotations only, so ``history``
loads no pydantic through this module.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from amc_tui.states import ExecutionStatus

if TYPE_CHECKING:  # the models are only annotations here: `history` loads no pydantic
    from amc_tui.domain import Batch, BatchCounts, BatchSummary, Execution, Instance
    from amc_tui.store.summaries import SummaryCounts, SummaryRow

    Counts = BatchCounts | SummaryCounts
    """Counts of a batch's executions: the model, or the plain row ``history`` reads."""
    Summary = BatchSummary | SummaryRow
    """One row of the history: the model, or the plain row ``history`` reads."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FORMAT = re.compile(r"[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
"""Invisible and bidi format characters (category Cf), which can reorder a line."""


def terminal_text(text: str) -> str:
    """``text`` with every control character (escape, newline, tab...) and every
    invisible or bidi format character made a space: safe to print on a terminal."""
    return _FORMAT.sub(" ", _CONTROL.sub(" ", text))


_JSON_RAW = re.compile(r"[\x7f-\x9f]|" + _FORMAT.pattern)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, headers first.

    Control characters in cells become spaces, so one cell is always one line.
    """
    materialised = [[terminal_text(str(cell)) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in materialised:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in materialised
    ]
    return "\n".join(lines)


def dumps(document: Any) -> str:
    """JSON for stdout: readable non-ASCII text, but control and format characters
    (which JSON leaves raw from DEL on) escaped, so none reaches a terminal raw."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    # json escapes \x00-\x1f itself; outside strings it writes ASCII only, so every
    # match of these (DEL, C1, format characters) is inside a string.
    return _JSON_RAW.sub(_json_escape, text)


# --- time ------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already (as the store does)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, whole seconds, with a trailing ``Z``; None stays None."""
    if value is None:
        return None
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short_utc(value: datetime | None) -> str:
    return "-" if value is None else _utc(value).strftime("%Y-%m-%d %H:%M")


def _long_utc(value: datetime | None) -> str:
    return "-" if value is None else _utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: float | None) -> str:
    """A short human duration: ``45s``, ``3m 12s``, ``2h 05m``, ``3d 04h``.

    Rounded to the nearest second.  None, NaN and infinities give ``-``; a negative
    value (clocks moved) is shown as ``0s``.
    """
    if seconds is None or not math.isfinite(seconds):
        return "-"
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_clock(seconds: float) -> str:
    """Elapsed time as ``mm:ss``, or ``h:mm:ss`` from an hour on (negative as 0)."""
    total = max(0, round(seconds)) if math.isfinite(seconds) else 0
    hours, rest = divmod(total, 3_600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def _batch_seconds(
    created_at: datetime, started_at: datetime | None, finished_at: datetime | None
) -> float | None:
    """From start (or creation, if it never started) to finish; None while unfinished."""
    if finished_at is None:
        return None
    return (_utc(finished_at) - _utc(started_at or created_at)).total_seconds()


# --- JSON (DESIGN section 7, contract) -------------------------------------------------


def instance_json(instance: Instance) -> dict[str, Any]:
    return {
        "instance_id": instance.instance_id,
        "instance_uuid": str(instance.uuid),
        "instance_name": instance.name,
        "instance_type": instance.instance_type.value,
        "region": instance.region,
    }


def counts_json(counts: Counts) -> dict[str, int]:
    """The ``counts`` object of the contract: total, succeeded, failed, cancelled, unknown.

    ``unknown`` is every execution whose outcome is not known: UNKNOWN ones, and
    those not finished (QUEUED, SUBMITTING, PENDING, RUNNING), which happens for a
    batch that is interrupted or still running.  So
    ``succeeded + failed + cancelled + unknown == total`` always holds.
    """
    return {
        "total": counts.total,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "cancelled": counts.cancelled,
        "unknown": counts.unknown + counts.queued + counts.in_flight,
    }


def shown_error(execution: Execution) -> str | None:
    """The execution's error, unless it succeeded in the end.

    A trouble on the way (a lost create answer settled later) stays in the store and
    in its attempts, but a succeeded execution shows no error.
    """
    if execution.status is ExecutionStatus.SUCCEEDED:
        return None
    return execution.error_message


def execution_json(execution: Execution, *, fallback_error: str | None = None) -> dict[str, Any]:
    """One element of ``executions``: ``error`` is the short user-facing message or null.

    ``fallback_error`` is used when the execution has no message of its own and did
    not succeed (e.g. the message of its last failed attempt).
    """
    error = shown_error(execution) or fallback_error
    if execution.status is ExecutionStatus.SUCCEEDED:
        error = None
    return {
        "instance_id": execution.instance_id,
        "instance_uuid": str(execution.instance_uuid),
        "instance_name": execution.instance_name,
        "status": execution.status.value,
        "amc_execution_id": execution.amc_execution_id,
        "attempts": execution.attempts,
        "error": error,
    }


def _header_json(
    batch_id: str,
    name: str,
    status: str,
    created_at: datetime,
    finished_at: datetime | None,
    counts: Counts,
) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "name": name,
        "status": status,
        "created_at": iso_utc(created_at),
        "finished_at": iso_utc(finished_at),
        "counts": counts_json(counts),
    }


def batch_json(batch: Batch, *, attempt_errors: Mapping[int, str] | None = None) -> dict[str, Any]:
    """The ``--json`` document of ``run``, ``show`` and ``resume`` (DESIGN section 7).

    Keys: batch_id, name, status (lowercase), created_at, finished_at (ISO 8601 UTC
    with ``Z``, or null), counts (see :func:`counts_json`) and executions.
    ``attempt_errors`` maps an execution id to a message shown as its ``error``
    when it has none of its own and did not succeed.
    """
    errors = attempt_errors or {}
    document = _header_json(
        batch.id,
        batch.name,
        batch.status.value,
        batch.created_at,
        batch.finished_at,
        batch.counts(),
    )
    document["executions"] = [
        execution_json(e, fallback_error=errors.get(e.id) if e.id is not None else None)
        for e in batch.executions
    ]
    return document


def summary_json(summary: Summary) -> dict[str, Any]:
    """The object of :func:`batch_json` without ``executions``: one item of ``history --json``."""
    return _header_json(
        summary.id,
        summary.name,
        summary.status.value,
        summary.created_at,
        summary.finished_at,
        summary.counts,
    )


# --- human text ------------------------------------------------------------------------


def _counts_text(counts: Counts) -> str:
    c = counts_json(counts)
    return (
        f"{c['total']} total: {c['succeeded']} succeeded, {c['failed']} failed, "
        f"{c['cancelled']} cancelled, {c['unknown']} unknown"
    )


def _fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``Label  value`` lines with the values aligned."""
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{label.ljust(width)}  {terminal_text(value)}" for label, value in pairs)


def batch_table(batch: Batch) -> str:
    """A header block about the batch, then one row per execution."""
    seconds = _batch_seconds(batch.created_at, batch.started_at, batch.finished_at)
    finished = _long_utc(batch.finished_at)
    if seconds is not None:
        finished += f" (took {format_duration(seconds)})"
    header = _fields(
        [
            ("Batch", batch.id),
            ("Name", batch.name or "-"),
            ("Status", batch.status.value),
            ("Created", _long_utc(batch.created_at)),
            ("Finished", finished),
            ("Executions", _counts_text(batch.counts())),
        ]
    )
    if not batch.executions:
        return header + "\n\nNo executions."
    rows = table(
        ("INSTANCE", "AMC INSTANCE ID", "STATUS", "ATTEMPTS", "AMC EXECUTION ID", "ERROR"),
        (
            (
                e.instance_name or "-",
                e.instance_id,
                e.status.value,
                str(e.attempts),
                e.amc_execution_id or "-",
                shown_error(e) or "",
            )
            for e in batch.executions
        ),
    )
    return header + "\n\n" + rows


def history_table(summaries: Sequence[Summary]) -> str:
    """One row per batch, newest first as given; a sentence when there are none."""
    if not summaries:
        return "No batches in the history yet."
    return table(
        (
            "BATCH",
            "NAME",
            "STATUS",
            "CREATED (UTC)",
            "DURATION",
            "SUCCEEDED",
            "FAILED",
            "CANCELLED",
            "TOTAL",
        ),
        (
            (
                s.id,
                s.name or "-",
                s.status.value,
                _short_utc(s.created_at),
                format_duration(_batch_seconds(s.created_at, s.started_at, s.finished_at)),
                str(s.counts.succeeded),
                str(s.counts.failed),
                str(s.counts.cancelled),
                str(s.counts.total),
            )
            for s in summaries
        ),
    )


def instances_table(instances: Sequence[Instance]) -> str:
    return table(
        ("NAME", "AMC INSTANCE ID", "TYPE", "REGION", "UUID"),
        ((i.name, i.instance_id, i.instance_type.value, i.region, str(i.uuid)) for i in instances),
    )


# --- the live progress line ------------------------------------------------------------


def progress_line(
    counts: BatchCounts,
    elapsed_seconds: float,
    *,
    width: int = 80,
    batch_id: str | None = None,
) -> str:
    """One line of live progress, at most ``width`` characters, no colour codes.

    ``batch_xxxx  12/30 done  ✓ 10  ✗ 1  ⊘ 1  ▶ 5 running  … 13 queued  02:31``
    (``? N unknown`` appears only when there are some).  When that does not fit, the
    words go, then the batch id, then the counts from the right (the done count and
    the clock stay); a last resort cuts the line with ``…``.
    """
    if width <= 0:
        return ""
    done = counts.succeeded + counts.failed + counts.cancelled
    clock = format_clock(elapsed_seconds)
    unknown = [(f"? {counts.unknown}", "unknown")] if counts.unknown else []
    parts = [
        (f"{done}/{counts.total}", "done"),
        (f"✓ {counts.succeeded}", ""),
        (f"✗ {counts.failed}", ""),
        (f"⊘ {counts.cancelled}", ""),
        *unknown,
        (f"▶ {counts.in_flight}", "running"),
        (f"… {counts.queued}", "queued"),
    ]
    prefix = [batch_id] if batch_id else []
    values = [v for v, _ in parts]
    candidates = [
        "  ".join([*prefix, *(f"{v} {w}" if w else v for v, w in parts), clock]),
        " ".join([*prefix, *values, clock]),
        *(" ".join([*values[:keep], clock]) for keep in range(len(values), 0, -1)),
    ]
    for line in candidates:
        if len(line) <= width:
            return line
    return candidates[-1][: width - 1] + "…"
