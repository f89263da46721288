"""The statuses of DESIGN section 3 and the state machines they move through.

:class:`ExecutionStatus` and :class:`BatchStatus` as enums, with explicit
transition tables.  Every state change in the program goes through
:func:`check_execution_transition` or :func:`check_batch_transition`; an illegal
one raises :class:`~amc_tui.errors.IllegalTransitionError`.

Kept apart from the pydantic models of :mod:`amc_tui.domain` (which re-exports
every name here) so that code that only reads statuses, such as ``amc-tui
history``, does not load pydantic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from amc_tui.errors import IllegalTransitionError

# --- statuses and transitions ---------------------------------------------------------


class ExecutionStatus(StrEnum):
    """The life of one execution on one instance (DESIGN section 3)."""

    QUEUED = "QUEUED"
    SUBMITTING = "SUBMITTING"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_EXECUTION_STATUSES

    @property
    def is_on_amc(self) -> bool:
        """PENDING or RUNNING: the execution exists on AMC and is not finished."""
        return self in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


TERMINAL_EXECUTION_STATUSES = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)

_E = ExecutionStatus
_AFTER_CREATE = frozenset({_E.PENDING, _E.RUNNING, _E.SUCCEEDED, _E.FAILED, _E.CANCELLED})

EXECUTION_TRANSITIONS: Mapping[ExecutionStatus, frozenset[ExecutionStatus]] = {
    # Not yet sent: it is either sent or dropped.
    _E.QUEUED: frozenset({_E.SUBMITTING, _E.CANCELLED}),
    # Create under way (with its retries).  The answer gives AMC's status; a permanent
    # error or used-up attempts fail it; a cancel between attempts drops it; a process
    # that died mid-create leaves it UNKNOWN until reconciled.
    _E.SUBMITTING: _AFTER_CREATE | {_E.UNKNOWN},
    # On AMC.  Polls may miss RUNNING entirely.
    _E.PENDING: frozenset({_E.RUNNING, _E.SUCCEEDED, _E.FAILED, _E.CANCELLED}),
    _E.RUNNING: frozenset({_E.SUCCEEDED, _E.FAILED, _E.CANCELLED}),
    # Reconciled through AMC's list call: adopt what AMC made, or submit again.
    _E.UNKNOWN: _AFTER_CREATE | {_E.SUBMITTING},
    _E.SUCCEEDED: frozenset(),
    _E.FAILED: frozenset(),
    _E.CANCELLED: frozenset(),
}


class BatchStatus(StrEnum):
    """The life of a batch (DESIGN section 3)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_BATCH_STATUSES


TERMINAL_BATCH_STATUSES = frozenset(
    {BatchStatus.COMPLETED, BatchStatus.PARTIAL, BatchStatus.FAILED, BatchStatus.CANCELLED}
)

_B = BatchStatus
_FINISHED = frozenset({_B.COMPLETED, _B.PARTIAL, _B.FAILED, _B.CANCELLED})

BATCH_TRANSITIONS: Mapping[BatchStatus, frozenset[BatchStatus]] = {
    _B.PENDING: frozenset({_B.RUNNING, _B.INTERRUPTED}) | _FINISHED,
    _B.RUNNING: _FINISHED | {_B.INTERRUPTED},
    # Resumed, or given up on.
    _B.INTERRUPTED: frozenset({_B.RUNNING, _B.CANCELLED}),
    _B.COMPLETED: frozenset(),
    _B.PARTIAL: frozenset(),
    _B.FAILED: frozenset(),
    _B.CANCELLED: frozenset(),
}


def can_transition_execution(old: ExecutionStatus, new: ExecutionStatus) -> bool:
    return new in EXECUTION_TRANSITIONS[old]


def check_execution_transition(old: ExecutionStatus, new: ExecutionStatus) -> None:
    """Raise :class:`IllegalTransitionError` unless ``old -> new`` is allowed."""
    if not can_transition_execution(old, new):
        raise IllegalTransitionError(f"An execution cannot go from {old} to {new}")


def can_transition_batch(old: BatchStatus, new: BatchStatus) -> bool:
    return new in BATCH_TRANSITIONS[old]


def check_batch_transition(old: BatchStatus, new: BatchStatus) -> None:
    """Raise :class:`IllegalTransitionError` unless ``old -> new`` is allowed."""
    if not can_transition_batch(old, new):
        raise IllegalTransitionError(f"A batch cannot go from {old} to {new}")


def derive_batch_status(
    statuses: Iterable[ExecutionStatus], *, cancel_requested: bool = False
) -> BatchStatus:
    """The final status of a batch whose executions have all ended.

    ``cancelled`` if the operator cancelled it; otherwise ``completed`` when every
    execution succeeded, ``failed`` when none did, and ``partial`` for a mix.
    """
    if cancel_requested:
        return BatchStatus.CANCELLED
    values = list(statuses)
    succeeded = sum(1 for s in values if s is ExecutionStatus.SUCCEEDED)
    if values and succeeded == len(values):
        return BatchStatus.COMPLETED
    if succeeded == 0:
        return BatchStatus.FAILED
    return BatchStatus.PARTIAL
