"""Exporting one batch to a file the operator names: CSV or JSON, chosen by the suffix.

JSON is the ``--json`` contract's object (:func:`amc_tui.output.batch_json`).  CSV is
one row per execution under a header row; a cell that a spreadsheet would read as a
formula (starting with ``=``, ``+``, ``-`` or ``@``) is prefixed with a single quote.
The file is written atomically (temp file, fsync, rename), so an export that fails
leaves nothing behind, and an existing file is replaced only when asked.  Nothing
here imports textual.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from amc_tui import output
from amc_tui.domain import Batch
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
_FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int


def check_export_path(text: str, *, overwrite: bool = False) -> Path:
    """The path to write, or an InputError naming it and what is wrong."""
    if not text.strip():
        raise InputError("Give a file name ending in .csv or .json")
    path = Path(text.strip()).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(f"{path}: the name must end in .csv or .json")
    if path.is_dir():
        raise InputError(f"{path}: is a directory")
    if not path.parent.is_dir():
        raise InputError(f"{path}: the folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise InputError(f"{path}: the file exists")
    return path


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def batch_csv(batch: Batch) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for ex in batch.executions:
        writer.writerow(
            _cell(v)
            for v in (
                batch.id,
                batch.name,
                batch.status.value,
                ex.instance_id,
                ex.instance_uuid,
                ex.instance_name,
                ex.status.value,
                ex.amc_execution_id,
                ex.attempts,
                output.shown_error(ex),
                output.iso_utc(ex.created_at),
                output.iso_utc(ex.submitted_at),
                output.iso_utc(ex.finished_at),
            )
        )
    return buffer.getvalue()


def export_batch(batch: Batch, path_text: str, *, overwrite: bool = False) -> ExportResult:
    """Write ``batch`` to the file (format by suffix); refusals are InputErrors."""
    path = check_export_path(path_text, overwrite=overwrite)
    if path.suffix.lower() == ".json":
        data = output.dumps(output.batch_json(batch)) + "\n"
    else:
        data = batch_csv(batch)
    try:
        atomic_write_bytes(path, data.encode("utf-8"), mode=0o644)
    except OSError as error:
        raise InputError(f"{path}: cannot be written ({error.strerror or error})") from None
    return ExportResult(path, len(batch.executions))
