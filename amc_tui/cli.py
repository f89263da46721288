"""The command line: argument parsing and exit codes, nothing else.

Each subcommand hands its parsed arguments to a function elsewhere and turns the
outcome into an exit code (DESIGN section 7): 0 success, 1 finished with
failures, 2 invalid input, 3 configuration or credentials error, 4 cancelled,
130 interrupted.  Global options are accepted before or after the subcommand.
Headless commands never import textual.
"""

from __future__ import annotations

import argparse
import asyncio
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    _add_global_options(simulator, in_subcommand=True)
    return parser


def _run_async(factory: Callable[[], Coroutine[Any, Any, int]]) -> int:
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
            parser.print_help(sys.stderr)
            print("\nThe terminal UI is not built yet; try `amc-tui instances`.", file=sys.stderr)
            return EXIT_INVALID_INPUT
        if args.command == "instances":
            from amc_tui.commands import instances_command

            return _run_async(lambda: instances_command(args))
        if args.command == "simulator":
            from amc_tui.commands import simulator_command

            return simulator_command(args)
        parser.error(f"unknown command {args.command!r}")
    except AmcTuiError as error:
        hint = f" (details in {error.log_file})" if error.log_file else ""
        print(f"{PROG}: error: {error.user_message}{hint}", file=sys.stderr)
        return _error_exit_code(error)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
