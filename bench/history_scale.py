"""History at scale: years of batches, and how fast amc-tui reads them (issue 6, target 2).

    python bench/history_scale.py [--batches 10000] [--executions 500000] [--runs 7]
                                  [--cache DIR] [--no-cache]

A history of BATCHES finished batches and EXECUTIONS executions (``bench/seed_history.py``;
the newest batch has 1,000 executions) is made once and kept in the cache folder
(default: ``$TMPDIR/amc-tui-bench``); each run works on a fresh copy.  Then:

1. **Query plans**: ``EXPLAIN QUERY PLAN`` of every read the history screen, the
   dashboard, ``history`` and ``show`` make (:mod:`amc_tui.store.plans`); a read of a
   whole table without an index is flagged.
2. **The TUI** (the real app, headless at 120x40, in a child process so that its peak
   RSS is its own): from the instances screen, ``h`` is pressed and the time to the
   history's first page drawn is taken (target 150 ms); then ``enter`` opens the newest
   batch (1,000 executions) and the time to its dashboard drawn with every row is taken
   (target 100 ms: the rows in sight drawn; the dashboard adds the others just after
   its first frame); ``escape`` twice goes back, RUNS times.  Then the history is
   scrolled to its 20th page (2,000 rows).  Each time is from the key event posted to
   the app (as the terminal driver posts it) to the first frame composed with the rows
   (see :class:`Frames`).  Peak RSS of that process (its own ``VmHWM``, see
   ``bench/own_rss.py``; the history is seeded in a process of its own too): target
   < 200 MB.
3. **The CLI**: ``amc-tui history --json --limit 50``, the whole process, RUNS times
   (target 0.5 s).

The figures are medians (and the worst run); the ratio is figure / target (<= 1 meets it).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import events
from textual.css.query import NoMatches

sys.path.insert(0, str(Path(__file__).resolve().parent))

from own_rss import inherited_floor_mb, own_peak_rss_mb
from seed_history import Seeded, seeded

from amc_tui.domain import BatchStatus, ExecutionStatus
from amc_tui.store import executions, queries
from amc_tui.store.database import connect_read_only
from amc_tui.store.plans import Plan, plans_of

HISTORY_TARGET = 0.150
DASHBOARD_TARGET = 0.100
CLI_TARGET = 0.5
RSS_TARGET_MB = 200
SIZE = (120, 40)


def verdict(value: float, target: float) -> str:
    return f"{value / target:.2f} of target: {'met' if value <= target else 'NOT MET'}"


# --- 1. plans ---------------------------------------------------------------------------


def reads(big_batch_id: str) -> dict[str, Callable[[sqlite3.Connection], object]]:
    """The reads of the screens and commands, by what they are for."""
    now = datetime.now(UTC)
    return {
        "history page 1": lambda c: queries.list_batches(c, 100, None, None),
        "history page n": lambda c: queries.list_batches(c, 100, now, None),
        "history --status": lambda c: queries.list_batches(c, 50, None, BatchStatus.FAILED),
        "history search": lambda c: queries.list_batches(c, 100, None, None, "report 99"),
        "one batch (dashboard, show)": lambda c: queries.get_batch(c, big_batch_id),
        "one row of the history": lambda c: queries.get_summary(c, big_batch_id),
        "failures only": lambda c: executions.list_executions(
            c, big_batch_id, [ExecutionStatus.FAILED, ExecutionStatus.UNKNOWN]
        ),
        "unfinished (recovery)": queries.unfinished_batch_ids,
        "latest per instance": lambda c: executions.latest_by_instance(c, ["an-instance"]),
        "by AMC id": lambda c: executions.find_execution(c, "an-amc-id"),
        "attempts": lambda c: executions.list_attempts(c, 1),
    }


def show_plans(path: Path, big_batch_id: str, verbose: bool) -> int:
    conn = connect_read_only(path, 5.0)
    conn.row_factory = sqlite3.Row
    unindexed = 0
    print("query plans:")
    try:
        for name, read in reads(big_batch_id).items():
            began = time.perf_counter()
            read(conn)
            took = time.perf_counter() - began
            plans: list[Plan] = plans_of(conn, read)
            scans = sorted({table for plan in plans for table in plan.full_scans})
            unindexed += bool(scans)
            state = f"FULL SCAN of {', '.join(scans)}" if scans else "indexed"
            print(f"  {name:<28} {took * 1000:7.1f} ms  {state}")
            if verbose:
                for plan in plans:
                    print("    " + plan.describe().replace("\n", "\n    "))
    finally:
        conn.close()
    print(f"  reads without an index: {unindexed}")
    return unindexed


# --- 2. the TUI (child process) ---------------------------------------------------------


class Frames:
    """When the app composes a frame, and whether it showed what was awaited.

    Wraps the app's ``_display`` (where every frame goes to the terminal; headless, the
    frame is composed and then dropped).  :meth:`key` posts a key as the terminal driver
    does and returns the time from then to the first frame composed with ``shown()``
    true, so the measure is the operator's: key press to the rows on screen.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.wanted: Callable[[], bool] = lambda: False
        self.seen = 0.0
        self.event = asyncio.Event()
        display = app._display

        def counted(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None and not self.event.is_set() and self._shown():
                self.seen = time.perf_counter()
                self.event.set()

        app._display = counted

    def _shown(self) -> bool:
        try:
            return self.wanted()
        except NoMatches:  # the screen is still being composed
            return False

    async def key(self, key: str, character: str | None, shown: Callable[[], bool]) -> float:
        self.wanted = shown
        self.event.clear()
        began = time.perf_counter()
        self.app.post_message(events.Key(key, character))
        await self.event.wait()
        return self.seen - began


async def tui_child(data_dir: Path, runs: int, big_batch_id: str) -> dict[str, object]:
    from amc_tui.settings import load_settings
    from amc_tui.tui.app import AmcApp
    from amc_tui.tui.screens.dashboard import DashboardScreen
    from amc_tui.tui.screens.history import HistoryScreen
    from amc_tui.tui.screens.instances import InstancesScreen

    config = data_dir.parent / "config.toml"
    config.write_text("")
    settings = load_settings(config=config, data_dir=data_dir, demo=True, env={})
    app = AmcApp(settings)
    frames = Frames(app)
    history_times: list[float] = []
    dashboard_times: list[float] = []

    def on_history() -> bool:
        screen = app.screen
        return isinstance(screen, HistoryScreen) and screen.table.row_count > 0

    def on_dashboard(rows: int) -> Callable[[], bool]:
        # The dashboard as the operator sees it: every row its table has room for (it
        # adds the rows out of sight just after its first frame).
        def shown() -> bool:
            screen = app.screen
            if not isinstance(screen, DashboardScreen):
                return False
            in_sight = screen.table.size.height - screen.table.header_height
            return in_sight > 0 and screen.table.row_count >= min(rows, in_sight)

        return shown

    def on_instances() -> bool:
        screen = app.screen
        return isinstance(screen, InstancesScreen) and screen.table.row_count > 0

    async with app.run_test(size=SIZE) as pilot:
        while not on_instances():
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        store = app.services.store
        big = await store.get_batch_summary(big_batch_id)
        assert big is not None
        for _ in range(runs):
            history_times.append(await frames.key("h", "h", on_history))
            history = app.screen
            assert isinstance(history, HistoryScreen)
            assert history.highlighted_id() == big_batch_id, history.highlighted_id()
            await pilot.pause(0.3)
            dashboard_times.append(await frames.key("enter", "\r", on_dashboard(big.counts.total)))
            await pilot.pause(0.3)
            await frames.key("escape", None, on_history)
            await frames.key("escape", None, on_instances)
            await pilot.pause(0.3)
        await frames.key("h", "h", on_history)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        began = time.perf_counter()
        while history.table.row_count < 2000:
            await pilot.press("ctrl+end")
            await pilot.pause(0.01)
        scrolled = time.perf_counter() - began
        scrolled_rows = history.table.row_count
    return {
        "history": history_times,
        "dashboard": dashboard_times,
        "dashboard_rows": big.counts.total,
        "scrolled": scrolled,
        "scrolled_rows": scrolled_rows,
        "own_rss_mb": own_peak_rss_mb(),
    }


def run_tui(data_dir: Path, runs: int, big_batch_id: str) -> tuple[dict[str, object], float]:
    """The TUI measurements in a child process; its answer and its own peak RSS in MB
    (see ``own_rss``)."""
    command = [
        sys.executable,
        __file__,
        "--child-tui",
        str(data_dir),
        "--runs",
        str(runs),
        "--big",
        big_batch_id,
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert child.stdout is not None
    out = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the TUI measurement failed (exit {child.returncode})")
    answer = json.loads(out)
    own = answer.get("own_rss_mb")
    return answer, usage.ru_maxrss / 1024 if own is None else float(own)


# --- 3. the CLI -------------------------------------------------------------------------


def run_cli(data_dir: Path, runs: int) -> tuple[list[float], float, int]:
    """``amc-tui history --json --limit 50``: wall times, worst peak RSS (MB), rows."""
    program = Path(sys.executable).parent / "amc-tui"
    home = data_dir.parent
    (home / "config.toml").write_text("")
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "AMC_TUI_CONFIG": str(home / "config.toml"),
    }
    times, rss, rows = [], 0.0, 0
    for _ in range(runs):
        began = time.perf_counter()
        child = subprocess.Popen(
            [str(program), "--data-dir", str(data_dir), "history", "--json", "--limit", "50"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert child.stdout is not None
        out = child.stdout.read()
        _pid, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - began)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit("amc-tui history --json failed")
        rss = max(rss, usage.ru_maxrss / 1024)
        rows = len(json.loads(out))
    return times, rss, rows


# --- main -------------------------------------------------------------------------------


def seeded_elsewhere(target: Path, cache: Path | None, **sizes: int) -> Seeded:
    """:func:`seeded`, in a process of its own: seeding takes this process to 300 MB,
    and every child started after that would report that much through ``wait4``
    (see ``own_rss``), the CLI's runs included."""
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return pool.submit(seeded, target, cache, **sizes).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--executions", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "amc-tui-bench")
    parser.add_argument("--no-cache", action="store_true", help="seed afresh, keep nothing")
    parser.add_argument("--plans", action="store_true", help="print every query plan")
    parser.add_argument("--child-tui", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--big", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_tui is not None:
        print(json.dumps(asyncio.run(tui_child(args.child_tui, args.runs, args.big))))
        return

    with tempfile.TemporaryDirectory(prefix="amc-tui-bench-") as scratch:
        data_dir = Path(scratch) / "data"
        data_dir.mkdir(mode=0o700)
        began = time.perf_counter()
        cache = None if args.no_cache else args.cache
        made = seeded_elsewhere(
            data_dir / "history.db", cache, batches=args.batches, executions=args.executions
        )
        size_mb = made.path.stat().st_size / 1e6
        print(
            f"history: {made.batches} batches, {made.executions} executions, "
            f"{size_mb:.0f} MB ({time.perf_counter() - began:.1f} s to seed or copy)"
        )
        unindexed = show_plans(made.path, made.big_batch_id, args.plans)

        pristine = Path(scratch) / "pristine.db"
        shutil.copyfile(made.path, pristine)
        tui, tui_rss = run_tui(data_dir, args.runs, made.big_batch_id)
        shutil.copyfile(pristine, made.path)  # the CLI reads what the TUI was given
        cli_floor = inherited_floor_mb()
        cli_times, cli_rss, cli_rows = run_cli(data_dir, args.runs)

    history = [float(t) for t in tui["history"]]  # type: ignore[attr-defined]
    dashboard = [float(t) for t in tui["dashboard"]]  # type: ignore[attr-defined]
    print(f"TUI (headless {SIZE[0]}x{SIZE[1]}, {args.runs} runs; median, worst):")
    h = statistics.median(history)
    print(
        f"  h -> history first page drawn   {h * 1000:6.0f} ms, {max(history) * 1000:4.0f} ms"
        f"  (first press {history[0] * 1000:.0f} ms)  {verdict(h, HISTORY_TARGET)}"
    )
    d = statistics.median(dashboard)
    print(
        f"  enter -> dashboard of {tui['dashboard_rows']} rows  {d * 1000:6.0f} ms,"
        f" {max(dashboard) * 1000:4.0f} ms  (first {dashboard[0] * 1000:.0f} ms)"
        f"  {verdict(d, DASHBOARD_TARGET)}"
    )
    print(f"  scrolled to {tui['scrolled_rows']} rows in {float(tui['scrolled']):.2f} s")  # type: ignore[arg-type]
    print(
        f"  peak RSS of the TUI process {tui_rss:.0f} MB (its own VmHWM)"
        f"  {verdict(tui_rss, RSS_TARGET_MB)}"
    )
    c = statistics.median(cli_times)
    print(
        f"amc-tui history --json --limit 50 ({cli_rows} rows): {c:.3f} s median,"
        f" {max(cli_times):.3f} s worst, peak RSS {cli_rss:.0f} MB (wait4: never below this"
        f" bench's own {cli_floor:.0f} MB)  {verdict(c, CLI_TARGET)}"
    )
    print(f"query plans: {'all indexed' if not unindexed else f'{unindexed} NOT indexed'}")


if __name__ == "__main__":
    main()
