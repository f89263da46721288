"""The headless commands: each takes parsed arguments, does the work, returns an exit code.

:mod:`amc_tui.cli` parses and maps errors to exit codes; this module wires
settings, the log file, the store, the AMC client and the engine together for
one command, and prints its result.  It never imports textual.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from amc_tui import output
from amc_tui.errors import AmcTuiError, InputError
from amc_tui.logs import add_secrets, setup_logging
from amc_tui.settings import (
    LocalSettings,
    Paths,
    Settings,
    ensure_data_dir,
    load_local_settings,
    load_settings,
    resolve_paths,
)

if TYPE_CHECKING:  # `history` reads the file without the store's thread and event loop
    from amc_tui.store.history import HistoryStore

log = logging.getLogger(__name__)

DEMO_NOTICE = (
    "amc-tui: demo mode: no AMC profile is configured, so the embedded AMC simulator is used "
    "(see README: Configuring a real AMC account)"
)


def prepare(args: argparse.Namespace) -> Settings:
    """Settings from the global options; the log file started; demo mode said plainly."""
    settings = load_settings(
        config=args.config, data_dir=args.data_dir, profile=args.profile, demo=args.demo
    )
    secrets = settings.credentials.values() if settings.credentials is not None else ()
    _start(settings.paths, secrets, demo=settings.demo)
    return settings


def prepare_local(args: argparse.Namespace) -> LocalSettings:
    """:func:`prepare` for a command that speaks to no AMC (``history``): the same
    checks and start, without loading the config file's models when there is no file."""
    local = load_local_settings(
        config=args.config, data_dir=args.data_dir, profile=args.profile, demo=args.demo
    )
    _start(local.paths, local.secrets, demo=local.demo)
    return local


def _start(paths: Paths, secrets: Iterable[str], *, demo: bool) -> None:
    """Secrets kept out of the log, the data dir and the log file ready, demo mode said."""
    add_secrets(*secrets)
    ensure_data_dir(paths)
    setup_logging(paths.log_file)
    if demo:
        print(DEMO_NOTICE, file=sys.stderr)


async def open_history(settings: Settings | LocalSettings) -> HistoryStore:
    """The history store, with the batches of processes that are gone marked interrupted.

    Every command opens the store here, so ``history`` and ``show`` tell the truth
    after a crash, and each batch recovered is named once on stderr.
    """
    from amc_tui.engine.recovery import open_recovered

    store, recovered = await open_recovered(settings.paths.history_db, settings.paths.lock_dir)
    for summary in recovered:
        say(
            f"amc-tui: batch {summary.id} was left unfinished by a process that has ended; "
            f"it is now interrupted (amc-tui resume {summary.id} finishes it)"
        )
    return store


def say(text: str) -> None:
    """A line for the operator on stderr (never stdout: ``--json`` owns it)."""
    with contextlib.suppress(OSError):  # the terminal may be gone; the log has the story
        print(text, file=sys.stderr, flush=True)


@contextmanager
def logged_errors(settings: Settings | LocalSettings) -> Iterator[None]:
    """Log any amc-tui error's detail and tell it where, for the operator's hint."""
    try:
        yield
    except AmcTuiError as error:
        log.error("%s", error.log_text())
        error.log_file = str(settings.paths.log_file)
        raise


async def instances_command(args: argparse.Namespace) -> int:
    """``amc-tui instances``: the profile's instances, from the cache or from AMC."""
    settings = prepare(args)
    with logged_errors(settings):
        return await _instances(args, settings)


async def _instances(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: commands that only read the history never load HTTP or the simulator.
    from amc_tui.amc.connection import open_client_for
    from amc_tui.engine.instances import InstanceCatalog

    async with await open_history(settings) as store:
        catalog = InstanceCatalog.for_settings(store, settings)
        async with open_client_for(settings) as client:
            instances = await catalog.load(client, refresh=args.refresh)
    if args.json:
        print(output.dumps([output.instance_json(i) for i in instances]))
    else:
        print(output.instances_table(instances))
        print(f"\n{len(instances)} instances (profile {settings.profile_name})", file=sys.stderr)
    return 0


def tui_command(args: argparse.Namespace) -> int:
    """``amc-tui`` with no command: the terminal UI (it needs a terminal)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InputError(
            "the terminal UI needs a terminal on stdin and stdout; for scripts use "
            "`amc-tui run ... --json` (see amc-tui --help)"
        )
    settings = prepare(args)
    with logged_errors(settings):
        from amc_tui.tui.app import run_app

        return run_app(settings, read_only=args.read_only)


def simulator_command(args: argparse.Namespace) -> int:
    """``amc-tui simulator``: serve the AMC simulator on a real port until Ctrl+C."""
    from pydantic import ValidationError

    from amc_tui.amc.simulator import SimulatorConfig
    from amc_tui.amc.simulator.server import serve

    knobs: dict[str, object] = read_knobs(args.knobs) if args.knobs is not None else {}
    knobs["seed"] = args.seed
    for name in (
        "time_scale",
        "throttle_rate",
        "server_error_rate",
        "lost_answer_rate",
        "failure_rate",
    ):
        value = getattr(args, name)
        if value is not None:
            knobs[name] = value
    try:
        # Served for scripts and tests: no injected faults unless asked for.
        config = SimulatorConfig.reliable(**knobs)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "knobs"
        raise InputError(f"simulator option {where}: {first['msg']}") from None
    paths = resolve_paths(data_dir=args.data_dir)
    ensure_data_dir(paths)
    setup_logging(paths.log_file)
    serve(config, args.host, args.port)
    return 0


def read_knobs(path: Path) -> dict[str, object]:
    """The simulator knobs in the TOML file ``path`` (checked by SimulatorConfig later)."""
    import tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(f"--knobs {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"--knobs {path}: is a directory") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"--knobs {path}: not valid TOML ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--knobs {path}: cannot be read ({error})") from None
