"""How fast amc-tui starts: whole processes, spawned as an operator would (issue 6, target 4).

    python bench/startup.py [--runs 10] [--batches 300] [--imports]

Spawns the ``amc-tui`` entry point installed next to the running Python, RUNS times
each, and prints the median and max wall time (spawn to exit) and the peak RSS of:

1. ``amc-tui --help`` (target: whole process <= 0.3 s);
2. ``amc-tui history`` on an empty data dir (target <= 0.3 s);
3. ``amc-tui history`` on a data dir holding BATCHES finished batches, made by the
   real store (``bench/seed_history.py``) (target <= 0.3 s); and the same with an AMC
   profile in a config file (validated with pydantic, as every command does);
4. ``amc-tui`` (the TUI, demo mode: no config, the embedded simulator) on a real
   pseudo-terminal, from spawn until the instances screen shows a demo instance's
   name in the raw terminal output (target <= 1 s); then Ctrl+Q, and the time to exit.

Every process gets a throwaway HOME, XDG dirs and data dir, and none of the
operator's AMC_* variables, so nothing of the user's is read or touched.  Bytecode is
cached as in an installed package (pip compiles it), in a throwaway
``PYTHONPYCACHEPREFIX``, even where ``PYTHONDONTWRITEBYTECODE`` is set; ``--no-pyc``
measures instead the way a source checkout runs with that variable set and no
``__pycache__``: every module of amc-tui compiled again at each start.  CPU time
(user + system) is printed too; on a shared machine it varies as much as wall time.
``--imports`` adds ``python -X importtime`` of ``history``: the modules that cost most.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from own_rss import inherited_floor_mb

BENCH = Path(__file__).resolve().parent
HEADLESS_TARGET = 0.3
TUI_TARGET = 1.0
CTRL_Q = "\x11"
PROFILE = """[profiles.default]
client_id = "amzn1.application-oa2-client.bench"
advertiser_id = "ENTITY1AA1AA11AAA1"
"""
PROFILE_SECRETS = {"AMC_CLIENT_SECRET": "bench-secret", "AMC_REFRESH_TOKEN": "Atzr|bench"}
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")


@dataclass
class Run:
    wall: float  # seconds, spawn to the event measured
    cpu: float  # user + system seconds of the whole process
    rss_mb: float  # peak resident set size
    code: int


@dataclass
class Home:
    """A throwaway HOME, XDG dirs and data dir, and the environment pointing at them."""

    root: Path
    data_dir: Path
    env: dict[str, str]


def demo_names() -> list[str]:
    """The names of the demo account's instances (read in a child: see :func:`seed`)."""
    code = (
        "import json\n"
        "from amc_tui.amc.simulator import SimulatorConfig\n"
        "from amc_tui.amc.simulator.demo_data import demo_instances\n"
        "mine = SimulatorConfig().advertiser_id\n"
        "print(json.dumps([i.instance_name for i in demo_instances() if i.advertiser_id == mine]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names: list[str] = json.loads(done.stdout)
    return names


def seed(path: Path, batches: int) -> None:
    """A history of ``batches`` finished batches of 20 executions, by the real store.

    Made by ``bench/seed_history.py`` in a child process: this process imports nothing
    big, so that the peak RSS of the processes it forks is theirs, not its own.
    """
    subprocess.run(
        [
            sys.executable,
            str(BENCH / "seed_history.py"),
            str(path),
            f"--batches={batches}",
            f"--executions={batches * 20}",
            "--big=20",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def throwaway_home(root: Path, *, pycache: Path | None) -> Home:
    """``pycache``: where bytecode is cached; None to leave the environment's choice."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AMC_", "XDG_")) and key not in ("HOME", "COLUMNS", "LINES")
    }
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    for name in ("home", "config", "data", "cache", "state"):
        (root / name).mkdir(parents=True)
    env |= {
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "XDG_STATE_HOME": str(root / "state"),
    }
    return Home(root, root / "amc-data", env)


def _reap(proc: subprocess.Popen[bytes], *, block: bool = True) -> Run | None:
    """Reap ``proc`` with its own CPU time and peak RSS (os.wait4: this child only).

    None if ``block`` is false and it is still running.  ``wall`` is left for the caller.
    """
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(0.0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode)


def run_headless(argv: Sequence[str], env: dict[str, str]) -> Run:
    """One process to its end, its output thrown away; it must exit 0."""
    began = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.stdout, proc.stderr
    assert out is not None and err is not None
    errors = bytearray()
    drain = threading.Thread(target=lambda: errors.extend(err.read()), daemon=True)
    drain.start()
    out.read()
    run = _reap(proc)
    assert run is not None
    run.wall = time.perf_counter() - began
    drain.join()
    out.close()
    err.close()
    if run.code != 0:
        raise SystemExit(f"{' '.join(argv)} exited {run.code}:\n{errors.decode(errors='replace')}")
    return run


def _take_the_terminal() -> None:
    """In the child, after setsid: make stdin (the pty) its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``argv`` on a pty of 120x40 (its controlling terminal), all it draws collected."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.master = master
        self.began = time.perf_counter()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True,
            preexec_fn=_take_the_terminal,
            close_fds=True,
        )
        os.close(slave)
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b""
            with self._changed:
                self._raw.extend(chunk)
                self._changed.notify_all()
            if not chunk:
                return

    def text(self) -> str:
        with self._lock:
            raw = bytes(self._raw)
        return _ESCAPES.sub(b"", raw).decode("utf-8", errors="replace")

    def wait_for(self, found: Callable[[str], bool], timeout: float) -> float:
        """Seconds from spawn until ``found(screen text)``; fails if the app ends first."""
        deadline = time.perf_counter() + timeout
        with self._changed:
            while True:
                screen = _ESCAPES.sub(b"", bytes(self._raw)).decode("utf-8", errors="replace")
                if found(screen):
                    return time.perf_counter() - self.began
                ended = self.proc.returncode is not None or _reap(self.proc, block=False)
                if ended or time.perf_counter() > deadline:
                    raise SystemExit(
                        f"the TUI ended ({self.proc.returncode}) or timed out before showing "
                        f"the instances:\n{screen[-2000:]}"
                    )
                self._changed.wait(0.05)

    def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            _reap(self.proc)
        with contextlib.suppress(OSError):
            os.close(self.master)


def run_tui(argv: Sequence[str], env: dict[str, str], names: Sequence[str]) -> tuple[Run, float]:
    """Spawn to a demo instance's name on screen; then Ctrl+Q and the time it took to exit."""
    term = Terminal(argv, env)
    try:
        shown = term.wait_for(lambda screen: any(name in screen for name in names), timeout=30)
        time.sleep(0.3)  # let it finish the frame (and any start-up work) before quitting
        asked = time.perf_counter()
        os.write(term.master, CTRL_Q.encode())
        deadline = asked + 10
        while (run := _reap(term.proc, block=False)) is None:
            if time.perf_counter() > deadline:
                raise SystemExit("the TUI did not quit within 10 s of Ctrl+Q:\n" + term.text())
            time.sleep(0.01)
        quit_time = time.perf_counter() - asked
    finally:
        term.close()
    if run.code != 0:
        raise SystemExit(f"the TUI exited {run.code}:\n{term.text()[-2000:]}")
    run.wall = shown
    return run, quit_time


def report(label: str, runs: list[Run], target: float | None) -> None:
    """One figure's line; with no target it is a reference (what any command pays)."""
    walls = [r.wall for r in runs]
    median = statistics.median(walls)
    cpu = statistics.median(r.cpu for r in runs)
    rss = max(r.rss_mb for r in runs)
    if target is None:
        verdict = "reference, no target"
    else:
        met = "met" if median <= target else "NOT MET"
        verdict = f"target {target * 1000:.0f} ms: {met} ({median / target:.2f}x)"
    print(
        f"{label:34s} median {median * 1000:6.0f} ms  max {max(walls) * 1000:6.0f} ms  "
        f"cpu {cpu * 1000:5.0f} ms  rss {rss:5.1f} MB  {verdict}"
    )


def import_offenders(argv: Sequence[str], env: dict[str, str], top: int) -> None:
    """What the imports of ``amc-tui ARGV`` cost: by package (self times summed; amc_tui
    by module), then the modules of largest cumulative time.  One run, under
    ``-X importtime`` (which slows imports a little): shares, not exact figures."""
    python = str(Path(sys.executable))
    code = "import sys; from amc_tui.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [python, "-X", "importtime", "-c", code, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    rows: list[tuple[int, int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own_us, total_us, module_name = line[len("import time:") :].split("|")
        rows.append((int(total_us), int(own_us), module_name.rstrip()))
    depth_zero = sum(total for total, _, name in rows if not name.startswith("  "))
    print(
        f"\npython -X importtime, amc-tui {' '.join(argv)}: {depth_zero / 1000:.0f} ms of imports"
    )
    by_package: dict[str, int] = {}
    for _, own, name in rows:
        module = name.strip()
        package = module if module.startswith("amc_tui.") else module.split(".")[0]
        by_package[package] = by_package.get(package, 0) + own
    print(f"{'self':>10}  package (amc_tui by module)")
    for package, own in sorted(by_package.items(), key=lambda item: -item[1])[:top]:
        print(f"{own / 1000:8.1f}ms  {package}")
    print(f"\n{'cumulative':>12} {'self':>8}  module")
    for total, own, name in sorted(rows, reverse=True)[:top]:
        print(f"{total / 1000:10.1f}ms {own / 1000:6.1f}ms  {name.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each figure")
    parser.add_argument("--batches", type=int, default=300, help="batches of the full history")
    parser.add_argument("--imports", action="store_true", help="print importtime offenders")
    parser.add_argument(
        "--no-pyc",
        action="store_true",
        help="no bytecode cache of our own (a checkout with PYTHONDONTWRITEBYTECODE=1)",
    )
    args = parser.parse_args()

    entry = Path(sys.executable).parent / "amc-tui"
    if not entry.exists():
        raise SystemExit(f"{entry}: no amc-tui entry point next to {sys.executable}")
    names = demo_names()
    load = os.getloadavg()
    print(f"{entry}, {args.runs} runs each; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    with tempfile.TemporaryDirectory(prefix="amc-startup-") as scratch:
        pycache = None if args.no_pyc else Path(scratch) / "pycache"
        bytecode = (
            f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}, "
            "no cache of our own"
            if pycache is None
            else "bytecode cached (throwaway PYTHONPYCACHEPREFIX)"
        )
        print(bytecode)
        empty = throwaway_home(Path(scratch) / "empty", pycache=pycache)
        full = throwaway_home(Path(scratch) / "full", pycache=pycache)
        full.data_dir.mkdir()
        seed(full.data_dir / "history.db", args.batches)
        config = Path(scratch) / "config.toml"
        config.write_text(PROFILE, encoding="utf-8")
        configured = {**full.env, **PROFILE_SECRETS}
        tui = throwaway_home(Path(scratch) / "tui", pycache=pycache)
        print(
            "rss: each process's peak by wait4, which reads no less than this bench's own "
            f"({inherited_floor_mb():.1f} MB; see bench/own_rss.py)"
        )
        python = str(Path(sys.executable))
        commands: list[tuple[str, list[str], Home, float | None]] = [
            ("python -c pass", [python, "-c", "pass"], empty, None),
            (
                "python: import asyncio, pydantic",
                [python, "-c", "import asyncio, pydantic.main"],
                empty,
                None,
            ),
            ("amc-tui --help", [str(entry), "--help"], empty, HEADLESS_TARGET),
            (
                "history, empty data dir",
                [str(entry), "--data-dir", str(empty.data_dir), "history"],
                empty,
                HEADLESS_TARGET,
            ),
            (
                f"history, {args.batches} batches",
                [str(entry), "--data-dir", str(full.data_dir), "history"],
                full,
                HEADLESS_TARGET,
            ),
            (
                f"history, {args.batches} batches, a profile",
                [str(entry), "--config", str(config), "--data-dir", str(full.data_dir), "history"],
                Home(full.root, full.data_dir, configured),
                HEADLESS_TARGET,
            ),
        ]
        # Round after round of every command, so that a burst of load elsewhere on the
        # machine falls on all of them alike; the first round only warms the caches.
        runs: dict[str, list[Run]] = {label: [] for label, *_ in commands}
        for n in range(args.runs + 1):
            for label, argv, home, _ in commands:
                run = run_headless(argv, home.env)
                if n:
                    runs[label].append(run)
        for label, _, _, target in commands:
            report(label, runs[label], target)

        tui_runs: list[Run] = []
        quits: list[float] = []
        for n in range(args.runs + 1):
            data_dir = tui.root / f"data-{n}"  # a fresh data dir: a first start each time
            run, quit_time = run_tui([str(entry), "--data-dir", str(data_dir)], tui.env, names)
            if n:  # the first run only warms the caches
                tui_runs.append(run)
                quits.append(quit_time)
        report("TUI: demo instances on screen", tui_runs, TUI_TARGET)
        print(
            f"{'TUI: Ctrl+Q to exit':34s} median {statistics.median(quits) * 1000:6.0f} ms  "
            f"max {max(quits) * 1000:6.0f} ms  (cpu and rss above: the whole TUI run)"
        )
        if args.imports:
            import_offenders(["--data-dir", str(full.data_dir), "history"], full.env, top=25)


if __name__ == "__main__":
    main()
