"""How results downloads are reported: ``amc-tui results``'s JSON document and table,
byte sizes, and a batch's download progress in one line (:class:`DownloadTally`).

The JSON document (``--json``, one object on stdout) is::

    {"batch_id", "batch_status", "results_dir",
     "executions": [{"instance_id", "instance_uuid", "instance_name", "status",
                     "results": "downloaded" | "failed" | "none",
                     "files": [{"kind", "name", "path", "size", "sha256"}],
                     "error"}],
     "merged": {"path", "rows", "files"} | null,
     "error": null | "why the merge was not written"}

``status`` is the execution's; ``results`` is ``none`` for an execution that has no
results (it did not succeed).  Nothing here imports Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amc_tui.domain import Batch
from amc_tui.engine.download_progress import DownloadPhase, DownloadUpdate
from amc_tui.engine.downloads import ResultOutcome
from amc_tui.results_merge import MergeResult

UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(size: int | None) -> str:
    """``1.5 MB`` (decimal units, as disks and networks count); ``?`` when unknown."""
    if size is None:
        return "?"
    value = float(size)
    for unit in UNITS:
        if value < 1000 or unit == UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


class DownloadTally:
    """Where each execution of one batch's result download stands, and its bytes."""

    def __init__(self, batch_id: str, total: int) -> None:
        self.batch_id = batch_id
        self.total = total
        """Executions with results (the succeeded ones)."""
        self.phases: dict[int, DownloadPhase] = {}
        self.bytes: dict[int, int] = {}

    def take(self, update: DownloadUpdate) -> bool:
        """Note ``update``; False (nothing noted) if it is another batch's."""
        if update.batch_id != self.batch_id:
            return False
        self.phases[update.execution_id] = update.phase
        self.bytes[update.execution_id] = update.bytes_done
        return True

    def summary(
        self, listed: Sequence[DownloadPhase] = (DownloadPhase.WAITING, DownloadPhase.FAILED)
    ) -> str:
        """``2 of 3 instances downloaded, 1 waiting · 1.2 MB`` (the ``listed`` phases
        counted after the first part, those that occur)."""
        phases = list(self.phases.values())
        done = phases.count(DownloadPhase.DOWNLOADED)
        text = f"{done} of {self.total} instances downloaded"
        for phase in listed:
            if count := phases.count(phase):
                text += f", {count} {phase.value}"
        return f"{text} · {human_bytes(sum(self.bytes.values()))}"


def results_json(
    batch: Batch,
    results_dir: Path,
    outcomes: Sequence[ResultOutcome],
    merged: MergeResult | None,
    error: str | None,
) -> dict[str, Any]:
    by_id = {o.execution.id: o for o in outcomes}
    executions = []
    for execution in batch.executions:
        outcome = by_id.get(execution.id)
        executions.append(
            {
                "instance_id": execution.instance_id,
                "instance_uuid": str(execution.instance_uuid),
                "instance_name": execution.instance_name,
                "status": execution.status.value,
                "results": "none" if outcome is None else outcome.status.value,
                "files": [
                    {
                        "kind": f.kind.value,
                        "name": f.path.name,
                        "path": str(f.path),
                        "size": f.size,
                        "sha256": f.sha256,
                    }
                    for f in (outcome.files if outcome else [])
                ],
                "error": outcome.error if outcome else None,
            }
        )
    return {
        "batch_id": batch.id,
        "batch_status": batch.status.value,
        "results_dir": str(results_dir / batch.id),
        "executions": executions,
        "merged": None
        if merged is None
        else {"path": str(merged.path), "rows": merged.rows, "files": merged.files},
        "error": error,
    }


def results_table(outcomes: Sequence[ResultOutcome]) -> str:
    """One line per execution with results: instance, outcome, files, size, folder."""
    if not outcomes:
        return ""
    rows = [("INSTANCE", "RESULTS", "FILES", "SIZE", "WHERE")]
    for outcome in outcomes:
        ex = outcome.execution
        data = outcome.data_files
        rows.append(
            (
                f"{ex.instance_name} ({ex.instance_id})" if ex.instance_name else ex.instance_id,
                outcome.status.value if outcome.error is None else f"failed: {outcome.error}",
                str(len(data)) if data else "-",
                human_bytes(sum(f.size for f in outcome.files)) if outcome.files else "-",
                str(outcome.directory),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
        for row in rows
    )
