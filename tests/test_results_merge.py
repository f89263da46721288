"""Merging result files into one CSV: columns first, quoting kept, headers checked."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from amc_tui import results_merge
from amc_tui.errors import InputError
from amc_tui.results_merge import MergeMismatchError, MergeSource, merge_results

HEADER = ["campaign", "impressions", "note"]
AWKWARD = [
    ['Spring Sale, "Outdoor Gear" – Größe M', "12", "comma, quote"],  # noqa: RUF001
    ["春の新生活キャンペーン", "7", "UTF-8"],
    ["Line one\nline two", "3", "a newline inside"],
    ["Windows\r\nbreak", "4", "a CRLF inside"],
    ["", "0", ""],
    ["=HYPERLINK(1)", "-5", "kept as data"],
    ['"', '""', "quotes only"],
]


def write_csv(
    path: Path, rows: list[list[str]], *, bom: bool = False, newline: str = "\r\n"
) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_rows_get_their_instance_first_and_every_value_survives(tmp_path: Path) -> None:
    a1 = write_csv(tmp_path / "a" / "1.csv", [HEADER, *AWKWARD[:4]])
    a2 = write_csv(tmp_path / "a" / "2.csv", [HEADER, *AWKWARD[4:]], newline="\n")
    b1 = write_csv(tmp_path / "b" / "1.csv", [HEADER, *AWKWARD], bom=True)
    out = tmp_path / "merged.csv"
    result = merge_results(
        [
            MergeSource('Acme, Inc. "US"', "amc111", [a1, a2]),
            MergeSource("Café DE", "amc222", [b1]),
        ],
        out,
    )

    rows = read_csv(out)
    assert rows[0] == ["instance_name", "instance_id", *HEADER]
    expected = [['Acme, Inc. "US"', "amc111", *r] for r in AWKWARD]
    expected += [["Café DE", "amc222", *r] for r in AWKWARD]
    assert rows[1:] == expected
    assert result.rows == 2 * len(AWKWARD) and result.files == 3
    assert result.columns == tuple(HEADER)
    data = out.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") >= len(rows)  # every record ends with CRLF


def test_a_header_that_differs_names_the_instance_and_writes_nothing(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "a.csv", [HEADER, ["x", "1", ""]])
    other = write_csv(tmp_path / "b.csv", [["campaign", "clicks", "note"], ["y", "2", ""]])
    out = tmp_path / "merged.csv"
    out.write_text("what was there before\n")
    with pytest.raises(MergeMismatchError) as caught:
        merge_results(
            [MergeSource("Acme US", "amc111", [good]), MergeSource("Acme DE", "amc222", [other])],
            out,
        )
    message = caught.value.user_message
    assert "Acme DE (amc222)" in message and "b.csv" in message
    assert "lacks impressions" in message and "adds clicks" in message
    assert "Acme US (amc111)" in message
    assert out.read_text() == "what was there before\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".merged")] == []


def test_the_same_columns_in_another_order_is_a_mismatch(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [HEADER])
    b = write_csv(tmp_path / "b.csv", [list(reversed(HEADER))])
    with pytest.raises(MergeMismatchError, match="same columns in another order"):
        merge_results(
            [MergeSource("A", "amc1", [a]), MergeSource("B", "amc2", [b])], tmp_path / "m.csv"
        )


def test_empty_files_add_nothing_and_header_only_files_add_no_rows(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = write_csv(tmp_path / "h.csv", [HEADER])
    full = write_csv(tmp_path / "f.csv", [HEADER, ["x", "1", "y"]])
    out = tmp_path / "m.csv"
    result = merge_results(
        [MergeSource("A", "amc1", [empty, header_only]), MergeSource("B", "amc2", [full])], out
    )
    assert read_csv(out) == [
        ["instance_name", "instance_id", *HEADER],
        ["B", "amc2", "x", "1", "y"],
    ]
    assert result.rows == 1 and result.files == 2


def test_no_results_at_all_still_gives_a_header(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = merge_results([], out)
    assert read_csv(out) == [["instance_name", "instance_id"]]
    assert result.rows == 0


def test_blank_lines_between_records_are_dropped_and_a_missing_last_newline_is_fine(
    tmp_path: Path,
) -> None:
    source = tmp_path / "a.csv"
    source.write_bytes(b'campaign,impressions,note\r\n\r\nx,1,"two\r\n\r\nlines"\r\ny,2,z')
    out = tmp_path / "m.csv"
    merge_results([MergeSource("A", "amc1", [source])], out)
    assert read_csv(out)[1:] == [
        ["A", "amc1", "x", "1", "two\r\n\r\nlines"],
        ["A", "amc1", "y", "2", "z"],
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("merged.json", "must end in .csv"),
        ("no-such-folder/merged.csv", "does not exist"),
        ("", "No file name given"),
    ],
)
def test_a_bad_output_path_is_refused_before_reading_anything(
    tmp_path: Path, name: str, problem: str
) -> None:
    source = write_csv(tmp_path / "a.csv", [HEADER])
    target = str(tmp_path / name) if name else ""
    with pytest.raises(InputError, match=problem):
        merge_results([MergeSource("A", "amc1", [source])], target)


def test_a_result_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_bytes("campaign,caf\xe9\r\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"result of A \(amc1\) \(a.csv\) is not UTF-8"):
        merge_results([MergeSource("A", "amc1", [source])], tmp_path / "m.csv")


@pytest.mark.parametrize("block", [1, 2, 7, 64, 1 << 20])
def test_records_cut_by_a_block_end_come_out_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Read in blocks of any size, a quoted line break or CRLF across a block's end
    still ends in the right record."""
    monkeypatch.setattr(results_merge, "BLOCK_BYTES", block)
    rows = [HEADER, *AWKWARD, ['a "quoted" word', "1", "x"], ["multi\n\nline", "2", "y"]]
    a = write_csv(tmp_path / "a.csv", rows * 3, bom=True)
    b = write_csv(tmp_path / "b.csv", [HEADER, *AWKWARD], newline="\n")
    out = tmp_path / "m.csv"
    result = merge_results([MergeSource("A", "amc1", [a]), MergeSource("B", "amc2", [b])], out)

    expected = [["A", "amc1", *r] for r in (rows * 3)[1:]]
    expected += [["B", "amc2", *r] for r in AWKWARD]
    got = read_csv(out)
    assert got[0] == ["instance_name", "instance_id", *HEADER]
    # the header rows inside a.csv (it holds `rows` three times) are data rows here
    assert got[1:] == expected
    assert result.rows == len(expected)
