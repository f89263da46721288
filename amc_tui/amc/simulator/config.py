"""The simulator's knobs: :class:`SimulatorConfig`, the demo credentials and constants.

Everything that makes the simulator behave one way or another is a field here, so a
test, the demo mode and ``amc-tui simulator`` all describe a simulator the same way.
Time knobs are in *simulated* seconds (scaled by ``time_scale``) unless they say "real".
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEMO_CLIENT_ID = "amzn1.application-oa2-client.demo"
DEMO_CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - a published demo value
DEMO_REFRESH_TOKEN = "Atzr|demo-refresh-token"  # noqa: S105 - a published demo value
DEMO_ADVERTISER_ID = "ENTITYDEMO000001"
DEMO_MARKETPLACE_ID = "ATVPDKIKX0DER"
OTHER_ADVERTISER_ID = "ENTITYOTHER00002"
"""An account the demo credentials may not use; its instances answer 403."""

SIMULATOR_BASE_URL = "http://amc-simulator"
"""The base URL of the in-process simulator (any host works through ASGITransport)."""

TOKEN_PATH = "/auth/o2/token"  # noqa: S105 - a URL path, not a secret

ScriptOutcome = Literal[
    "ok",
    "429",
    "500",
    "502",
    "503",
    "504",
    "lost",
    "400",
    "sql_error",
    "403",
    "fail",
    "cancel",
    "reset",
    "reset_after_create",
]
"""What one scripted create call on an instance does (see ``instance_scripts``).

"reset" drops the connection before the execution is made, "reset_after_create" after
(see ``OperationOutcome``; both need a real port)."""

OperationKey = Literal[
    "POST token",
    "GET accounts",
    "GET instances",
    "POST create",
    "GET status",
    "GET list",
    "PUT cancel",
    "GET downloadUrls",
]
"""An operation, named as in ``SimulatorStats.requests``."""

OperationOutcome = Literal[
    "ok",
    "429",
    "500",
    "502",
    "503",
    "504",
    "reset",
    "reset_after",
    "slow",
    "malformed",
    "incomplete",
]
"""What one scripted call of an operation does (see ``operation_scripts``).

- "ok": answered as usual;
- "429", "5xx": that error, and the call is not carried out;
- "reset": the connection is dropped before the call is carried out;
- "reset_after": the call is carried out (a create makes its execution), then the
  connection is dropped mid-answer.  A drop sends the headers and half the body and
  stops: under uvicorn the connection is closed, the client sees no whole answer.  In
  process (``httpx.ASGITransport``) there is no connection: the client gets the cut
  body as it is;
- "slow": carried out, then the answer is held ``slow_answer_seconds`` (real);
- "malformed": carried out, then answered 2xx with a body that is not JSON (and no
  ``Location`` header);
- "incomplete": carried out, then answered 2xx with a JSON object that lacks what the
  operation must return (no ``workflowExecutionId``, no ``access_token``, no lists).
"""


class SimInstance(BaseModel):
    """One AMC instance the simulator knows, with the saved workflows it holds.

    ``advertiser_id`` (the owning AMC account) and ``workflows`` (workflowId -> SQL) are
    the simulator's own bookkeeping and are not sent by ``GET /amc/instances``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_id: str = Field(min_length=1)
    instance_name: str
    instance_type: Literal["STANDARD", "SANDBOX"] = "STANDARD"
    customer_canonical_name: str = ""
    creation_datetime: str = "2023-01-01T00:00:00Z"
    api_endpoint: str = ""
    region: Literal["NA", "EU", "FE"] = "NA"
    marketplace_id: str = DEMO_MARKETPLACE_ID
    advertiser_id: str = DEMO_ADVERTISER_ID
    workflows: dict[str, str] = Field(default_factory=dict)

    def api_json(self) -> dict[str, object]:
        """The instance as ``GET /amc/instances`` lists it."""
        return {
            "instanceId": self.instance_id,
            "instanceName": self.instance_name,
            "instanceType": self.instance_type,
            "customerCanonicalName": self.customer_canonical_name,
            "creationStatus": "COMPLETED",
            "creationDatetime": self.creation_datetime,
            "apiEndpoint": self.api_endpoint,
            "entities": [
                {
                    "entityId": self.advertiser_id,
                    "marketplaceId": self.marketplace_id,
                    "advertiserName": self.customer_canonical_name,
                }
            ],
            "region": self.region,
        }


def _demo_instances() -> list[SimInstance]:
    from amc_tui.amc.simulator.demo_data import demo_instances

    return demo_instances()


class SimulatorConfig(BaseModel):
    """How the simulator behaves.  The defaults make a lively but mostly happy demo.

    Probabilities are drawn from RNGs seeded with ``seed`` (and the request's key), so
    the same seed and the same calls give the same outcomes.
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    time_scale: float = Field(default=60.0, gt=0)
    """Simulated seconds per real second (of ``clock``)."""
    duration_min: float = Field(default=120.0, ge=0)
    """Shortest total run of an execution, simulated seconds."""
    duration_max: float = Field(default=600.0, ge=0)
    pending_fraction: float = Field(default=0.2, ge=0, le=1)
    """Share of an execution's duration spent PENDING before it is RUNNING."""
    publish_delay: float = Field(default=0.0, ge=0)
    """Simulated seconds after SUCCEEDED before downloadUrls stops answering 404."""

    latency_min: float = Field(default=0.0, ge=0)
    """Real seconds added to every request (asyncio.sleep), drawn in [min, max]."""
    latency_max: float = Field(default=0.0, ge=0)

    throttle_rate: float = Field(default=0.03, ge=0, le=1)
    """Probability that an AMC call (not the token call) answers 429."""
    retry_after: float = Field(default=1.0, ge=0)
    """Seconds sent in Retry-After with a 429."""
    retry_after_as_date: bool = False
    """Send Retry-After as an HTTP date instead of seconds."""
    server_error_rate: float = Field(default=0.01, ge=0, le=1)
    """Probability that an AMC call answers one of ``server_error_statuses``."""
    server_error_statuses: list[int] = Field(default_factory=lambda: [500, 502, 503, 504])
    lost_answer_rate: float = Field(default=0.01, ge=0, le=1)
    """Probability that a create makes the execution but answers 504 all the same."""
    sql_error_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that an ad hoc create answers 400 with an SQL compile error."""
    failure_rate: float = Field(default=0.05, ge=0, le=1)
    """Probability that an execution ends FAILED."""
    instance_scripts: dict[str, list[ScriptOutcome]] = Field(default_factory=dict)
    """Per instance id, the outcomes of its next create calls, consumed in order."""

    operation_scripts: dict[OperationKey, list[OperationOutcome]] = Field(default_factory=dict)
    """Per operation (any instance), the outcomes of its next calls, consumed in order.

    Checked after the credentials and account headers (a 401 consumes nothing) and
    before ``instance_scripts``; a burst is the first K calls failing, then "ok"."""
    operation_latency: dict[OperationKey, float] = Field(default_factory=dict)
    """Per operation, real seconds every answer is held after the call was carried out
    (a slow answer, not a slow effect: a create has made its execution by then)."""
    slow_answer_seconds: float = Field(default=2.0, ge=0)
    """Real seconds a "slow" scripted answer is held (see ``operation_scripts``)."""
    extra_answer_fields: bool = False
    """Add fields AMC does not document to every JSON answer: at the top level, to each
    object in a top-level list, and to a nested ``workflowExecution`` (a newer AMC)."""
    announced_token_ttl: float | None = Field(default=None, ge=0)
    """Seconds the token endpoint announces in ``expires_in`` (None: ``token_ttl``).
    More than ``token_ttl`` makes tokens expire before the client expects (AMC answers
    401 and the client must refresh on it)."""

    create_answer_shape: Literal["top", "nested"] = "top"
    """"top": the execution at the top level (200); "nested": under workflowExecution (202)."""
    instances_page_size: int = Field(default=10, ge=1)
    executions_page_limit: int = Field(default=100, ge=1)
    """Largest ``limit`` the list call accepts (and its default)."""
    token_ttl: float = Field(default=3600.0, gt=0)
    """Real seconds (by ``clock``) an access token stays valid."""
    download_url_ttl: float = Field(default=600.0, gt=0)
    """Real seconds (by ``clock``) a pre-signed download URL stays valid."""
    result_rows: int = Field(default=25, ge=0)
    """Rows in each result file.  Files of any size cost the same to serve: the first
    5,000 rows are made once and repeated (see :mod:`.result_objects`)."""
    result_files: int = Field(default=1, ge=1)
    download_urls_page_size: int = Field(default=1000, ge=1)
    """Most ``downloadUrls`` entries in one downloadUrls answer; more files come on
    further pages (``nextToken``).  ``metadataDownloadUrls`` come on the first page."""
    result_cuts: int = Field(default=0, ge=0)
    """The first this-many GETs of each result file (per execution and file; a 416 or
    a 403 does not count) are cut off: the full ``Content-Length`` is announced and
    about half the bytes asked are sent.  Over a real port (uvicorn) the connection is
    then closed mid-body (httpx raises ``RemoteProtocolError``, and uvicorn logs the
    short answer as an error); in process (``httpx.ASGITransport``) the answer simply
    ends with fewer bytes than its ``Content-Length``."""
    result_cut_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that a GET of a result file past the first ``result_cuts`` is cut
    off the same way (seeded per execution and file)."""
    cancel_delay: float = Field(default=0.0, ge=0)
    """Simulated seconds between an accepted cancel and the execution showing CANCELLED."""

    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    refresh_token: str = DEMO_REFRESH_TOKEN
    advertiser_id: str = DEMO_ADVERTISER_ID
    marketplace_id: str = DEMO_MARKETPLACE_ID
    account_name: str = "Northwind Media Group (demo)"
    instances: list[SimInstance] = Field(default_factory=_demo_instances)

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.duration_min > self.duration_max:
            raise ValueError("duration_min must not exceed duration_max")
        if self.latency_min > self.latency_max:
            raise ValueError("latency_min must not exceed latency_max")
        slow = {key: value for key, value in self.operation_latency.items() if value < 0}
        if slow:
            raise ValueError(f"operation_latency must not be negative, got {slow}")
        bad = [s for s in self.server_error_statuses if not 500 <= s <= 599]
        if bad or not self.server_error_statuses:
            raise ValueError(f"server_error_statuses must be 5xx codes, got {bad or 'none'}")
        ids = [i.instance_id for i in self.instances]
        if len(ids) != len(set(ids)):
            raise ValueError("instance ids must be unique")
        return self

    @classmethod
    def reliable(cls, **overrides: object) -> SimulatorConfig:
        """A config with every fault rate at zero (tests that want no surprises)."""
        values: dict[str, object] = {
            "throttle_rate": 0.0,
            "server_error_rate": 0.0,
            "lost_answer_rate": 0.0,
            "sql_error_rate": 0.0,
            "failure_rate": 0.0,
        }
        values.update(overrides)
        return cls.model_validate(values)
