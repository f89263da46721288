"""``bench/own_rss.py``: the memory targets' figure is the measured process's own peak,
not the peak Linux carries over from the bench that started it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from own_rss import inherited_floor_mb, own_peak_rss_mb  # noqa: E402

linux_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux's /proc"
)


def resident(mb: int) -> bytearray:
    """``mb`` MB of memory, every page touched (so resident)."""
    ballast = bytearray(mb * 1024 * 1024)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1
    return ballast


@linux_proc
def test_a_child_reports_its_own_peak_where_wait4_reports_the_parents() -> None:
    # This test process holds far more than a bare Python (pytest, the app's modules,
    # and 64 MB more here), so a child that only starts Python is well below it.
    ballast = resident(64)
    floor = inherited_floor_mb()
    code = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r}); import own_rss;"
        " print(own_rss.own_peak_rss_mb())"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None
    own = float(child.stdout.read())
    _pid, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    del ballast

    from_wait4 = usage.ru_maxrss / 1024
    assert floor >= 64
    assert from_wait4 >= floor * 0.95  # what the benches used to report
    assert 1 < own < floor / 2  # what they report now


@linux_proc
def test_this_process_peak_is_at_least_what_it_holds() -> None:
    ballast = resident(32)
    own = own_peak_rss_mb()
    assert own is not None and own >= 32
    del ballast


def test_no_figure_without_proc_or_without_the_line(tmp_path: Path) -> None:
    assert own_peak_rss_mb(tmp_path / "missing") is None
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmRSS:\t  1000 kB\n")
    assert own_peak_rss_mb(status) is None
    status.write_text("Name:\tpython\nVmHWM:\t  20480 kB\nVmRSS:\t  1000 kB\n")
    assert own_peak_rss_mb(status) == 20.0
