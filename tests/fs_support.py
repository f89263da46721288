"""Making a directory or file truly unwritable in a test, even for root.

For an ordinary user ``chmod`` is enough.  Root ignores modes, so for root the
file is made immutable with ``chattr +i`` (ext4 and most Linux file systems honour
it for root too); where that is not possible the test is skipped, never faked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """``path`` cannot be written (nor, for a directory, have entries added) inside."""
    if os.geteuid() != 0:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(0o500 if path.is_dir() else 0o400)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("root ignores file modes, and chattr is not installed")
    made = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0 or os.access(path, os.W_OK):
        pytest.skip(f"root ignores file modes, and chattr +i failed: {made.stderr!r}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)
