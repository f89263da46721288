"""The instances of each profile: amc-tui's stable UUIDs for AMC's instance ids.

AMC names an instance ``amcxxxxxx``; amc-tui gives each ``(profile, instance_id)`` a
UUID of its own, kept for as long as the history file lives.  This module owns the
input type :class:`InstanceRecord`, its validation, and the SQL that records what AMC
lists now (new instances get a uuid4; known ones keep theirs; those AMC no longer
lists are marked inactive, never deleted, since executions refer to them).  Its
functions run on the store's worker thread.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from amc_tui.domain import Instance, InstanceType, utc_now
from amc_tui.errors import InputError
from amc_tui.store.codec import to_db_time
from amc_tui.store.database import write_transaction


@dataclass(frozen=True)
class InstanceRecord:
    """One instance as AMC lists it, before the store gives it a UUID.

    ``upsert_instances`` also accepts a mapping with these keys (snake_case, not AMC's
    camelCase) or a :class:`~amc_tui.domain.Instance`, whose ``uuid`` and ``profile``
    are ignored: the store owns the UUIDs, and the profile is the call's.
    """

    instance_id: str
    name: str = ""
    instance_type: InstanceType | str = InstanceType.STANDARD
    region: str = ""
    advertiser_id: str = ""


InstanceInput = InstanceRecord | Instance | Mapping[str, Any]
"""What ``upsert_instances`` accepts for one instance."""

_RECORD_FIELDS = ("instance_id", "name", "instance_type", "region", "advertiser_id")


def validated_instance(item: InstanceInput, profile: str) -> Instance:
    """``item`` checked as a domain :class:`Instance` (with a placeholder UUID).

    Raises :class:`~amc_tui.errors.InputError` naming the field and the value.
    """
    if isinstance(item, Mapping):
        values = {key: item[key] for key in _RECORD_FIELDS if key in item}
    else:
        values = {key: getattr(item, key) for key in _RECORD_FIELDS}
    try:
        return Instance(uuid=uuid.UUID(int=0), profile=profile, **values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "instance"
        raise InputError(
            f"instance {values.get('instance_id')!r}: {field} {error.get('input')!r} is "
            f"invalid ({error['msg']})",
            detail=str(exc),
        ) from None


def row_to_instance(row: sqlite3.Row) -> Instance:
    return Instance(
        uuid=uuid.UUID(row["uuid"]),
        instance_id=row["instance_id"],
        name=row["name"],
        instance_type=InstanceType(row["instance_type"]),
        region=row["region"],
        profile=row["profile"],
        advertiser_id=row["advertiser_id"],
    )


# --- instances -------------------------------------------------------------------------

_UPSERT_INSTANCE = """
INSERT INTO instances
    (uuid, profile, instance_id, name, instance_type, region, advertiser_id, active, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
ON CONFLICT (profile, instance_id) DO UPDATE SET
    name = excluded.name,
    instance_type = excluded.instance_type,
    region = excluded.region,
    advertiser_id = excluded.advertiser_id,
    active = 1,
    updated_at = excluded.updated_at
WHERE name IS NOT excluded.name
   OR instance_type IS NOT excluded.instance_type
   OR region IS NOT excluded.region
   OR advertiser_id IS NOT excluded.advertiser_id
   OR active = 0
"""

_LIST_ACTIVE = (
    "SELECT * FROM instances WHERE profile = ? AND active = 1 "
    "ORDER BY name COLLATE NOCASE, name, instance_id"
)
_LIST_ALL = (
    "SELECT * FROM instances WHERE profile = ? ORDER BY name COLLATE NOCASE, name, instance_id"
)


def upsert_instances(
    conn: sqlite3.Connection, profile: str, instances: Sequence[Instance]
) -> list[Instance]:
    """Record ``profile``'s instances as AMC lists them now; see the store's method."""
    now = to_db_time(utc_now())
    latest = {item.instance_id: item for item in instances}  # the last of duplicates wins
    with write_transaction(conn):
        conn.executemany(
            _UPSERT_INSTANCE,
            [
                (
                    str(uuid.uuid4()),
                    profile,
                    item.instance_id,
                    item.name,
                    item.instance_type.value,
                    item.region,
                    item.advertiser_id,
                    now,
                )
                for item in latest.values()
            ],
        )
        active = conn.execute(
            "SELECT uuid, instance_id FROM instances WHERE profile = ? AND active = 1",
            (profile,),
        ).fetchall()
        gone = [(now, row["uuid"]) for row in active if row["instance_id"] not in latest]
        conn.executemany("UPDATE instances SET active = 0, updated_at = ? WHERE uuid = ?", gone)
        return [row_to_instance(r) for r in conn.execute(_LIST_ACTIVE, (profile,))]


def list_instances(
    conn: sqlite3.Connection, profile: str, include_inactive: bool
) -> list[Instance]:
    sql = _LIST_ALL if include_inactive else _LIST_ACTIVE
    return [row_to_instance(r) for r in conn.execute(sql, (profile,))]
