"""Exporting one batch to a file the operator names: CSV or JSON, chosen by the suffix.

- ``.json``: the ``--json`` contract's document (:func:`amc_tui.output.batch_json`),
  exactly what ``amc-tui show BATCH_ID --json`` prints.
- ``.csv``: a header row (:data:`CSV_COLUMNS`), then one row per execution, UTF-8,
  written by :mod:`csv` (quoting as needed, ``\\r\\n`` line ends).  Times are ISO 8601
  UTC.  **Formula injection guard:** a cell starting with ``=``, ``+``, ``-``, ``@``
  (or a tab or carriage return) is prefixed with a single quote, so a spreadsheet
  shows an instance name such as ``=HYPERLINK(...)`` as text instead of running it.

The file is written atomically (:func:`amc_tui.state_file.atomic_write_bytes`: a
temporary file, fsync, rename), so a failed export leaves nothing behind and an
existing file is either kept whole or replaced whole, and it is replaced only when
``overwrite`` is given.  Every refusal is an :class:`~amc_tui.errors.InputError`
naming the path and the problem.  Nothing here imports textual.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from amc_tui import output
from amc_tui.domain import Attempt, Batch, Execution, ExecutionStatus
from amc_tui.errors import InputError
from amc_tui.state_file import atomic_write_bytes

SUFFIXES = (".csv", ".json")
CSV_COLUMNS = (
    "batch_id",
    "batch_name",
    "batch_status",
    "instance_id",
    "instance_uuid",
    "instance_name",
    "status",
    "amc_execution_id",
    "attempts",
    "error",
    "created_at",
    "submitted_at",
    "finished_at",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP's list)."""


@dataclass(frozen=True)
class ExportResult:
    """Where the batch was written and how many executions (rows) it holds."""

    path: Path
    rows: int


def check_export_path(path: Path | str, *, overwrite: bool = False) -> Path:
    """The file to write (``~`` expanded), or an InputError naming it and the problem.

    Refused: an empty name, a directory, a suffix other than ``.csv``/``.json``, a
    folder that does not exist or cannot be written in, something that is not a
    regular file, and an existing file unless ``overwrite``.
    """
    if not str(path).strip():
        raise InputError("No file name given: type a path ending in .csv or .json")
    try:
        target = Path(path).expanduser()
    except RuntimeError:  # "~someone" with no such user, or no home directory
        raise InputError(f"{path}: cannot tell which home folder ~ means") from None
    try:
        _check_target(target, overwrite=overwrite)
    except OSError as error:  # e.g. a name too long for the file system
        raise InputError(f"{target} cannot be written: {_reason(error)}") from None
    return target


def export_path_problem(text: str) -> str | None:
    """What is wrong with ``text`` as a file to export to, or None (existing is fine)."""
    try:
        check_export_path(text, overwrite=True)
    except InputError as error:
        return error.user_message
    return None


def home_relative(folder: Path) -> str:
    """``~/reports`` for a path under the home folder, else the path as it is."""
    try:
        return str(Path("~") / folder.relative_to(Path.home()))
    except (ValueError, RuntimeError):
        return str(folder)


def _check_target(target: Path, *, overwrite: bool) -> None:
    if target.is_dir():
        raise InputError(f"{target} is a directory; give a file name ending in .csv or .json")
    if target.suffix.lower() not in SUFFIXES:
        raise InputError(f"{target}: the name must end in .csv or .json")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{target}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{target}: the folder {folder} cannot be written in")
    if target.exists() and not target.is_file():
        raise InputError(f"{target} exists and is not a regular file")
    if target.exists() and not overwrite:
        raise InputError(f"{target} already exists")


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def export_batch(
    batch: Batch,
    path: Path | str,
    attempts: Mapping[int, list[Attempt]] | None = None,
    *,
    overwrite: bool = False,
) -> ExportResult:
    """Write ``batch`` to ``path``, as CSV or JSON by its suffix, atomically.

    ``attempts`` (execution id -> its tries, as the store lists them) supplies the
    error of an execution that did not succeed and has no message of its own: the
    last try's.  Raises InputError (nothing written) for a refused path or a write
    that failed (the message gives the system's reason).
    """
    target = check_export_path(path, overwrite=overwrite)
    errors = _last_attempt_errors(attempts or {})
    if target.suffix.lower() == ".json":
        text = output.dumps(output.batch_json(batch, attempt_errors=errors)) + "\n"
    else:
        text = batch_csv(batch, errors)
    try:
        # Through a symlink to its target, so the link itself stays a link.
        atomic_write_bytes(target.resolve(), text.encode("utf-8"), mode=0o644)
    except OSError as error:
        raise InputError(f"{target} cannot be written: {_reason(error)}") from None
    return ExportResult(target, len(batch.executions))


def batch_csv(batch: Batch, attempt_errors: Mapping[int, str] | None = None) -> str:
    """The CSV text: the header row, then one row per execution."""
    errors = attempt_errors or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for execution in batch.executions:
        writer.writerow(safe_cell(v) for v in _csv_values(batch, execution, errors))
    return buffer.getvalue()


def safe_cell(value: object) -> str:
    """``value`` as CSV text; one a spreadsheet could run as a formula gets a ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_values(batch: Batch, execution: Execution, errors: Mapping[int, str]) -> Iterable[object]:
    error = output.shown_error(execution)
    if error is None and execution.status is not ExecutionStatus.SUCCEEDED:
        error = errors.get(execution.id) if execution.id is not None else None
    return (
        batch.id,
        batch.name,
        batch.status.value,
        execution.instance_id,
        execution.instance_uuid,
        execution.instance_name,
        execution.status.value,
        execution.amc_execution_id,
        execution.attempts,
        error,
        output.iso_utc(execution.created_at),
        output.iso_utc(execution.submitted_at),
        output.iso_utc(execution.finished_at),
    )


def _last_attempt_errors(attempts: Mapping[int, list[Attempt]]) -> dict[int, str]:
    """Each execution's last error message among its tries (those that had one)."""
    found: dict[int, str] = {}
    for execution_id, tries in attempts.items():
        messages = [a.error_message for a in sorted(tries, key=lambda a: a.number)]
        last = next((m for m in reversed(messages) if m), None)
        if last is not None:
            found[execution_id] = last
    return found
