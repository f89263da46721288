"""The query library: your .sql files first, then the demo queries; bad files named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amc_tui.query_library import MAX_QUERY_BYTES, load_library


def test_a_missing_folder_gives_the_demo_queries_only(tmp_path: Path) -> None:
    queries, problems = load_library(tmp_path / "nope")
    assert problems == []
    assert queries and all(q.origin == "demo" and q.path is None for q in queries)
    assert "reach_frequency" in {q.name for q in queries}
    assert all(q.sql.strip() and q.label == f"{q.name} (demo)" for q in queries)
    assert [q.name for q in queries] == sorted(q.name for q in queries)


def test_your_queries_come_first_by_name_and_bad_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "b_weekly.sql").write_text("SELECT 2")
    (tmp_path / "a_daily.sql").write_text("SELECT 1")
    (tmp_path / "C_monthly.sql").write_text("SELECT 3")
    (tmp_path / ".hidden.sql").write_text("SELECT 4")
    (tmp_path / "notes.txt").write_text("not a query")
    (tmp_path / "blank.sql").write_text("  \n")
    (tmp_path / "latin1.sql").write_bytes("SELECT 'caf\xe9'".encode("latin-1"))
    (tmp_path / "huge.sql").write_text("x" * (MAX_QUERY_BYTES + 1))
    (tmp_path / "dir.sql").mkdir()

    queries, problems = load_library(tmp_path)

    yours = [q for q in queries if q.origin == "yours"]
    assert [q.name for q in yours] == ["a_daily", "b_weekly", "C_monthly"]
    assert queries[:3] == yours and all(q.origin == "demo" for q in queries[3:])
    assert yours[0].sql == "SELECT 1" and yours[0].path == tmp_path / "a_daily.sql"
    assert yours[0].label == "a_daily"
    text = "\n".join(problems)
    assert f"{tmp_path / 'blank.sql'}: the file is empty" in text
    assert "latin1.sql: not UTF-8 text (bad byte at offset 11)" in text
    assert f"huge.sql: larger than {MAX_QUERY_BYTES} bytes" in text
    assert "dir.sql: is a directory" in text
    assert len(problems) == 4


def test_a_file_of_exactly_the_limit_and_a_byte_order_mark_are_fine(tmp_path: Path) -> None:
    (tmp_path / "edge.sql").write_text("-" * MAX_QUERY_BYTES)
    (tmp_path / "bom.sql").write_bytes(b"\xef\xbb\xbfSELECT 1")
    queries, problems = load_library(tmp_path)
    assert problems == []
    by_name = {q.name: q for q in queries}
    assert by_name["bom"].sql == "SELECT 1"
    assert len(by_name["edge"].sql) == MAX_QUERY_BYTES


def test_links_and_special_files_are_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "gone.sql").symlink_to(tmp_path / "nowhere.sql")
    os.mkfifo(tmp_path / "pipe.sql")  # opening it would block forever
    (tmp_path / "ok.sql").write_text("SELECT 1")
    queries, problems = load_library(tmp_path)
    assert [q.name for q in queries if q.origin == "yours"] == ["ok"]
    text = "\n".join(problems)
    assert "gone.sql: cannot be read" in text
    assert "pipe.sql: not a regular file" in text


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    secret = tmp_path / "secret.sql"
    secret.write_text("SELECT 1")
    secret.chmod(0)
    try:
        queries, problems = load_library(tmp_path)
    finally:
        secret.chmod(0o600)
    assert "secret.sql: cannot be read (Permission denied)" in "\n".join(problems)
    assert all(q.origin == "demo" for q in queries)


def test_a_file_where_the_folder_should_be_is_named(tmp_path: Path) -> None:
    (tmp_path / "queries").write_text("oops")
    queries, problems = load_library(tmp_path / "queries")
    assert problems == [f"{tmp_path / 'queries'}: cannot be listed (not a folder)"]
    assert queries and all(q.origin == "demo" for q in queries)
