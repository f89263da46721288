"""The command line: argument parsing and exit codes, nothing else.

Each subcommand hands its parsed arguments to a function elsewhere and turns the
outcome into an exit code (DESIGN section 7): 0 success, 1 finished with
failures, 2 invalid input, 3 configuration or credentials error, 4 cancelled,
130 interrupted by Ctrl+C; 143 and 129 when SIGTERM or SIGHUP stopped a run (the
batch is left ``interrupted``, resumable).  Global options are accepted before or
after the subcommand.  Headless commands never import textual.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from amc_tui import __version__
from amc_tui.errors import AmcTuiError, ConfigError, CredentialsError, InputError, StoreError

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_INVALID_INPUT = 2
EXIT_CONFIG = 3
EXIT_CANCELLED = 4
EXIT_INTERRUPTED = 130

PROG = "amc-tui"


def _add_global_options(parser: argparse.ArgumentParser, *, in_subcommand: bool) -> None:
    """The options every command takes.  In a subcommand they default to 'not given'
    so that a value given before the subcommand is not overwritten."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_subcommand else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--demo",
        action="store_true",
        default=default(False),
        help="use the embedded AMC simulator, whatever the config says",
    )
    group.add_argument("--profile", metavar="NAME", default=default(None), help="config profile")
    group.add_argument(
        "--config",
        metavar="PATH",
        type=Path,
        default=default(None),
        help="config file (default: $AMC_TUI_CONFIG or the platform config dir)",
    )
    group.add_argument(
        "--data-dir",
        metavar="PATH",
        type=Path,
        default=default(None),
        help="history, logs and state (default: $AMC_TUI_DATA_DIR or the platform data dir)",
    )


def _number(
    what: str, kind: Callable[[str], float], low: float, high: float, *, exclude_low: bool = False
) -> Callable[[str], Any]:
    """An argparse type: ``kind`` of ``value`` within ``low..high``, or a message naming it."""

    def parse(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {value!r} is not a number") from None
        if not low <= number <= high or (exclude_low and number == low):
            bounds = f"above {low:g}" if high == float("inf") else f"within {low:g}..{high:g}"
            raise argparse.ArgumentTypeError(f"{what} {value} is not {bounds}")
        return number

    return parse


_port = _number("port", int, 0, 65535)
_concurrency = _number("--max-concurrency", int, 1, 100)
_limit = _number("--limit", int, 1, 100_000)
_rate = _number("rate", float, 0.0, 1.0)
_positive = _number("value", float, 0.0, float("inf"), exclude_low=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run one Amazon Marketing Cloud query on many AMC instances at once.",
        epilog="With no AMC profile configured, every command uses the embedded AMC simulator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser, in_subcommand=False)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="the TUI shows the history and dashboards only: no launch, cancel or resume",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _add_batch_commands(commands)
    _add_results_command(commands)

    instances = commands.add_parser(
        "instances",
        help="list the AMC instances of the active profile",
        description="List the AMC instances of the active profile (cached in the history "
        "store; --refresh asks AMC again).",
    )
    instances.add_argument("--refresh", action="store_true", help="ask AMC for the list again")
    instances.add_argument("--json", action="store_true", help="print one JSON list on stdout")
    _add_global_options(instances, in_subcommand=True)

    simulator = commands.add_parser(
        "simulator",
        help="serve the embedded AMC simulator on a real port",
        description="Serve the AMC simulator over HTTP (for scripts, tests and trying a "
        "real-socket profile).  It accepts the demo credentials it prints.  No faults are "
        "injected unless the rate options ask for them.",
    )
    simulator.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default %(default)s)"
    )
    simulator.add_argument("--port", type=_port, default=8765, help="port (default %(default)s)")
    simulator.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    simulator.add_argument(
        "--time-scale",
        type=_positive,
        default=None,
        help="simulated seconds per real second (default: the simulator's)",
    )
    for flag, dest in (
        ("--throttle-rate", "throttle_rate"),
        ("--server-error-rate", "server_error_rate"),
        ("--lost-answer-rate", "lost_answer_rate"),
        ("--failure-rate", "failure_rate"),
    ):
        simulator.add_argument(flag, dest=dest, type=_rate, default=None, help="0..1")
    simulator.add_argument(
        "--knobs",
        type=Path,
        metavar="PATH",
        default=None,
        help="a TOML file of any simulator knobs (latency_max = 0.2, duration_min = 30, ...); "
        "the options above win over it",
    )
    _add_global_options(simulator, in_subcommand=True)
    return parser


def _add_batch_commands(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run one query on many instances",
        description="Run one AMC query on many instances: at most --max-concurrency "
        "executions in flight, transient errors retried.  Ctrl+C cancels the batch (also on "
        "AMC); a second Ctrl+C leaves it interrupted, for `amc-tui resume`.",
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--sql-file", type=Path, metavar="PATH", help="ad hoc SQL to run")
    source.add_argument("--workflow-id", metavar="ID", help="a saved workflow on each instance")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--instances",
        action="append",
        metavar="ID[,ID...]",
        help="AMC instance ids or amc-tui instance UUIDs (repeatable)",
    )
    which.add_argument("--all-instances", action="store_true", help="every instance of the profile")
    run.add_argument("--start", metavar="YYYY-MM-DDTHH:MM:SS", help="time window start")
    run.add_argument("--end", metavar="YYYY-MM-DDTHH:MM:SS", help="time window end")
    run.add_argument(
        "--window",
        metavar="TYPE",
        help="a relative AMC time window instead of --start/--end: MOST_RECENT_DAY, "
        "MOST_RECENT_WEEK, CURRENT_MONTH, PREVIOUS_MONTH or ALL (default: the 7 days "
        "ending 14 days ago, AMC's data lag)",
    )
    run.add_argument(
        "--param", action="append", metavar="KEY=VALUE", help="a query parameter (repeatable)"
    )
    run.add_argument(
        "--param-file",
        type=Path,
        metavar="FILE.toml",
        help='parameters: a [params] table and [instances."AMC-ID"] override tables',
    )
    run.add_argument("--name", metavar="TEXT", help="a name for the batch")
    run.add_argument(
        "--max-concurrency",
        type=_concurrency,
        metavar="N",
        help="executions in flight at once (default: engine.max_concurrent_executions)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_global_options(run, in_subcommand=True)

    history = commands.add_parser("history", help="list past batches, newest first")
    history.add_argument("--limit", type=_limit, default=20, metavar="N", help="default 20")
    history.add_argument("--json", action="store_true", help="print one JSON list on stdout")
    _add_global_options(history, in_subcommand=True)

    show = commands.add_parser("show", help="one batch and its executions")
    show.add_argument("batch_id", metavar="BATCH_ID")
    show.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_global_options(show, in_subcommand=True)

    cancel = commands.add_parser(
        "cancel",
        help="cancel a batch (also one running in another process)",
        description="Cancel a batch: queued executions are dropped and running ones cancelled "
        "on AMC, by the process running the batch or, if none does, by this one.",
    )
    cancel.add_argument("batch_id", metavar="BATCH_ID")
    _add_global_options(cancel, in_subcommand=True)

    resume = commands.add_parser(
        "resume",
        help="finish an interrupted batch",
        description="Finish an interrupted batch: executions on AMC are followed, queued "
        "ones submitted, and ones whose create answer is unknown settled with AMC's list "
        "call (adopted, or submitted).",
    )
    resume.add_argument("batch_id", metavar="BATCH_ID")
    resume.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_global_options(resume, in_subcommand=True)


def _add_results_command(commands: Any) -> None:
    results = commands.add_parser(
        "results",
        help="download a batch's results; --merge writes them into one CSV",
        description="Download the results of every succeeded execution of a batch to "
        "DATA_DIR/results/BATCH_ID/INSTANCE_ID/ (what is already there is kept; a download "
        "cut short resumes).  --merge writes one CSV with instance_name and instance_id "
        "columns first; every result must have the same columns.",
    )
    results.add_argument("batch_id", metavar="BATCH_ID")
    results.add_argument(
        "--merge", metavar="OUT.csv", help="also write all results into this CSV (replaced whole)"
    )
    results.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_global_options(results, in_subcommand=True)


_BATCH_COMMANDS = {
    "run": "run_command",
    "resume": "resume_command",
    "cancel": "cancel_command",
    "show": "show_command",
}


def _run_async(factory: Callable[[], Coroutine[Any, Any, int]]) -> int:
    import asyncio  # here: `--help` and argument errors need no event loop

    return asyncio.run(factory())


def _error_exit_code(error: AmcTuiError) -> int:
    if isinstance(error, InputError):
        return EXIT_INVALID_INPUT
    if isinstance(error, ConfigError | CredentialsError | StoreError):
        return EXIT_CONFIG
    return EXIT_FAILURES


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from amc_tui.commands import tui_command

            return tui_command(args)
        if args.command == "instances":
            from amc_tui.commands import instances_command

            return _run_async(lambda: instances_command(args))
        if args.command == "history":
            from amc_tui.history_command import history_command  # no event loop: it starts fast

            return history_command(args)
        if args.command in _BATCH_COMMANDS:
            from amc_tui import batch_commands

            command = getattr(batch_commands, _BATCH_COMMANDS[args.command])
            return _run_async(lambda: command(args))
        if args.command == "results":
            from amc_tui.results_command import results_command

            return _run_async(lambda: results_command(args))
        if args.command == "simulator":
            from amc_tui.commands import simulator_command

            return simulator_command(args)
        parser.error(f"unknown command {args.command!r}")
    except AmcTuiError as error:
        hint = f" (details in {error.log_file})" if error.log_file and error.detail else ""
        print(f"{PROG}: error: {error.user_message}{hint}", file=sys.stderr)
        return _error_exit_code(error)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
