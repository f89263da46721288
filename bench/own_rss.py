"""A process's own peak RSS, for the benches' memory targets.

Linux keeps a process's peak RSS across ``fork`` and ``execve``: what ``wait4`` and
``getrusage`` report as ``ru_maxrss`` for a child is never below the peak its parent had
reached when it started the child.  A bench that seeded a 10,000-batch history in its own
process (300 MB) saw every child it then started report 300 MB, whatever the child used.
``VmHWM`` in ``/proc/self/status`` is the peak of the process's own memory image only (it
starts afresh at ``execve``): each bench's child reports that, and the parent falls back to
``wait4``'s figure where there is no ``/proc``.
"""

from __future__ import annotations

import resource
from pathlib import Path

STATUS = Path("/proc/self/status")


def own_peak_rss_mb(status: Path = STATUS) -> float | None:
    """This process's own peak RSS in MB (``VmHWM``); None without ``/proc``."""
    try:
        lines = status.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def inherited_floor_mb() -> float:
    """What ``wait4`` reports at least for any child this process starts now: its own
    ``ru_maxrss`` (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
