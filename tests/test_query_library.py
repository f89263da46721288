"""The query library: your .sql files first, then the demo queries; bad files named."""

from __future__ import annotations

from pathlib import Path

from amc_tui.query_library import MAX_QUERY_BYTES, load_library


def test_a_missing_folder_gives_the_demo_queries_only(tmp_path: Path) -> None:
    queries, problems = load_library(tmp_path / "nope")
    assert problems == []
    assert queries and all(q.origin == "demo" for q in queries)
    assert "reach_frequency" in {q.name for q in queries}
    assert all(q.sql.strip() for q in queries)


def test_your_queries_come_first_by_name_and_bad_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "b_weekly.sql").write_text("SELECT 2")
    (tmp_path / "a_daily.sql").write_text("SELECT 1")
    (tmp_path / ".hidden.sql").write_text("SELECT 3")
    (tmp_path / "notes.txt").write_text("not a query")
    (tmp_path / "blank.sql").write_text("  \n")
    (tmp_path / "latin1.sql").write_bytes("SELECT 'caf\xe9'".encode("latin-1"))
    (tmp_path / "huge.sql").write_text("x" * (MAX_QUERY_BYTES + 1))
    (tmp_path / "dir.sql").mkdir()

    queries, problems = load_library(tmp_path)

    yours = [q for q in queries if q.origin == "yours"]
    assert [q.name for q in yours] == ["a_daily", "b_weekly"]
    assert queries[:2] == yours
    assert yours[0].sql == "SELECT 1" and yours[0].path == tmp_path / "a_daily.sql"
    assert queries[-1].origin == "demo" and queries[-1].label.endswith("(demo)")
    text = "\n".join(problems)
    assert "blank.sql: the file is empty" in text
    assert "latin1.sql: not UTF-8 text" in text
    assert "huge.sql" in text and "at most" in text
    assert "dir.sql: is a directory" in text
    assert len(problems) == 4
