"""The AMC API's answers as typed models, parsed tolerantly.

Unknown fields are ignored; the shapes that AMC's sources disagree on are both
accepted (see ``shared/AMC_API.md``).  A status value AMC does not document is
treated as still running and logged.  Anything unusable raises
:class:`~amc_tui.errors.ProtocolError` at the client.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from amc_tui.domain import ExecutionStatus, InstanceType

log = logging.getLogger(__name__)

_AMC_STATUSES = {
    "PENDING": ExecutionStatus.PENDING,
    "RUNNING": ExecutionStatus.RUNNING,
    "SUCCEEDED": ExecutionStatus.SUCCEEDED,
    "FAILED": ExecutionStatus.FAILED,
    "CANCELLED": ExecutionStatus.CANCELLED,
}


def _lenient_time(value: object) -> object:
    """An unparsable timestamp becomes None instead of failing the whole answer."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


class AmcInstance(BaseModel):
    """One entry of ``GET /amc/instances``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    instance_id: str = Field(alias="instanceId", min_length=1)
    name: str = Field(default="", alias="instanceName")
    instance_type: InstanceType = Field(default=InstanceType.STANDARD, alias="instanceType")
    region: str = ""
    aws_region: str = Field(default="", alias="awsRegion")
    customer_canonical_name: str = Field(default="", alias="customerCanonicalName")
    creation_status: str = Field(default="", alias="creationStatus")

    @field_validator("instance_type", mode="before")
    @classmethod
    def _type(cls, value: object) -> object:
        if isinstance(value, str) and value.upper() in InstanceType.__members__:
            return value.upper()
        return InstanceType.STANDARD

    @field_validator("name", "region", "aws_region", "customer_canonical_name", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return "" if value is None else value


class AmcExecution(BaseModel):
    """An execution object, from the status, list or create calls."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    execution_id: str = Field(alias="workflowExecutionId", min_length=1)
    raw_status: str = Field(default="PENDING", alias="status")
    workflow_id: str | None = Field(default=None, alias="workflowId")
    create_time: datetime | None = Field(default=None, alias="createTime")
    last_updated_time: datetime | None = Field(default=None, alias="lastUpdatedTime")
    start_time: datetime | None = Field(default=None, alias="startTime")
    end_time: datetime | None = Field(default=None, alias="endTime")
    failure_reason: str | None = Field(default=None, alias="failureReason")
    validation_errors: Any = Field(default=None, alias="validationErrors")
    time_window_start: str | None = Field(default=None, alias="timeWindowStart")
    time_window_end: str | None = Field(default=None, alias="timeWindowEnd")
    output_s3_uri: str | None = Field(default=None, alias="outputS3URI")
    time_window_type: str | None = Field(default=None, alias="timeWindowType")
    workflow: Any = None
    parameter_values: Any = Field(default=None, alias="parameterValues")

    _time = field_validator(
        "create_time", "last_updated_time", "start_time", "end_time", mode="before"
    )(_lenient_time)

    @field_validator(
        "failure_reason", "time_window_start", "time_window_end", "time_window_type", mode="before"
    )
    @classmethod
    def _str_or_none(cls, value: object) -> object:
        return None if value is None else str(value)

    @property
    def sql_query(self) -> str | None:
        """The ad hoc SQL the execution runs, when AMC says."""
        if isinstance(self.workflow, dict):
            sql = self.workflow.get("sqlQuery")
            return sql if isinstance(sql, str) else None
        return None

    def matches(self, body: dict[str, Any]) -> bool:
        """Whether this execution could have been made from the create ``body``.

        Compares what AMC echoes back (workflow or SQL, time window, parameters);
        a field AMC leaves out is not held against it.
        """
        if "workflowId" in body and self.workflow_id not in (None, body["workflowId"]):
            return False
        sql = body.get("workflow", {}).get("sqlQuery")
        if sql is not None and self.sql_query not in (None, sql):
            return False
        echoed = {
            "timeWindowType": self.time_window_type,
            "timeWindowStart": self.time_window_start,
            "timeWindowEnd": self.time_window_end,
        }
        for key, value in echoed.items():
            if value is not None and key in body and body[key] != value:
                return False
        params = self.parameter_values
        return not (isinstance(params, dict) and params != body.get("parameterValues", {}))

    @property
    def status(self) -> ExecutionStatus:
        """AMC's status as ours; an undocumented one counts as RUNNING (and is logged)."""
        known = _AMC_STATUSES.get(self.raw_status.upper())
        if known is None:
            log.warning(
                "execution %s has undocumented status %r; treating it as RUNNING",
                self.execution_id,
                self.raw_status,
            )
            return ExecutionStatus.RUNNING
        return known


class DownloadUrls(BaseModel):
    """The answer of ``GET .../downloadUrls``: pre-signed, short-lived URLs."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    download_urls: list[str] = Field(default_factory=list, alias="downloadUrls")
    metadata_download_urls: list[str] = Field(default_factory=list, alias="metadataDownloadUrls")
    next_token: str | None = Field(default=None, alias="nextToken")
