"""The state file: settings amc-tui changes itself (remembered selections, theme, ...).

Kept apart from the operator's config file so the program never rewrites what a
person wrote.  Written with :mod:`tomli_w`, atomically: a temporary file in the
same directory, flushed and fsynced, then renamed over the old one, then the
directory fsynced.  A crash at any moment leaves either the old file or the new
one, never half of either.  A state file that cannot be parsed is set aside
(renamed, never deleted) before a new one is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import tomli_w

from amc_tui.errors import ConfigError

log = logging.getLogger(__name__)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, whole."""
    with atomic_writer(path, mode=mode) as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o600) -> Iterator[BinaryIO]:
    """A file to write that replaces ``path`` whole when the block ends without error.

    The bytes go to a temporary file next to ``path`` (so a reader, or a crash, never
    sees half of them); at the end it is flushed to disk and renamed over ``path``.
    If the block raises, the temporary file is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class StateFile:
    """A small TOML document of program-owned settings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._unreadable = False

    def load(self) -> dict[str, Any]:
        """The stored state; ``{}`` when there is none or it cannot be parsed."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"state file {self.path} cannot be read: {exc.strerror}") from None
        try:
            return tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            log.warning("state file %s cannot be parsed (%s); starting afresh", self.path, exc)
            self._unreadable = True
            return {}

    def save(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` atomically, setting an unparsable old file aside first."""
        data = tomli_w.dumps(dict(state)).encode("utf-8")
        if self._unreadable and self.path.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
            os.replace(self.path, aside)
            log.warning("unreadable state file kept as %s", aside)
            self._unreadable = False
        try:
            atomic_write_bytes(self.path, data)
        except OSError as exc:
            raise ConfigError(f"state file {self.path} cannot be written: {exc.strerror}") from None

    def update(self, **changes: Any) -> dict[str, Any]:
        """Load, apply ``changes`` at the top level, save; returns the new state."""
        state = self.load()
        state.update(changes)
        self.save(state)
        return state
