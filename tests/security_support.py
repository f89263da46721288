"""Helpers for the security tests: secret markers, searching written files, screens as text.

:func:`new_secrets` makes credentials no other test uses, so finding one anywhere
means it leaked from this test.  :func:`leaks` searches files byte by byte (the
SQLite file and its ``-wal`` too) for each value in every form it could have been
written in: as is, URL-encoded (a form body echoed) and JSON-escaped.
:class:`RewritingProxy` is an ASGI app in front of the simulator that answers some
calls itself or rewrites the simulator's answers (custom error bodies).
:func:`svg_text` reads what a Textual screenshot shows.  :func:`serve`,
:func:`write_config`, :func:`amc_tui` (a subprocess with umask 0) and
:class:`InProcessCli` (``cli.main`` in this process, so argv may hold NUL) run
``amc-tui`` on a real profile of its own.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import sqlite3
import stat
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import tomli_w
from engine_support import SQL

from amc_tui.amc.simulator import TOKEN_PATH, AmcSimulator, SimInstance, SimulatorConfig
from amc_tui.amc.simulator.server import ThreadedServer
from amc_tui.cli import main
from amc_tui.logs import PrivateRotatingFileHandler, setup_logging

# --- secret markers ----------------------------------------------------------------------


@dataclass(frozen=True)
class SecretMarkers:
    """Credentials unique to one test (the ``|`` makes URL-encoding change them)."""

    client_secret: str
    refresh_token: str
    wrong_secret: str
    """A client secret the token endpoint refuses: a secret all the same."""

    def values(self) -> list[str]:
        return [self.client_secret, self.refresh_token, self.wrong_secret]


def new_secrets() -> SecretMarkers:
    tag = uuid.uuid4().hex
    return SecretMarkers(
        client_secret=f"csec-{tag}-client",
        refresh_token=f"Atzr|rtok-{tag}-refresh",
        wrong_secret=f"csec-{tag}-wrong",
    )


def issued_tokens(sim: AmcSimulator) -> list[str]:
    """Every access token the simulator's token endpoint handed out."""
    return list(sim._state.tokens)


# --- amc-tui with a profile of its own ------------------------------------------------

FAST_ENGINE = {
    "max_concurrent_executions": 3,
    "max_retry_attempts": 4,
    "retry_delay_base": 0.01,
    "poll_interval_min": 0.01,
    "poll_interval_max": 0.05,
}


def write_config(
    path: Path,
    base_url: str,
    secrets: SecretMarkers,
    *,
    mode: int = 0o600,
    engine: dict[str, Any] | None = None,
) -> Path:
    """A config whose one profile reaches ``base_url`` and holds the secrets itself."""
    profile = {
        "api_url": base_url,
        "token_url": base_url + TOKEN_PATH,
        "client_id": SimulatorConfig().client_id,
        "advertiser_id": SimulatorConfig().advertiser_id,
        "client_secret": secrets.client_secret,
        "refresh_token": secrets.refresh_token,
    }
    config = {
        "default_profile": "sec",
        "profiles": {"sec": profile},
        "engine": engine or FAST_ENGINE,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(config))
    path.chmod(mode)
    return path


def cli_env(config: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of an amc-tui process using ``config`` and ``data_dir``."""
    return {**os.environ, "AMC_TUI_CONFIG": str(config), "AMC_TUI_DATA_DIR": str(data_dir), **extra}


def amc_tui(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``amc-tui ARGS`` run with umask 0, so file modes come from the code alone."""
    return subprocess.run(
        [sys.executable, "-m", "amc_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        umask=0,
    )


def close_log_files() -> None:
    """Detach the log file from ``amc_tui``'s logger, as the process end would."""
    logger = logging.getLogger("amc_tui")
    for handler in list(logger.handlers):
        if isinstance(handler, PrivateRotatingFileHandler):
            logger.removeHandler(handler)
            handler.close()


@contextmanager
def logging_to(log_file: Path) -> Iterator[None]:
    """The log file set up as ``amc-tui`` does it (for an app run in this process)."""
    setup_logging(log_file)
    try:
        yield
    finally:
        close_log_files()


@dataclass
class AmcServer:
    """A simulator on a real port, and the credentials it accepts."""

    sim: AmcSimulator
    base_url: str
    secrets: SecretMarkers


@contextmanager
def serve(instances: list[SimInstance], **knobs: Any) -> Iterator[AmcServer]:
    """A fault-free simulator with ``instances`` and credentials of its own."""
    secrets = new_secrets()
    config = SimulatorConfig.reliable(
        client_secret=secrets.client_secret,
        refresh_token=secrets.refresh_token,
        instances=instances,
        **knobs,
    )
    sim = AmcSimulator(config)
    with ThreadedServer(sim) as server:
        yield AmcServer(sim, server.base_url, secrets)


class InProcessCli:
    """``amc-tui`` called in this process (so argv may hold NUL), with a profile on
    ``server`` and a data dir of its own.  A call returns the exit code and stderr;
    stdout is kept in :attr:`out`."""

    def __init__(self, workdir: Path, server: AmcServer, capsys: pytest.CaptureFixture[str]):
        self.workdir = workdir
        self.config = write_config(workdir / "config.toml", server.base_url, server.secrets)
        self.data = workdir / "data"
        self.sql = workdir / "query.sql"
        self.sql.write_text(SQL)
        self.capsys = capsys
        self.out = ""

    def __call__(self, *args: str) -> tuple[int, str]:
        argv = [*args, "--config", str(self.config), "--data-dir", str(self.data)]
        try:
            code = main(argv)
        finally:
            close_log_files()
        captured = self.capsys.readouterr()
        self.out = captured.out
        return code, captured.err

    def stored_batches(self) -> int:
        db = self.data / "history.db"
        if not db.exists():
            return 0
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM batches").fetchone()[0])


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


# --- searching what was written ----------------------------------------------------------


def encodings(value: str) -> set[bytes]:
    """``value`` as it could appear in a file: raw, URL-encoded, JSON-escaped."""
    forms = {value, quote_plus(value), quote(value, safe=""), json.dumps(value)[1:-1]}
    return {form.encode("utf-8") for form in forms}


def found_in(data: bytes, values: Iterable[str]) -> list[str]:
    """The values that occur in ``data`` in any of their :func:`encodings`."""
    return [v for v in values if any(form in data for form in encodings(v))]


def written_files(*roots: Path) -> list[Path]:
    """Every regular file under ``roots`` (symlinks not followed)."""
    files: list[Path] = []
    for root in roots:
        if not root.exists():
            continue
        for directory, _, names in os.walk(root):
            for name in names:
                path = Path(directory) / name
                if path.is_file() and not path.is_symlink():
                    files.append(path)
    return sorted(files)


def leaks(files: Iterable[Path], values: Iterable[str]) -> dict[str, list[str]]:
    """For each file holding any of ``values``, which ones (files read as bytes)."""
    wanted = list(values)
    found: dict[str, list[str]] = {}
    for path in files:
        hits = found_in(path.read_bytes(), wanted)
        if hits:
            found[str(path)] = hits
    return found


def loose_modes(*roots: Path) -> dict[str, str]:
    """Each file or directory under ``roots`` (roots included) that others may use."""
    loose: dict[str, str] = {}
    for root in roots:
        for directory, _, names in os.walk(root):
            for path in [Path(directory)] + [Path(directory) / n for n in names]:
                mode = stat.S_IMODE(path.lstat().st_mode)
                if mode & 0o077 and not path.is_symlink():
                    loose[str(path)] = f"{mode:04o}"
    return loose


# --- screens -----------------------------------------------------------------------------

_TEXT_ELEMENT = re.compile(r"<text[^>]*>(.*?)</text>", re.DOTALL)


def svg_text(svg: str) -> str:
    """What a Textual SVG screenshot shows: its text elements in order, decoded."""
    parts = [html.unescape(part) for part in _TEXT_ELEMENT.findall(svg)]
    return "".join(parts).replace("\xa0", " ")


# --- an ASGI proxy in front of the simulator ---------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Call:
    """One request as the proxy saw it."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]


Answer = tuple[int, bytes]
"""A status and a JSON body."""


class RewritingProxy:
    """Answers some calls itself (``answer``) and rewrites others' bodies (``rewrite``).

    ``answer(call)`` returns ``(status, body)`` to answer without the simulator, or
    None; ``rewrite(call, status, body)`` returns a new body for the simulator's
    answer, or None to pass it on as it is.
    """

    def __init__(
        self,
        app: AmcSimulator,
        *,
        answer: Callable[[Call], Answer | None] | None = None,
        rewrite: Callable[[Call, int, bytes], bytes | None] | None = None,
    ) -> None:
        self.app = app
        self.answer = answer
        self.rewrite = rewrite
        self.sent: list[bytes] = []
        """The bodies the proxy made up or rewrote, in order."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        call = Call(scope["method"], scope["path"], body, headers)
        canned = self.answer(call) if self.answer else None
        if canned is not None:
            self.sent.append(canned[1])
            await _send_answer(send, *canned)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, replay, capture)
        status = int(start.get("status", 500))
        answer = b"".join(chunks)
        new = self.rewrite(call, status, answer) if self.rewrite else None
        if new is not None:
            self.sent.append(new)
            answer = new
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


async def _send_answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def amc_error(status: int, details: str) -> Answer:
    """An AMC error answer: ``{"code", "details"}``."""
    return status, json.dumps({"code": f"HTTP{status}", "details": details}).encode()
