"""The ``--json`` contract of DESIGN section 7: the keys outside scripts rely on."""

from __future__ import annotations

BATCH_KEYS = {"batch_id", "name", "status", "created_at", "finished_at", "counts", "executions"}
EXECUTION_KEYS = {
    "instance_id",
    "instance_uuid",
    "instance_name",
    "status",
    "amc_execution_id",
    "attempts",
    "error",
}
COUNT_KEYS = {"total", "succeeded", "failed", "cancelled", "unknown"}
