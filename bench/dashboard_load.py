"""The dashboard under load (issue 6, target 3, and the peak RSS of target 5).

    python bench/dashboard_load.py [--executions 1000] [--concurrency 5] [--runs 3]
                                   [--opens 3] [--simulator process|embedded|both]
                                   [--size 120x40] [--no-terminal-output] [--profile FILE]

The real app (``AmcApp``, headless, at SIZE) with the real runner and store launches a
batch of EXECUTIONS executions (``engine.max_batch_size`` raised to fit) through
``app.launch``, the way the confirm screen does, on a zero-latency, fault-free
simulator whose executions last 5 ms, CONCURRENCY at a time: by default amc-tui's own
default (``engine.max_concurrent_executions``, 5), with every other setting as amc-tui
has it; the issue raises only the batch size.  ``--concurrency 20`` is the heavier case
measured in earlier sessions (the HTTP pool is raised to match above its default of 20;
httpcore's pool looks at every connection for every request, so a pool of 100 spends
more on itself than on the requests).  The dashboard shows the batch.  The simulator
runs either in its own process (``amc-tui simulator`` on a real port: the TUI
process's CPU is its own: app, engine, store, HTTP client) or embedded in the TUI
process (``httpx.ASGITransport``, as ``--demo`` runs: its CPU counts too).

While the batch runs, a thread presses ``down`` / ``up`` as the terminal driver's input
thread does (``driver.send_message``) about every 50 ms, and each key's latency is the
time from that press to the first frame composed with the table's cursor moved.
Frames are composed headless and then turned into the terminal's byte stream as a
terminal driver would write it (``render_segments``; ``--no-terminal-output`` skips
that), and dropped.  Reported, with the target beside each:

- key latency (max, p99, median; target: max <= 100 ms);
- events per second, wall time, CPU time of the TUI process / wall time (target < 1);
- frames composed, table rows redrawn, cells updated one by one, and the app's
  messages, against events;
- peak RSS of the process that ran it (its own ``VmHWM``, see ``bench/own_rss.py``;
  target < 200 MB);
- "no event lost": every row of the dashboard's table equals the store (state, try,
  AMC execution id), and so does the header (done count, counts by state).

To explain the key latency it also prints the event loop's lag (how late a 10 ms
sleep wakes), the garbage collector's pauses, and the time spent in the TUI's parts
(frames, the dashboard's rows and header, the events applied, ...: those functions
are wrapped on their classes in the child process to time them; nothing is replaced).

Then the finished batch is opened from the history screen OPENS times (``enter`` on
it) and the time to the first frame of its dashboard showing every row it has room
for is reported (target 100 ms), with where it went; and the time until all its rows
are in the table (the dashboard adds the rows out of sight just after its first
frame; polled every 10 ms).  Each run is its own child process; figures are medians
over the runs (and the worst run for the key latency).  ``--profile FILE`` writes a
cProfile of the first run's child (the event loop's thread) to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w

KEY_TARGET = 0.100
CPU_TARGET = 1.0
RSS_TARGET_MB = 200.0
OPEN_TARGET = 0.100
KEY_INTERVAL = 0.050
KEY_GIVE_UP = 10.0
SQL = "SELECT campaign, SUM(impressions) FROM dsp_impressions GROUP BY 1"


def verdict(value: float, target: float, *, below: bool = False) -> str:
    met = value < target if below else value <= target
    return f"{value / target:.2f} of target: {'met' if met else 'NOT MET'}"


def sim_knobs(n: int) -> dict[str, Any]:
    """A fault-free simulator with ``n`` instances; each execution lasts 5 ms real."""
    return {
        "time_scale": 1000.0,
        "duration_min": 5.0,
        "duration_max": 5.0,
        "retry_after": 0.0,
        "instances_page_size": 100,
        "instances": [
            {"instance_id": f"amcload{k:05d}", "instance_name": f"Load instance {k:05d}"}
            for k in range(n)
        ],
    }


# --- the measurement (child process) ----------------------------------------------------


class Frames:
    """Every frame the app composes, and key presses timed to the frame that shows them.

    Wraps the app's ``_display``, where every frame goes to the terminal (headless, it is
    composed and then dropped; with ``terminal_output`` it is also turned into the
    terminal's escape sequences, as a real driver would before writing them).
    :meth:`press` may be called from any thread: it posts the key as the terminal
    driver's input thread does and returns once a frame composed with ``shown()`` true
    (the effect visible) was displayed, with the time since the key was sent.
    """

    def __init__(self, app: Any, *, terminal_output: bool) -> None:
        from textual._compositor import CompositorUpdate

        self.app = app
        self.count = 0
        self.output_bytes = 0
        self._wanted: Callable[[], bool] | None = None
        self._sent = self.sent_at = 0.0
        self._seen = 0.0
        self._answered = threading.Event()
        display = app._display

        def displayed(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is None:
                return
            self.count += 1
            if terminal_output and isinstance(renderable, CompositorUpdate):
                self.output_bytes += len(renderable.render_segments(app.console))
            wanted = self._wanted
            if wanted is not None and _safely(wanted):
                self._seen = time.perf_counter()
                self._wanted = None
                self._answered.set()

        app._display = displayed

    def press(self, key: str, character: str | None, shown: Callable[[], bool]) -> float | None:
        """Send ``key``; seconds until ``shown()`` was on a frame (None: not in time)."""
        from textual import events

        self._answered.clear()
        event = events.Key(key, character)
        event.set_sender(self.app)
        self._sent = self.sent_at = time.perf_counter()
        self._wanted = shown
        self.app._driver.send_message(event)
        if not self._answered.wait(KEY_GIVE_UP):
            self._wanted = None
            return None
        return self._seen - self._sent

    async def apress(self, key: str, character: str | None, shown: Callable[[], bool]) -> float:
        took = await asyncio.to_thread(self.press, key, character, shown)
        if took is None:
            raise SystemExit(f"{key}: nothing shown in {KEY_GIVE_UP} s")
        return took


def rows_in_sight(app: Any, n: int) -> bool:
    """Whether the screen is a dashboard showing as many rows as its table can show
    (all ``n`` if they fit): the dashboard as the operator sees it.  The rows out of
    sight may come a moment later (the dashboard adds them after its first frame)."""
    from amc_tui.tui.screens.dashboard import DashboardScreen

    screen = app.screen
    if not isinstance(screen, DashboardScreen):
        return False
    table = screen.table
    in_sight = table.size.height - table.header_height
    return in_sight > 0 and table.row_count >= min(n, in_sight)


def _safely(shown: Callable[[], bool]) -> bool:
    from textual.css.query import NoMatches

    try:
        return shown()
    except NoMatches:  # a screen still being composed
        return False


class KeyProbe(threading.Thread):
    """Presses ``down`` then ``up`` (the cursor between rows 0 and 1) about every 50 ms."""

    def __init__(self, frames: Frames, table: Any) -> None:
        super().__init__(name="key-probe", daemon=True)
        self.frames = frames
        self.table = table
        self.latencies: list[float] = []
        self.when: list[float] = []
        self.missed = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        key, target = "down", 1
        while not self._stopping.is_set():
            began = time.perf_counter()
            took = self.frames.press(key, None, lambda t=target: self.table.cursor_row == t)  # type: ignore[misc]
            if took is None:
                self.missed += 1
            else:
                self.latencies.append(took)
                self.when.append(began)
                key, target = ("up", 0) if key == "down" else ("down", 1)
            self._stopping.wait(max(0.0, KEY_INTERVAL - (time.perf_counter() - began)))

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.to_thread(self.join)  # a press in flight is answered by a frame


class LoopLag:
    """How late the event loop runs a task that asked to wake 10 ms on: what each hop
    of a key's way (driver, app, screen, table, frame) may wait for."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.when: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(time.perf_counter() - began - 0.01)
            self.when.append(began)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class GcPauses:
    """The cyclic garbage collector's pauses (they stop the event loop too)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._began))

    def start(self) -> None:
        import gc

        gc.callbacks.append(self)

    def stop(self) -> None:
        import gc

        gc.callbacks.remove(self)


class Stopwatch:
    """Wall time spent in chosen functions of the app, by label (wrapped on their
    classes in this process only; nested calls are not double-counted per label)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return
        seconds, calls = self.seconds, self.calls

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - began
                calls[label] += 1

        @functools.wraps(original)
        async def atimed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - began
                calls[label] += 1

        setattr(owner, name, atimed if inspect.iscoroutinefunction(original) else timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def watch_the_app(stopwatch: Stopwatch) -> None:
    """Time the parts of the TUI the load goes through (see :class:`Stopwatch`)."""
    from textual.screen import Screen

    from amc_tui.tui.app import AmcApp
    from amc_tui.tui.screens.dashboard import DashboardScreen
    from amc_tui.tui.widgets.running_bar import RunningBar

    stopwatch.wrap(Screen, "_compositor_refresh", "frames (compose + terminal output)")
    stopwatch.wrap(DashboardScreen, "update_rows", "dashboard rows")
    stopwatch.wrap(DashboardScreen, "refresh_header", "dashboard header")
    stopwatch.wrap(DashboardScreen, "tick", "dashboard clock tick")
    stopwatch.wrap(RunningBar, "refresh_bar", "running bar")
    stopwatch.wrap(AmcApp, "track", "open: store read + live batch")
    stopwatch.wrap(DashboardScreen, "compose", "open: compose")
    stopwatch.wrap(DashboardScreen, "rebuild_rows", "open: rows added")
    stopwatch.wrap(DashboardScreen, "on_mount", "open: on_mount")
    try:
        from amc_tui.tui.updates import LiveUpdates
    except ImportError:  # the code before events were coalesced
        return
    stopwatch.wrap(LiveUpdates, "on_event", "events applied to the live batch")
    stopwatch.wrap(LiveUpdates, "flush", "screens told")


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def wait_until(condition: Callable[[], object], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not _safely(condition):  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def compare_with_store(screen: Any, stored: Any, max_attempts: int) -> list[str]:
    """Differences between the dashboard (table rows and header) and the stored batch."""
    from amc_tui.tui.format import execution_state

    table = screen.table
    problems: list[str] = []
    if table.row_count != len(stored.executions):
        problems.append(f"{table.row_count} rows for {len(stored.executions)} executions")
    for ex in stored.executions:
        key = str(ex.id)
        if key not in table.rows:
            problems.append(f"execution {ex.id}: no row")
            continue
        state, _instance, tries, _time, amc, _message = (str(c) for c in table.get_row(key))
        want_try = "-" if ex.attempts == 0 else f"{ex.attempts}/{max_attempts}"
        want_amc = ex.amc_execution_id or "-"
        if state != execution_state(ex.status).plain:
            problems.append(f"execution {ex.id}: state {state!r}, stored {ex.status.value}")
        if tries != want_try:
            problems.append(f"execution {ex.id}: try {tries!r}, stored {want_try}")
        if not amc or not want_amc.startswith(amc) or len(amc) < min(8, len(want_amc)):
            problems.append(f"execution {ex.id}: AMC id {amc!r}, stored {want_amc}")
    counts = stored.counts()
    done = counts.succeeded + counts.failed + counts.cancelled
    progress = str(screen.query_one("#progress-text").render())
    if f"{done}/{counts.total} done" not in progress:
        problems.append(f"header {progress!r}, stored {done}/{counts.total} done")
    shown_counts = str(screen.query_one("#counts").render())
    if f"{counts.succeeded} succeeded" not in shown_counts:
        problems.append(f"counts {shown_counts!r}, stored {counts.succeeded} succeeded")
    return problems


def sim_profile(base_url: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Config keys making the simulator at ``base_url`` the default profile (demo
    credentials), and the environment holding their secrets."""
    from amc_tui.amc.simulator import (
        DEMO_ADVERTISER_ID,
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DEMO_MARKETPLACE_ID,
        DEMO_REFRESH_TOKEN,
        TOKEN_PATH,
    )

    profile = {
        "api_url": base_url,
        "token_url": base_url + TOKEN_PATH,
        "client_id": DEMO_CLIENT_ID,
        "advertiser_id": DEMO_ADVERTISER_ID,
        "marketplace_id": DEMO_MARKETPLACE_ID,
    }
    secrets = {"AMC_CLIENT_SECRET": DEMO_CLIENT_SECRET, "AMC_REFRESH_TOKEN": DEMO_REFRESH_TOKEN}
    return {"default_profile": "sim", "profiles": {"sim": profile}}, secrets


async def measure(opts: argparse.Namespace) -> dict[str, Any]:
    from amc_tui.amc.simulator import AmcSimulator, SimulatorConfig
    from amc_tui.config_models import HttpSettings
    from amc_tui.domain import TimeWindow
    from amc_tui.engine.validation import build_batch, build_query
    from amc_tui.settings import ensure_data_dir, load_settings
    from amc_tui.tui.app import AmcApp
    from amc_tui.tui.screens.dashboard import DashboardScreen
    from amc_tui.tui.screens.history import HistoryScreen
    from amc_tui.tui.screens.instances import InstancesScreen

    n, concurrency = opts.executions, opts.concurrency
    scratch = Path(opts.scratch)
    doc: dict[str, Any] = {
        "engine": {
            "max_concurrent_executions": concurrency,
            "max_batch_size": max(1000, n),
            "retry_delay_base": 0.002,
            "poll_interval_min": 0.002,
            "poll_interval_max": 0.06,
        },
    }
    pool = HttpSettings()
    if concurrency > pool.max_connections:
        doc["http"] = {"max_connections": concurrency, "max_keepalive_connections": concurrency}
    env: dict[str, str] = {}
    if opts.base_url:
        profile, env = sim_profile(opts.base_url)
        doc |= profile
    config = scratch / "config.toml"
    config.write_text(tomli_w.dumps(doc))
    settings = load_settings(
        config=config, data_dir=scratch / "data", demo=not opts.base_url, env=env
    )
    ensure_data_dir(settings.paths)
    simulator = None
    if not opts.base_url:
        simulator = AmcSimulator(SimulatorConfig.reliable(**sim_knobs(n)))
    stopwatch = Stopwatch()
    watch_the_app(stopwatch)
    app = AmcApp(settings, simulator=simulator, offer_resume=False)
    frames = Frames(app, terminal_output=opts.terminal_output)
    messages: Counter[str] = Counter()
    events: Counter[str] = Counter()
    event_times: list[float] = []
    cells = 0

    def hook(message: Any) -> None:
        if type(message).__module__ == "amc_tui.tui.messages":
            messages[type(message).__name__] += 1

    def on_event(event: Any) -> None:
        events[type(event).__name__] += 1
        event_times.append(time.perf_counter())

    width, height = opts.size
    async with app.run_test(size=(width, height), message_hook=hook) as pilot:
        await wait_until(
            lambda: isinstance(app.screen, InstancesScreen) and app.screen.table.row_count > 0,
            120,
            "the instances",
        )
        await pilot.pause(1.0)  # the instances screen settles (its table measures its rows)
        known = await app.services.instances()
        batch, _ = build_batch(
            refs=[i.instance_id for i in known[:n]],
            known=known,
            query=build_query(
                sql=SQL,
                time_window=TimeWindow(start="2024-05-01T00:00:00", end="2024-05-08T00:00:00"),
            ),
            engine=app.settings.engine,
            profile=app.settings.profile_name,
            name="dashboard load",
        )
        runner = app.services.runner
        assert runner is not None
        runner.events.add_listener(on_event)
        lag = LoopLag()
        gc_pauses = GcPauses()
        gc_pauses.start()
        stopwatch.reset()
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        lag.start()
        await app.launch(batch)
        screen = app.screen
        assert isinstance(screen, DashboardScreen), type(screen).__name__
        table = screen.table
        update_cell = table.update_cell

        def counted_update_cell(*args: Any, **kwargs: Any) -> None:
            nonlocal cells
            cells += 1
            update_cell(*args, **kwargs)

        table.update_cell = counted_update_cell  # type: ignore[method-assign]
        probe = KeyProbe(frames, table)
        probe.start()
        live = app.live[batch.id]
        await wait_until(lambda: live.status.is_terminal, 600, "the end of the batch")
        ended_wall, ended_cpu = time.perf_counter(), cpu_seconds()
        lag.stop()
        gc_pauses.stop()
        spent = dict(stopwatch.seconds)
        await wait_until(
            lambda: f"{n}/{n} done" in str(screen.query_one("#progress-text").render()),
            30,
            "the final header",
        )
        await pilot.pause(0.3)  # any late flush
        await probe.stop()
        wall, cpu = ended_wall - wall0, ended_cpu - cpu0
        frames_in_run = frames.count
        stored = await app.services.store.get_batch(batch.id)
        assert stored is not None
        problems = compare_with_store(screen, stored, app.services.max_attempts)

        # Open the finished batch from the history screen, RUNS times.
        opens: list[float] = []
        all_rows: list[float] = []
        open_parts: list[dict[str, float]] = []
        await pilot.press("escape")
        await wait_until(lambda: isinstance(app.screen, InstancesScreen), 30, "instances")
        for _ in range(opts.opens):
            await frames.apress(
                "h",
                "h",
                lambda: isinstance(app.screen, HistoryScreen) and app.screen.table.row_count > 0,
            )
            history = app.screen
            assert isinstance(history, HistoryScreen)
            assert history.highlighted_id() == batch.id, history.highlighted_id()
            await pilot.pause(0.3)
            stopwatch.reset()
            opens.append(await frames.apress("enter", "\r", lambda: rows_in_sight(app, n)))
            await wait_until(
                lambda: isinstance(app.screen, DashboardScreen) and app.screen.table.row_count == n,
                30,
                "every row",
            )
            all_rows.append(time.perf_counter() - frames.sent_at)
            open_parts.append(dict(stopwatch.seconds))
            await pilot.pause(0.3)
            await frames.apress("escape", None, lambda: isinstance(app.screen, HistoryScreen))
            await frames.apress("escape", None, lambda: isinstance(app.screen, InstancesScreen))
            await pilot.pause(0.2)

    first, last = (event_times[0], event_times[-1]) if event_times else (0.0, 0.0)
    return {
        "simulator": "process" if opts.base_url else "embedded",
        "keys": probe.latencies,
        "keys_at": [t - wall0 for t in probe.when],
        "keys_missed": probe.missed,
        "wall": wall,
        "cpu": cpu,
        "events": dict(events),
        "event_span": last - first,
        "frames": frames_in_run,
        "output_bytes": frames.output_bytes,
        "cells": cells,
        "messages": dict(messages),
        "problems": problems,
        "statuses": dict(Counter(ex.status.value for ex in stored.executions)),
        "opens": opens,
        "all_rows": all_rows,
        "open_parts": open_parts,
        "rss_self_mb": _self_rss_mb(),
        "loop_lag": lag.lags,
        "loop_lag_at": [t - wall0 for t in lag.when],
        "gc": gc_pauses.pauses,
        "spent": spent,
        "rows_redrawn": getattr(table, "rows_redrawn", None),
    }


def _self_rss_mb() -> float:
    """This process's own peak RSS (``own_rss``: ``wait4``'s figure also counts the
    parent's peak)."""
    from own_rss import inherited_floor_mb, own_peak_rss_mb

    own = own_peak_rss_mb()
    return inherited_floor_mb() if own is None else own


def child_main(opts: argparse.Namespace) -> None:
    if opts.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(asyncio.run, measure(opts))
        profiler.dump_stats(opts.profile)
    else:
        result = asyncio.run(measure(opts))
    Path(opts.result).write_text(json.dumps(result))


# --- the parent: the simulator process, the child, the report ---------------------------


class SimulatorProcess:
    """``amc-tui simulator --port 0`` in its own process, with the load knobs for ``n``
    instances or the ``knobs`` given."""

    def __init__(self, workdir: Path, n: int, knobs_given: dict[str, Any] | None = None) -> None:
        knobs = workdir / "knobs.toml"
        knobs.write_text(tomli_w.dumps(knobs_given or sim_knobs(n)))
        env = {**os.environ, "AMC_TUI_DATA_DIR": str(workdir / "sim-data")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "amc_tui", "simulator", "--port", "0", "--knobs", str(knobs)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert self.proc.stderr is not None
        self.base_url = ""
        lines: list[str] = []
        for line in self.proc.stderr:
            lines.append(line)
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if found:
                self.base_url = found.group(1)
            if "startup complete" in line:
                break
        if not self.base_url:
            self.proc.kill()
            raise SystemExit("the simulator did not start:\n" + "".join(lines))
        # Keep reading its log, so that a full pipe never blocks it.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def stop(self) -> float:
        """Stop it; the CPU seconds it used."""
        import signal

        self.proc.send_signal(signal.SIGINT)
        _pid, _status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = 0
        return usage.ru_utime + usage.ru_stime


def run_child(
    opts: argparse.Namespace, simulator: str, profile: str | None
) -> tuple[dict[str, Any], float, float | None]:
    """One measurement in a child process: its answer, its peak RSS (MB), and the
    simulator process's CPU seconds (None when embedded)."""
    with tempfile.TemporaryDirectory(prefix="amc-tui-bench-") as scratch:
        sim = SimulatorProcess(Path(scratch), opts.executions) if simulator == "process" else None
        result_file = Path(scratch) / "result.json"
        command = [
            sys.executable,
            __file__,
            "--child",
            "--scratch",
            scratch,
            "--result",
            str(result_file),
            "--executions",
            str(opts.executions),
            "--concurrency",
            str(opts.concurrency),
            "--size",
            f"{opts.size[0]}x{opts.size[1]}",
            "--opens",
            str(opts.opens),
        ]
        if sim is not None:
            command += ["--base-url", sim.base_url]
        if not opts.terminal_output:
            command.append("--no-terminal-output")
        if profile:
            command += ["--profile", profile]
        try:
            child = subprocess.Popen(command)
            _pid, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        finally:
            sim_cpu = sim.stop() if sim is not None else None
        if child.returncode != 0:
            raise SystemExit(f"the measurement failed (exit {child.returncode})")
        answer = json.loads(result_file.read_text())
        return answer, float(answer.get("rss_self_mb") or usage.ru_maxrss / 1024), sim_cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(simulator: str, runs: list[tuple[dict[str, Any], float, float | None]], n: int) -> None:
    def med(pick: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(pick(r) for r, _rss, _sim in runs)

    keys_max = [max(r["keys"]) for r, _, _ in runs]
    keys_p99 = [percentile(r["keys"], 0.99) for r, _, _ in runs]
    keys_med = [statistics.median(r["keys"]) for r, _, _ in runs]
    presses = [len(r["keys"]) for r, _, _ in runs]
    missed = sum(r["keys_missed"] for r, _, _ in runs)
    events = med(lambda r: sum(r["events"].values()))
    changes = med(lambda r: r["events"].get("ExecutionChanged", 0))
    rate = med(lambda r: sum(r["events"].values()) / max(1e-9, r["event_span"]))
    wall = med(lambda r: r["wall"])
    load = med(lambda r: r["cpu"] / r["wall"])
    frames = med(lambda r: r["frames"])
    cells = med(lambda r: r["cells"])
    rss = statistics.median(rss for _, rss, _ in runs)
    lost = [r["problems"] for r, _, _ in runs if r["problems"]]
    opens = [t for r, _, _ in runs for t in r["opens"]]
    messages: Counter[str] = Counter()
    for r, _, _ in runs:
        messages.update(r["messages"])
    where = (
        "simulator in its own process: the TUI process's CPU is the app, engine, store and "
        "HTTP client"
        if simulator == "process"
        else "simulator embedded: its CPU counts in the TUI process's"
    )
    print(f"{n} executions, {where}; {len(runs)} runs (medians; key max is the worst run)")
    print(
        f"  key latency: max {max(keys_max) * 1000:.0f} ms (runs: "
        f"{', '.join(f'{k * 1000:.0f}' for k in keys_max)}), p99 "
        f"{statistics.median(keys_p99) * 1000:.0f} ms, median "
        f"{statistics.median(keys_med) * 1000:.0f} ms over {statistics.median(presses):.0f} "
        f"presses a run, {missed} unanswered in {KEY_GIVE_UP:.0f} s  "
        f"{verdict(max(keys_max), KEY_TARGET)}"
    )
    for r, _, _ in runs:
        slowest = sorted(zip(r["keys"], r["keys_at"], strict=True), reverse=True)[:4]
        print(
            "    slowest keys of a run (latency at seconds after the launch): "
            + ", ".join(f"{k * 1000:.0f} ms at {at:.2f} s" for k, at in slowest)
        )
    print(
        f"  events: {events:.0f} ({changes:.0f} execution changes), {rate:.0f} events/s; "
        f"wall {wall:.2f} s from launch to the batch's end"
    )
    cpu_line = (
        f"  CPU of the TUI process / wall: {load:.2f}  {verdict(load, CPU_TARGET, below=True)}"
    )
    sims = [s for _, _, s in runs if s is not None]
    if sims:
        cpu_line += f"; simulator process {statistics.median(sims):.1f} CPU s"
    print(cpu_line)
    per_run = {k: v / len(runs) for k, v in messages.items()}
    shown = ", ".join(f"{k} {v:.0f}" for k, v in sorted(per_run.items())) or "none"
    redrawn = [r["rows_redrawn"] for r, _, _ in runs if r.get("rows_redrawn") is not None]
    rows_part = (
        f"rows redrawn {statistics.median(redrawn):.0f} "
        f"({statistics.median(redrawn) / max(1.0, events):.2f} per event), "
        if redrawn
        else ""
    )
    print(
        f"  frames composed {frames:.0f} ({frames / max(1.0, events):.3f} per event), "
        f"{rows_part}cells updated one by one {cells:.0f} "
        f"({cells / max(1.0, events):.2f} per event); app messages a run: {shown}"
    )
    lags = [r["loop_lag"] for r, _, _ in runs]
    print(
        "  event loop lag (a 10 ms sleep's lateness): max "
        f"{statistics.median(max(lag) for lag in lags) * 1000:.0f} ms, p99 "
        f"{statistics.median(percentile(lag, 0.99) for lag in lags) * 1000:.0f} ms, median "
        f"{statistics.median(statistics.median(lag) for lag in lags) * 1000:.1f} ms"
    )
    gcs = [r["gc"] for r, _, _ in runs]
    print(
        "  garbage collector: "
        + "; ".join(
            f"{len(g)} pauses, {sum(t for _, t in g) * 1000:.0f} ms in all, longest "
            f"{max((t for _, t in g), default=0) * 1000:.0f} ms "
            f"({sum(1 for gen, _ in g if gen == 2)} full)"
            for g in gcs
        )
    )
    labels = sorted({label for r, _, _ in runs for label in r["spent"]})
    if labels:
        parts = [
            f"{label} {statistics.median(r['spent'].get(label, 0.0) for r, _, _ in runs):.2f}"
            for label in labels
        ]
        print(f"  time in the TUI's parts during the run (s of {wall:.1f}): " + "; ".join(parts))
    print(
        f"  peak RSS of the TUI process {rss:.0f} MB (runs: "
        f"{', '.join(f'{r:.0f}' for _, r, _ in runs)})  {verdict(rss, RSS_TARGET_MB, below=True)}"
    )
    statuses = runs[0][0]["statuses"]
    print(
        f"  no event lost: {'yes' if not lost else 'NO'} (every row equals the store; "
        f"final states {statuses})"
    )
    for problems in lost:
        for problem in problems[:10]:
            print(f"    {problem}")
    if opens:
        o = statistics.median(opens)
        print(
            f"  enter on the history -> dashboard of {n} rows drawn, every row in sight: "
            f"median {o * 1000:.0f} ms, worst {max(opens) * 1000:.0f} ms over {len(opens)} "
            f"opens  {verdict(o, OPEN_TARGET)}"
        )
        every = [t for r, _, _ in runs for t in r["all_rows"]]
        print(
            f"    all {n} rows in the table: median {statistics.median(every) * 1000:.0f} ms, "
            f"worst {max(every) * 1000:.0f} ms"
        )
        parts = [p for r, _, _ in runs for p in r["open_parts"]]
        labels = sorted({label for p in parts for label in p})
        print(
            "    of which (median ms): "
            + "; ".join(
                f"{label} {statistics.median(p.get(label, 0.0) for p in parts) * 1000:.0f}"
                for label in labels
            )
        )


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=5,
        help="executions in flight (default 5: engine.max_concurrent_executions's default)",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--opens", type=int, default=3, help="opens of the finished batch a run")
    parser.add_argument("--simulator", choices=("process", "embedded", "both"), default="both")
    parser.add_argument("--size", type=parse_size, default=(120, 40))
    parser.add_argument("--no-terminal-output", dest="terminal_output", action="store_false")
    parser.add_argument("--profile", help="write a cProfile of the first run to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        child_main(opts)
        return
    kinds = ["process", "embedded"] if opts.simulator == "both" else [opts.simulator]
    print(
        f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
        f"concurrency {opts.concurrency}, headless {opts.size[0]}x{opts.size[1]}"
    )
    for kind in kinds:
        runs = []
        for index in range(opts.runs):
            profile = opts.profile if index == 0 and kind == kinds[0] else None
            runs.append(run_child(opts, kind, profile))
        report(kind, runs, opts.executions)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
