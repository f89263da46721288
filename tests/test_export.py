"""Exporting a batch: CSV or JSON by suffix, atomic, refusals named."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from store_support import make_batch

from amc_tui.errors import InputError
from amc_tui.export import CSV_COLUMNS, export_batch


def test_json_is_the_contract_object(tmp_path: Path) -> None:
    batch = make_batch(["a", "b"], name="x")
    result = export_batch(batch, str(tmp_path / "out.json"))
    doc = json.loads((tmp_path / "out.json").read_text())
    assert result.rows == 2
    assert doc["batch_id"] == batch.id and len(doc["executions"]) == 2
    assert doc["counts"]["total"] == 2


def test_csv_has_a_header_a_row_each_and_no_formulas(tmp_path: Path) -> None:
    batch = make_batch(["=HYPERLINK(evil)", "plain, with comma"], name="@sum")
    export_batch(batch, str(tmp_path / "out.csv"))
    rows = list(csv.reader((tmp_path / "out.csv").open(newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3
    names = {row[5] for row in rows[1:]}
    assert names == {"'=HYPERLINK(evil)", "plain, with comma"}
    assert rows[1][1] == "'@sum"


@pytest.mark.parametrize(
    ("name", "problem"),
    [("out.txt", "must end in .csv or .json"), ("missing/out.csv", "does not exist"), ("", "Give")],
)
def test_bad_paths_are_refused_and_nothing_is_written(
    tmp_path: Path, name: str, problem: str
) -> None:
    with pytest.raises(InputError, match=problem):
        export_batch(make_batch(["a"]), str(tmp_path / name) if name else "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # the conftest's


def test_an_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("keep me")
    with pytest.raises(InputError, match="exists"):
        export_batch(make_batch(["a"]), str(target))
    assert target.read_text() == "keep me"
    export_batch(make_batch(["a"]), str(target), overwrite=True)
    assert json.loads(target.read_text())["counts"]["total"] == 1


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        export_batch(make_batch(["a"]), str(tmp_path / "d.csv"))
