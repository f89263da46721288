"""Where results live on disk: safe folder and file names, and what is whole there.

A result goes to ``RESULTS_DIR/BATCH_ID/INSTANCE_ID/NAME``; names come from AMC (the
instance id, the last part of a pre-signed URL's path) and are used only when they are
harmless (letters, digits, ``.``, ``_``, ``-``; not hidden; not ``.part``, the suffix of
a file still being written), else replaced by a name of our own.  :func:`files_on_disk`
lists the files the store records whole that still have their recorded size.  Nothing
here imports Textual.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from amc_tui.amc.models import DownloadUrls
from amc_tui.domain import Execution
from amc_tui.store.results import FileKind, ResultFile, ResultSet, ResultStatus

PART_SUFFIX = ".part"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")


@dataclass(frozen=True)
class LocalFile:
    """A whole result file on disk."""

    kind: FileKind
    number: int
    path: Path
    size: int
    sha256: str


def safe_part(text: str, fallback: str) -> str:
    """``text`` if it is a harmless file or folder name, else ``fallback``."""
    return text if _SAFE_NAME.fullmatch(text) and not text.endswith(PART_SUFFIX) else fallback


def result_directory(results_dir: Path, execution: Execution) -> Path:
    """``RESULTS_DIR/BATCH_ID/INSTANCE_ID`` for the execution (names made safe)."""
    batch = safe_part(execution.batch_id, f"batch-{execution.id}")
    instance = safe_part(execution.instance_id, str(execution.instance_uuid))
    return results_dir / batch / instance


def file_names(urls: DownloadUrls) -> list[tuple[FileKind, int, str, str]]:
    """(kind, number, local name, url) for each listed file; names unique and safe."""
    listed = [(FileKind.DATA, n, url) for n, url in enumerate(urls.download_urls, 1)]
    listed += [(FileKind.METADATA, n, url) for n, url in enumerate(urls.metadata_download_urls, 1)]
    used: set[str] = set()
    named = []
    for kind, number, url in listed:
        base = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        fallback = f"result-{number}.csv" if kind is FileKind.DATA else f"metadata-{number}.json"
        name = safe_part(base, fallback)
        if name in used:
            name = f"{kind.value}-{number}-{name}"
        used.add(name)
        named.append((kind, number, name, url))
    return named


def files_on_disk(
    results_dir: Path, execution: Execution, results: ResultSet | None
) -> list[LocalFile]:
    """The execution's files recorded whole that still have their recorded size on disk."""
    if results is None:
        return []
    directory = result_directory(results_dir, execution)
    found = (on_disk(directory, row) for row in results.recorded)
    return [f for f in found if f is not None]


def downloaded_files(
    results_dir: Path, execution: Execution, results: ResultSet | None
) -> list[LocalFile] | None:
    """The execution's files if its result is recorded downloaded and every file the
    store records (and every data file AMC listed) is still whole on disk; else None."""
    if results is None or results.status is not ResultStatus.DOWNLOADED:
        return None
    files = files_on_disk(results_dir, execution, results)
    data = sum(1 for f in files if f.kind is FileKind.DATA)
    if len(files) != len(results.recorded) or results.files not in (None, data):
        return None
    return files


def on_disk(directory: Path, row: ResultFile) -> LocalFile | None:
    """The recorded file if it is marked whole and still has its recorded size."""
    if not row.done or row.size is None or row.sha256 is None:
        return None
    path = directory / row.name
    try:
        if path.stat().st_size != row.size:
            return None
    except OSError:
        return None
    return LocalFile(row.kind, row.number, path, row.size, row.sha256)


def make_directory(directory: Path) -> None:
    """``directory`` and the folders above it that are missing, each private (0700)."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort where not supported)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
