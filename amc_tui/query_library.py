"""The query library: the ``.sql`` files an operator keeps, and the demo queries.

The operator's queries are the ``*.sql`` files in the config dir's ``queries/``
folder (:attr:`~amc_tui.settings.Paths.queries_dir`); the demo queries ship in the
package.  A file that cannot be used (unreadable, not UTF-8, blank, too big) is left
out and reported with its name and what is wrong, so one bad file never hides the
rest.  Nothing here imports textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

MAX_QUERY_BYTES = 200_000


@dataclass(frozen=True)
class LibraryQuery:
    """One query of the library."""

    name: str
    sql: str
    origin: Literal["yours", "demo"]
    path: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.name} (demo)" if self.origin == "demo" else self.name


def _read(path: Path) -> tuple[str | None, str | None]:
    """(the SQL, None) or (None, the problem).

    Only regular files are opened (a FIFO or a device named ``*.sql`` is refused
    unread), and never more than ``MAX_QUERY_BYTES + 1`` bytes are read.
    """
    try:
        if path.is_dir():
            return None, f"{path}: is a directory"
        if not path.exists():
            return None, f"{path}: cannot be read (a broken link?)"
        if not path.is_file():
            return None, f"{path}: not a regular file"
        with path.open("rb") as stream:
            data = stream.read(MAX_QUERY_BYTES + 1)
    except OSError as error:
        return None, f"{path}: cannot be read ({error.strerror or type(error).__name__})"
    if len(data) > MAX_QUERY_BYTES:
        return None, f"{path}: larger than {MAX_QUERY_BYTES} bytes"
    try:
        text = data.decode("utf-8-sig")  # an editor's byte-order mark is not SQL
    except UnicodeDecodeError as error:
        return None, f"{path}: not UTF-8 text (bad byte at offset {error.start})"
    if not text.strip():
        return None, f"{path}: the file is empty"
    return text, None


def load_library(queries_dir: Path) -> tuple[list[LibraryQuery], list[str]]:
    """The operator's queries (by name, case aside), then the demo queries; and the
    problems found.  A missing folder is no problem: it just holds no queries."""
    found: list[LibraryQuery] = []
    problems: list[str] = []
    try:
        if queries_dir.exists() and not queries_dir.is_dir():
            raise NotADirectoryError(20, "not a folder")
        found_paths = [p for p in queries_dir.glob("*.sql") if not p.name.startswith(".")]
        paths = sorted(found_paths, key=lambda p: (p.name.casefold(), p.name))
    except OSError as error:
        paths = []
        problems.append(f"{queries_dir}: cannot be listed ({error.strerror or error})")
    for path in paths:
        sql, problem = _read(path)
        if sql is None:
            problems.append(problem or f"{path}: cannot be used")
        else:
            found.append(LibraryQuery(path.stem, sql, "yours", path))
    demo = resources.files("amc_tui.amc").joinpath("demo_queries")
    for item in sorted(demo.iterdir(), key=lambda i: i.name):
        if item.name.endswith(".sql"):
            found.append(
                LibraryQuery(item.name.removesuffix(".sql"), item.read_text("utf-8"), "demo")
            )
    return found, problems
