"""The log file: where details go that the operator's screen never shows.

One rotating file in ``DATA_DIR/logs/``, created mode 0600.  A filter scrubs every
known secret value from each record as a last line of defence (the code already
keeps them out).  Nothing is logged to the terminal: stdout and stderr belong to
the command's own output.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
from collections.abc import Iterable
from pathlib import Path

from amc_tui.errors import redact

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
MAX_BYTES = 5_000_000
BACKUPS = 3


class RedactingFilter(logging.Filter):
    """Replaces secret values in a record's final message by ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: list[str] = [s for s in secrets if s]

    def add(self, *secrets: str) -> None:
        self.secrets.extend(s for s in secrets if s and s not in self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = redact(record.getMessage(), self.secrets)
            record.args = None
        return True


_FILTER = RedactingFilter()


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose every file (rotations too) is mode 0600."""

    def _open(self) -> io.TextIOWrapper:
        # Made 0600 before the stream opens it: ``open`` would create it 0666 & ~umask,
        # readable by others until a chmod.  The chmod covers a file made elsewhere.
        fd = os.open(
            self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
        )
        os.close(fd)
        os.chmod(self.baseFilename, 0o600)
        return super()._open()


def add_secrets(*secrets: str) -> None:
    """Have the log scrub these values from now on."""
    _FILTER.add(*secrets)


def setup_logging(log_file: Path, *, level: int = logging.INFO) -> Path | None:
    """Send ``amc_tui`` logs to ``log_file`` (mode 0600).

    Returns the path, or None if it cannot be written (then logs are dropped
    rather than stopping the program; the caller may say so).
    """
    logger = logging.getLogger("amc_tui")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        if isinstance(handler, PrivateRotatingFileHandler | logging.NullHandler):
            logger.removeHandler(handler)
            handler.close()
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = PrivateRotatingFileHandler(
            log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        logger.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(_FILTER)
    logger.addHandler(handler)
    return log_file
