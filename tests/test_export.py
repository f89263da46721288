"""Exporting a batch: CSV or JSON by suffix, written atomically, every refusal named."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from contract import BATCH_KEYS, EXECUTION_KEYS
from fs_support import unwritable
from store_support import make_batch

from amc_tui.domain import Attempt, Batch, BatchStatus, ExecutionStatus
from amc_tui.errors import InputError
from amc_tui.export import (
    CSV_COLUMNS,
    check_export_path,
    export_batch,
    export_path_problem,
    home_relative,
    safe_cell,
)


def finished_batch() -> Batch:
    """Three executions: one succeeded, one failed with a message, one failed without."""
    batch = make_batch(["alpha", "beta", "gamma"], name="weekly", status=BatchStatus.PARTIAL)
    ok, failed, silent = batch.executions
    for number, execution in enumerate(batch.executions, start=1):
        execution.id = number
        execution.attempts = 1
        execution.created_at = datetime(2026, 11, 28, 9, 0, 0, 123456, tzinfo=UTC)
    ok.status = ExecutionStatus.SUCCEEDED
    ok.amc_execution_id = "amc-exec-1"
    ok.error_message = "The answer from AMC was lost"  # a trouble on the way: not shown
    ok.submitted_at = datetime(2026, 11, 28, 9, 0, 5, tzinfo=UTC)
    ok.finished_at = datetime(2026, 11, 28, 9, 3, 0, tzinfo=UTC)
    failed.status = ExecutionStatus.FAILED
    failed.error_message = "Access denied for this instance"
    silent.status = ExecutionStatus.FAILED
    return batch


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def listing(folder: Path) -> list[str]:
    """Every entry, hidden temporary files included."""
    return sorted(os.listdir(folder))


def test_json_is_the_contract_document(tmp_path: Path) -> None:
    batch = finished_batch()
    result = export_batch(batch, tmp_path / "out.json")
    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert result.rows == 3 and result.path == tmp_path / "out.json"
    assert set(document) == BATCH_KEYS
    assert document["batch_id"] == batch.id and document["status"] == "partial"
    assert [set(e) for e in document["executions"]] == [EXECUTION_KEYS] * 3
    assert [e["error"] for e in document["executions"]] == [
        None,
        "Access denied for this instance",
        None,
    ]


def test_attempts_give_the_error_of_an_execution_without_one(tmp_path: Path) -> None:
    batch = finished_batch()
    started = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    tries = [
        Attempt(number=2, started_at=started, error_message="AMC had a server error"),
        Attempt(number=1, started_at=started, error_message="AMC is throttling requests"),
    ]
    export_batch(batch, tmp_path / "out.json", {3: tries, 1: tries})
    export_batch(batch, tmp_path / "out.csv", {3: tries, 1: tries})
    errors = [e["error"] for e in json.loads((tmp_path / "out.json").read_text())["executions"]]
    # The last try's message; never for the one that succeeded.
    assert errors == [None, "Access denied for this instance", "AMC had a server error"]
    assert [row[9] for row in csv_rows(tmp_path / "out.csv")[1:]] == errors_as_csv(errors)


def errors_as_csv(errors: list[str | None]) -> list[str]:
    return [e or "" for e in errors]


def test_csv_has_the_header_and_a_row_per_execution(tmp_path: Path) -> None:
    batch = finished_batch()
    export_batch(batch, tmp_path / "out.csv")
    raw = (tmp_path / "out.csv").read_bytes()
    assert raw.count(b"\r\n") == 4  # the csv module's line ends
    rows = csv_rows(tmp_path / "out.csv")
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 4
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["batch_id"] == batch.id and first["batch_status"] == "partial"
    assert first["instance_name"] == "alpha" and first["status"] == "SUCCEEDED"
    assert first["amc_execution_id"] == "amc-exec-1" and first["attempts"] == "1"
    assert first["error"] == ""  # it succeeded in the end
    assert first["created_at"] == "2026-11-28T09:00:00Z"
    assert first["finished_at"] == "2026-11-28T09:03:00Z"
    assert first["instance_uuid"] == str(batch.executions[0].instance_uuid)
    assert rows[2][9] == "Access denied for this instance"


def test_csv_quotes_and_disarms_formulas(tmp_path: Path) -> None:
    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", 'a, "quoted"\nline', "Zürich ✓"]
    batch = make_batch(names, name="=cmd|' /C calc'!A0")
    export_batch(batch, tmp_path / "out.csv")
    rows = csv_rows(tmp_path / "out.csv")
    shown = sorted(row[5] for row in rows[1:])
    assert shown == sorted(
        ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", 'a, "quoted"\nline', "Zürich ✓"]
    )
    assert {row[1] for row in rows[1:]} == {"'=cmd|' /C calc'!A0"}


def test_safe_cell() -> None:
    assert safe_cell(None) == ""
    assert safe_cell(3) == "3"
    assert safe_cell("\t=1") == "'\t=1"
    assert safe_cell("a=b") == "a=b"


def test_the_suffix_chooses_the_format_case_blind(tmp_path: Path) -> None:
    export_batch(make_batch(["a"]), tmp_path / "OUT.JSON")
    assert json.loads((tmp_path / "OUT.JSON").read_text())["counts"]["total"] == 1


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("out.txt", r"out\.txt: the name must end in \.csv or \.json"),
        ("out", r"must end in \.csv or \.json"),
        ("missing/out.csv", r"the folder .*missing does not exist"),
        ("", "No file name given"),
        ("   ", "No file name given"),
        ("x" * 300 + ".csv", "cannot be written: File name too long"),  # refused at once
        ("y" * 246 + ".csv", "cannot be written: File name too long"),  # its temp file's name
    ],
    ids=["txt", "no-suffix", "no-folder", "empty", "blank", "name-too-long", "temp-too-long"],
)
def test_refusals_name_the_problem_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, problem: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    with pytest.raises(InputError, match=problem):
        export_batch(make_batch(["a"]), name)
    assert listing(out) == []


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(InputError, match=r"d\.csv is a directory"):
        export_batch(make_batch(["a"]), tmp_path / "d.csv")
    assert listing(tmp_path / "d.csv") == []


def test_a_file_as_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="does not exist"):
        export_batch(make_batch(["a"]), tmp_path / "file" / "out.csv")


def test_something_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(InputError, match="not a regular file"):
        export_batch(make_batch(["a"]), tmp_path / "pipe.csv", overwrite=True)


def test_an_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "out.json"
    target.write_text("keep me")
    with pytest.raises(InputError, match=r"out\.json already exists"):
        export_batch(make_batch(["a"]), target)
    assert target.read_text() == "keep me"
    export_batch(make_batch(["a", "b"]), target, overwrite=True)
    assert json.loads(target.read_text())["counts"]["total"] == 2
    assert listing(tmp_path / "out") == ["out.json"]  # no temporary file left
    assert target.stat().st_mode & 0o777 == 0o644


def test_overwriting_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    (tmp_path / "link.csv").symlink_to(real)
    export_batch(make_batch(["a"]), tmp_path / "link.csv", overwrite=True)
    assert (tmp_path / "link.csv").is_symlink()
    assert len(csv_rows(real)) == 2


def test_tilde_is_the_home_folder(tmp_path: Path) -> None:
    result = export_batch(make_batch(["a"]), "~/batch.csv")  # the conftest's HOME
    assert result.path == tmp_path / "home" / "batch.csv"
    assert result.path.exists()
    assert check_export_path("~/other.json") == tmp_path / "home" / "other.json"


def test_a_folder_without_write_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    with unwritable(locked), pytest.raises(InputError, match="cannot be written in"):
        export_batch(make_batch(["a"]), locked / "out.csv")


def test_the_prompt_check_allows_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "there.csv").write_text("x")
    assert export_path_problem(str(tmp_path / "there.csv")) is None
    problem = export_path_problem(str(tmp_path / "there.xlsx"))
    assert problem is not None and "must end in .csv or .json" in problem


def test_home_relative(tmp_path: Path) -> None:
    assert home_relative(tmp_path / "home" / "reports") == "~/reports"
    assert home_relative(tmp_path / "elsewhere") == str(tmp_path / "elsewhere")
