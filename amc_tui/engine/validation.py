"""Turning what the operator asked for into a valid :class:`~amc_tui.domain.Batch`.

DESIGN section 5: 1 to ``max_batch_size`` distinct instances (duplicates dropped
once), each named by amc-tui's UUID or by AMC's instance id (a UUID is recognised
with ``uuid.UUID()``, never by its length) and each known to the active profile; a
well-formed query and time window.  Every refusal is an
:class:`~amc_tui.errors.InputError` naming the field and the value, raised before
anything is stored or sent.  The command line and the TUI both build batches here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from amc_tui.domain import (
    Batch,
    Execution,
    Instance,
    QuerySpec,
    TimeWindow,
    TimeWindowType,
    parse_amc_time,
    parse_uuid,
)
from amc_tui.errors import InputError
from amc_tui.settings import EngineSettings

MAX_NAME_LENGTH = 200
MAX_SQL_BYTES = 200_000
MAX_REF_LENGTH = 200
MAX_BATCH_ID_LENGTH = 100
SHOWN_CHARACTERS = 40
MAX_SHOWN_PATH = 300
"""At most this much of a refused value is quoted back in a message."""


def holds_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character of Unicode category C: a control (NUL,
    newline, escape, DEL, C1), a format character (a bidi override), a surrogate, a
    private-use or an unassigned one.  None of them belongs in a name, an id or a
    parameter, and each can make a terminal or a log line say something else."""
    return any(unicodedata.category(char).startswith("C") for char in text)


def shown(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text`` quoted for a message (control characters escaped), cut to ``limit``."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def refuse_control_characters(value: str, label: str) -> None:
    """An InputError ``LABEL: control characters are not allowed`` if ``value`` holds any."""
    if holds_control_characters(value):
        raise InputError(f"{label}: control characters are not allowed")


def path_option(option: str, path: Path) -> str:
    """``OPTION PATH`` for a message about a file the operator named.

    The path is shown as typed, or quoted and cut when it is long or holds control
    characters (which would otherwise reach the terminal raw).  A NUL is refused here:
    no file can be named with one.
    """
    text = str(path)
    plain = len(text) <= MAX_SHOWN_PATH and not holds_control_characters(text)
    where = f"{option} {text if plain else shown(text)}"
    if "\x00" in text:
        raise InputError(f"{where}: a file name cannot hold a NUL character")
    return where


def check_batch_id(batch_id: str, *, field: str = "BATCH_ID") -> str:
    """A batch id typed by the operator, before it is looked up: bounded, printable."""
    if not batch_id.strip():
        raise InputError(f"{field}: the batch id is empty (see amc-tui history)")
    if len(batch_id) > MAX_BATCH_ID_LENGTH:
        raise InputError(
            f"{field} {shown(batch_id)}: {len(batch_id)} characters; a batch id has "
            "about 14 (see amc-tui history)"
        )
    refuse_control_characters(batch_id, f"{field} {shown(batch_id)}")
    return batch_id


@dataclass
class ResolvedInstances:
    """The instances a batch will run on, and the references dropped as duplicates."""

    instances: list[Instance]
    duplicates: list[str] = field(default_factory=list)


def split_instance_refs(values: Iterable[str], *, option: str = "--instances") -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``; an empty item is refused by name."""
    refs: list[str] = []
    for value in values:
        for part in value.split(","):
            ref = part.strip()
            if not ref:
                raise InputError(f"{option}: empty instance id in {value!r}")
            if len(ref) > MAX_REF_LENGTH:
                raise InputError(
                    f"{option}: instance id {shown(ref)} has {len(ref)} characters; "
                    f"at most {MAX_REF_LENGTH}"
                )
            refuse_control_characters(ref, f"{option}: instance id {shown(ref)}")
            refs.append(ref)
    return refs


def resolve_instances(
    refs: Sequence[str], known: Sequence[Instance], *, profile: str, max_batch_size: int
) -> ResolvedInstances:
    """The known instances ``refs`` name, in the order given, duplicates dropped.

    A ref that parses as a UUID is looked up among amc-tui's instance UUIDs, anything
    else among AMC instance ids.  Refused: no instance, an unknown one (all of them
    named), more than ``max_batch_size`` distinct instances.
    """
    if not refs:
        raise InputError("No instances given: name at least one instance")
    by_uuid = {instance.uuid: instance for instance in known}
    by_id = {instance.instance_id: instance for instance in known}
    chosen: dict[str, Instance] = {}
    duplicates: list[str] = []
    unknown: list[str] = []
    for ref in refs:
        as_uuid = parse_uuid(ref)
        instance = by_uuid.get(as_uuid) if as_uuid is not None else by_id.get(ref)
        if instance is None:
            unknown.append(ref)
        elif instance.instance_id in chosen:
            duplicates.append(ref)
        else:
            chosen[instance.instance_id] = instance
    if unknown:
        names = ", ".join(repr(ref) for ref in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise InputError(
            f"Unknown instance {names}{more} for profile {profile!r} "
            "(see `amc-tui instances`; `--refresh` asks AMC again)"
        )
    if len(chosen) > max_batch_size:
        raise InputError(
            f"{len(chosen)} instances given; a batch takes at most {max_batch_size} "
            "(engine.max_batch_size)"
        )
    return ResolvedInstances(list(chosen.values()), duplicates)


def check_name(name: str) -> str:
    """A batch name: at most 200 characters, no control characters; stripped."""
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"--name: {len(name)} characters; at most {MAX_NAME_LENGTH}")
    refuse_control_characters(name, f"--name {name!r}")
    return name


def build_time_window(
    start: str | None, end: str | None, window_type: str | None = None
) -> TimeWindow:
    """The time window from ``--start``/``--end`` (both or neither), or the default.

    Without either, the default window is the 7 whole days ending 14 days ago
    (AMC's data lag).  ``window_type`` names a relative AMC window instead.
    """
    if window_type is not None and window_type != TimeWindowType.EXPLICIT.value:
        try:
            chosen = TimeWindowType(window_type)
        except ValueError:
            allowed = ", ".join(t.value for t in TimeWindowType)
            raise InputError(f"--window {shown(window_type)}: expected one of {allowed}") from None
        if start is not None or end is not None:
            raise InputError(f"--window {chosen}: takes no --start or --end")
        return TimeWindow(type=chosen)
    if start is None and end is None:
        return TimeWindow.default()
    if start is None or end is None:
        missing = "--start" if start is None else "--end"
        raise InputError(f"{missing} is missing: give both --start and --end, or neither")
    parsed: dict[str, datetime] = {}
    for option, value in (("--start", start), ("--end", end)):
        if len(value) > len("YYYY-MM-DDTHH:MM:SS") + 10:  # not worth quoting whole
            raise InputError(f"{option} {shown(value)}: not in the form YYYY-MM-DDTHH:MM:SS")
        try:
            parsed[option] = parse_amc_time(value, field=option)
        except ValueError as error:
            raise InputError(str(error)) from None
    if parsed["--start"] >= parsed["--end"]:
        raise InputError(f"--start {start} is not before --end {end}")
    return TimeWindow(start=parsed["--start"], end=parsed["--end"])


def build_query(
    *,
    sql: str | None = None,
    workflow_id: str | None = None,
    time_window: TimeWindow | None = None,
    parameters: Mapping[str, str] | None = None,
    instance_parameters: Mapping[str, Mapping[str, str]] | None = None,
) -> QuerySpec:
    """A :class:`QuerySpec`, refusing bad values with messages that name the field."""
    if (sql is None) == (workflow_id is None):
        raise InputError("Give exactly one of --sql-file or --workflow-id")
    if sql is not None:
        if not sql.strip():
            raise InputError("The SQL is empty")
        if len(sql.encode()) > MAX_SQL_BYTES:
            raise InputError(f"The SQL is {len(sql.encode())} bytes; at most {MAX_SQL_BYTES}")
    if workflow_id is not None:
        if not 1 <= len(workflow_id.strip()) <= MAX_REF_LENGTH:
            raise InputError(
                f"--workflow-id {shown(workflow_id)}: {len(workflow_id.strip())} characters; "
                f"1 to {MAX_REF_LENGTH}"
            )
        refuse_control_characters(workflow_id, f"--workflow-id {shown(workflow_id)}")
    try:
        return QuerySpec(
            sql=sql,
            workflow_id=workflow_id.strip() if workflow_id is not None else None,
            time_window=time_window or TimeWindow.default(),
            parameters=dict(parameters or {}),
            instance_parameters={k: dict(v) for k, v in (instance_parameters or {}).items()},
        )
    except ValidationError as error:
        raise InputError(_first_problem(error)) from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "query"
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def build_batch(
    *,
    refs: Sequence[str],
    known: Sequence[Instance],
    query: QuerySpec,
    engine: EngineSettings,
    profile: str,
    name: str = "",
    max_concurrency: int | None = None,
) -> tuple[Batch, ResolvedInstances]:
    """A new PENDING batch of QUEUED executions, or an InputError naming the problem.

    Per-instance parameter overrides must name instances of the batch.
    """
    resolved = resolve_instances(refs, known, profile=profile, max_batch_size=engine.max_batch_size)
    ids = {instance.instance_id for instance in resolved.instances}
    strays = sorted(set(query.instance_parameters) - ids)
    if strays:
        raise InputError(
            f"Parameter overrides name instance {strays[0]!r}, which is not in this batch"
        )
    concurrency = max_concurrency or engine.max_concurrent_executions
    if not 1 <= concurrency <= 1000:
        raise InputError(f"--max-concurrency {concurrency}: expected 1 to 1000")
    batch = Batch(
        name=check_name(name),
        profile=profile,
        query=query,
        max_concurrency=concurrency,
    )
    batch.executions = [
        Execution(
            batch_id=batch.id,
            instance_uuid=instance.uuid,
            instance_id=instance.instance_id,
            instance_name=instance.name,
        )
        for instance in resolved.instances
    ]
    return batch, resolved
