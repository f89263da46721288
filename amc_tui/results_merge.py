"""Merging a batch's downloaded result files into one CSV, streamed.

The merged file has two columns first, ``instance_name`` and ``instance_id`` (AMC's
id), then the result's own columns; its rows are every data file's rows, instance
by instance in the order given, file by file.  Every file must have the same header
as the first: the first that differs stops the merge with a
:class:`MergeMismatchError` naming the instance and how its columns differ.  An empty
file (no header at all) adds nothing.

Little is held in memory: files are read in blocks of a MB as bytes, and a record
goes on while it has an odd number of double quotes (a quoted field may hold commas,
quotes written twice, and line breaks, RFC 4180); a block whose lines all have an even
number of quotes (the usual case) is copied in a few passes over its bytes.  Records are
written as they were read (values are not re-quoted, so nothing in them changes),
each ended with ``\\r\\n``.  Values are data: unlike the batch export, no formula guard
is applied (it would change a negative number such as ``-5``).  A UTF-8 byte order mark
at the start of a file is dropped; the output is UTF-8 without one.

The output is written atomically (:func:`amc_tui.state_file.atomic_writer`): a merge
that fails leaves an existing file as it was and no partial file behind.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import BinaryIO

from amc_tui.errors import InputError
from amc_tui.export import check_export_path
from amc_tui.state_file import atomic_writer

PREFIX_COLUMNS = ("instance_name", "instance_id")
BOM = b"\xef\xbb\xbf"
QUOTE = ord('"')
_odd = (1).__and__  # a count's parity, called from C (map) rather than a Python loop
BLOCK_BYTES = 1 << 20
"""Bytes read from a result file at a time."""


class MergeMismatchError(InputError):
    """A file's header differs from the first file's."""


@dataclass(frozen=True)
class MergeSource:
    """One instance's data files, in order."""

    instance_name: str
    instance_id: str
    files: Sequence[Path]


@dataclass(frozen=True)
class MergeResult:
    path: Path
    rows: int
    """Data rows written (the header not counted)."""
    files: int
    columns: tuple[str, ...]


def check_merge_path(path: Path | str) -> Path:
    """The CSV file to merge into (``~`` expanded; an existing file is replaced)."""
    target = check_export_path(path, overwrite=True)
    if target.suffix.lower() != ".csv":
        raise InputError(f"{target}: merged results are CSV; the name must end in .csv")
    return target


def merge_results(sources: Sequence[MergeSource], path: Path | str) -> MergeResult:
    """Write ``sources`` into one CSV at ``path``; see the module's description.

    Raises :class:`MergeMismatchError` (nothing written) when a header differs, and
    InputError for a refused path, a file that cannot be read, or a write that failed.
    """
    target = check_merge_path(path)
    header: tuple[str, ...] | None = None
    first: MergeSource | None = None
    rows = files = 0
    try:
        with atomic_writer(target.resolve(), mode=0o644) as out:
            for source in sources:
                prefix = _csv_line(source.instance_name, source.instance_id)[:-2] + b","
                for file in source.files:
                    batches = _record_batches(file)
                    batch = next(batches, None)
                    if batch is None:
                        continue
                    columns = _header(batch[0], source, file)
                    if header is None:
                        header, first = columns, source
                        out.write(_csv_line(*PREFIX_COLUMNS, *columns))
                    elif columns != header:
                        assert first is not None
                        raise MergeMismatchError(_mismatch(source, file, first, header, columns))
                    files += 1
                    rows += _write_records(batch[1:], prefix, out)
                    for batch in batches:
                        rows += _write_records(batch, prefix, out)
            if header is None:
                out.write(_csv_line(*PREFIX_COLUMNS))
    except OSError as error:
        raise InputError(
            f"The merged results could not be written to {target}: {error.strerror or error}"
        ) from None
    return MergeResult(target, rows, files, header or ())


def _write_records(records: list[bytes], prefix: bytes, out: BinaryIO) -> int:
    if records:
        out.write(prefix + (b"\r\n" + prefix).join(records) + b"\r\n")
    return len(records)


def _record_batches(path: Path) -> Iterator[list[bytes]]:
    """The file's CSV records as bytes (each without its line break), a block at a time.

    The file is read in blocks of :data:`BLOCK_BYTES`; a record spans several lines
    while its double quotes are unbalanced, and one cut by a block's end goes on in
    the next.  Blank lines between records are skipped, as a CSV reader does.
    """
    try:
        source = open(path, "rb")  # noqa: SIM115 (closed below, at the generator's end)
    except OSError as error:
        raise InputError(f"{path} cannot be read: {error.strerror or error}") from None
    with source:
        carry = source.read(len(BOM)).removeprefix(BOM)
        while block := source.read(BLOCK_BYTES):
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            if cut:
                records, pending = _split_records(data[:cut])
                carry = pending + data[cut:]
                if records:
                    yield records
            else:
                carry = data
        if carry:  # the last line has no line break, or a quote is left open at the end
            records, pending = _split_records(carry + b"\n")
            if pending:
                records.append(_strip_line_end(pending[:-1]))
            if records:
                yield records


def _split_records(chunk: bytes) -> tuple[list[bytes], bytes]:
    """The whole records of ``chunk`` (which ends with a line break), and what is left
    of a record still open at its end (to go on in the next block)."""
    crlf = b"\r" in chunk and chunk.count(b"\r\n") == chunk.count(b"\n")
    lines = chunk.split(b"\r\n" if crlf else b"\n")
    lines.pop()  # what follows the final line break: nothing
    if not any(map(_odd, map(bytes.count, lines, repeat(b'"')))):
        # Every line is a record of its own (no line break inside quotes), so every
        # line break ends one: the usual case, done in passes over the bytes in C.
        if not crlf and b"\r" in chunk:  # line ends mixed: some CRLF, some LF
            lines = chunk.replace(b"\r\n", b"\n").split(b"\n")
            lines.pop()
        return ([line for line in lines if line] if b"" in lines else lines), b""
    if crlf:
        lines = chunk.split(b"\n")
        lines.pop()
    records: list[bytes] = []
    pending: list[bytes] = []
    quotes = 0
    for line in lines:
        quotes += line.count(QUOTE)
        pending.append(line)
        if quotes % 2:
            continue
        record = _strip_line_end(b"\n".join(pending))
        pending.clear()
        quotes = 0
        if record:
            records.append(record)
    return records, (b"\n".join(pending) + b"\n" if pending else b"")


def _strip_line_end(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith((b"\n", b"\r")):
        return line[:-1]
    return line


def _header(record: bytes, source: MergeSource, path: Path) -> tuple[str, ...]:
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"The result of {_who(source)} ({path.name}) is not UTF-8 text") from None
    return tuple(next(csv.reader([text]), []))


def _csv_line(*values: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def _who(source: MergeSource) -> str:
    name = source.instance_name
    return f"{name} ({source.instance_id})" if name else source.instance_id


def _mismatch(
    source: MergeSource,
    path: Path,
    first: MergeSource,
    header: tuple[str, ...],
    columns: tuple[str, ...],
) -> str:
    missing = [c for c in header if c not in columns]
    extra = [c for c in columns if c not in header]
    if missing or extra:
        parts = []
        if missing:
            parts.append("lacks " + ", ".join(missing))
        if extra:
            parts.append("adds " + ", ".join(extra))
        how = " and ".join(parts)
    else:
        how = "has the same columns in another order"
    return (
        f"Cannot merge: the result of {_who(source)} ({path.name}) {how}, "
        f"compared with {_who(first)}'s columns"
    )
