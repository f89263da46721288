"""Validation of a batch before anything is stored or sent (DESIGN section 5)."""

from __future__ import annotations

import uuid

import pytest

from amc_tui.domain import Instance, TimeWindowType
from amc_tui.engine.validation import (
    build_batch,
    build_query,
    build_time_window,
    check_name,
    resolve_instances,
    split_instance_refs,
)
from amc_tui.errors import InputError
from amc_tui.settings import EngineSettings

KNOWN = [
    Instance(uuid=uuid.uuid4(), instance_id=f"amc{n:09d}", name=f"Brand {n}", profile="p")
    for n in range(5)
]


def test_uuid_and_amc_id_both_name_an_instance_and_duplicates_drop() -> None:
    first, second = KNOWN[0], KNOWN[1]
    refs = [str(first.uuid), second.instance_id, first.instance_id, str(second.uuid).upper()]
    resolved = resolve_instances(refs, KNOWN, profile="p", max_batch_size=10)
    assert resolved.instances == [first, second]
    assert resolved.duplicates == [first.instance_id, str(second.uuid).upper()]


def test_a_36_character_amc_id_is_not_taken_for_a_uuid() -> None:
    odd = Instance(uuid=uuid.uuid4(), instance_id="x" * 36, name="odd")
    resolved = resolve_instances(["x" * 36], [*KNOWN, odd], profile="p", max_batch_size=10)
    assert resolved.instances == [odd]


def test_unknown_instances_are_all_named() -> None:
    with pytest.raises(InputError) as caught:
        resolve_instances(
            ["amc000000001", "amcnope", str(uuid.UUID(int=7))],
            KNOWN,
            profile="p",
            max_batch_size=10,
        )
    message = caught.value.user_message
    assert "'amcnope'" in message and str(uuid.UUID(int=7)) in message
    assert "'p'" in message


def test_size_limits() -> None:
    with pytest.raises(InputError, match="No instances"):
        resolve_instances([], KNOWN, profile="p", max_batch_size=10)
    refs = [i.instance_id for i in KNOWN]
    with pytest.raises(InputError, match="5 instances given; a batch takes at most 4"):
        resolve_instances(refs, KNOWN, profile="p", max_batch_size=4)
    # Duplicates do not count against the limit.
    assert len(resolve_instances(refs[:4] * 3, KNOWN, profile="p", max_batch_size=4).instances) == 4


def test_split_refs() -> None:
    assert split_instance_refs(["a, b", "c"]) == ["a", "b", "c"]
    with pytest.raises(InputError, match="empty instance id in 'a,,b'"):
        split_instance_refs(["a,,b"])


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-05-01T00:00:00", None, "--end is missing"),
        (None, "2024-05-01T00:00:00", "--start is missing"),
        ("2024-05-01", "2024-05-08T00:00:00", "--start '2024-05-01' is not in the form"),
        ("2024-05-01T00:00:00", "2024-05-08T00:00:00Z", "--end '2024-05-08T00:00:00Z'"),
        ("2024-05-08T00:00:00", "2024-05-01T00:00:00", "is not before --end"),
        ("2024-05-01T00:00:00", "2024-05-01T00:00:00", "is not before --end"),
    ],
)
def test_bad_time_windows_are_named(start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        build_time_window(start, end)


def test_time_windows() -> None:
    window = build_time_window("2024-05-01T00:00:00", "2024-05-08T00:00:00")
    assert window.amc_fields()["timeWindowEnd"] == "2024-05-08T00:00:00"
    assert build_time_window(None, None).end is not None
    relative = build_time_window(None, None, "MOST_RECENT_WEEK")
    assert relative.type is TimeWindowType.MOST_RECENT_WEEK
    with pytest.raises(InputError, match="--window 'SOMETIME'"):
        build_time_window(None, None, "SOMETIME")


def test_query_problems_are_named() -> None:
    with pytest.raises(InputError, match="exactly one"):
        build_query(sql="SELECT 1", workflow_id="wf")
    with pytest.raises(InputError, match="exactly one"):
        build_query()
    with pytest.raises(InputError, match="The SQL is empty"):
        build_query(sql="  \n ")
    with pytest.raises(InputError, match="--workflow-id"):
        build_query(workflow_id=" ")
    with pytest.raises(InputError, match="parameters"):
        build_query(sql="SELECT 1", parameters={"": "x"})
    assert build_query(workflow_id=" wf-1 ").workflow_id == "wf-1"


def test_names() -> None:
    assert check_name("  weekly  ") == "weekly"
    with pytest.raises(InputError, match="control characters"):
        check_name("a\x1b[31mred")
    with pytest.raises(InputError, match="at most 200"):
        check_name("x" * 201)


def test_build_batch() -> None:
    engine = EngineSettings(max_concurrent_executions=4)
    query = build_query(sql="SELECT 1", instance_parameters={KNOWN[1].instance_id: {"a": "b"}})
    batch, _ = build_batch(
        refs=[KNOWN[1].instance_id, KNOWN[0].instance_id],
        known=KNOWN,
        query=query,
        engine=engine,
        profile="p",
        name="n",
    )
    assert batch.max_concurrency == 4 and batch.profile == "p" and batch.name == "n"
    assert [e.instance_id for e in batch.executions] == [KNOWN[1].instance_id, KNOWN[0].instance_id]
    assert all(e.batch_id == batch.id for e in batch.executions)
    stray = build_query(sql="SELECT 1", instance_parameters={"amcother": {"a": "b"}})
    with pytest.raises(InputError, match="'amcother', which is not in this batch"):
        build_batch(
            refs=[KNOWN[0].instance_id], known=KNOWN, query=stray, engine=engine, profile="p"
        )
