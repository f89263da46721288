"""What the operator types is checked and bounded before anything is stored or sent.

Every entry point of ``amc-tui run`` (``--name``, ``--param``, ``--param-file`` and
its path, ``--workflow-id``, ``--instances``, ``--start``, ``--end``, ``--window``,
``--sql-file``'s path) and ``show``, ``resume`` and ``cancel BATCH_ID`` is fed
10,000 characters, NUL, a newline, a carriage return, ANSI escapes, DEL, a C1
control and a bidi override.  Each must end with exit 2 and one short line naming
the field, with no raw control character echoed, nothing stored and nothing sent to
AMC.  Batch ids come from :mod:`secrets`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from engine_support import SQL
from reliability import record
from security_support import AmcServer, InProcessCli, serve

from amc_tui import domain
from amc_tui.amc.simulator import SimInstance
from amc_tui.domain import Batch, QuerySpec, new_batch_id
from amc_tui.engine.validation import check_batch_id
from amc_tui.errors import InputError

pytestmark = pytest.mark.reliability

LONG = "x" * 10_000
HOSTILE = {
    "NUL": "a\x00b",
    "newline": "a\nb",
    "carriage return": "a\rb",
    "ANSI escape": "\x1b[31mred\x1b[0m",
    "DEL": "a\x7fb",
    "C1 control": "a\x9bb",
    "bidi override": "a\u202eb",
}
KNOWN = SimInstance(instance_id="amcinput0001", instance_name="Input 01")


@pytest.fixture(scope="module")
def amc_server() -> Iterator[AmcServer]:
    with serve([KNOWN]) as server:
        yield server


class Cli(InProcessCli):
    def run(self, *extra: str) -> tuple[int, str]:
        """``run`` of the query file on the one known instance, with ``extra`` options."""
        return self("run", "--sql-file", str(self.sql), "--instances", KNOWN.instance_id, *extra)


def param_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "params.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def toml_escaped(text: str) -> str:
    """``text`` as a TOML basic string, control characters as \\uXXXX escapes."""
    inner = "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c).startswith("C") else c for c in text
    )
    return '"' + inner.replace('"', '\\"') + '"'


Case = Callable[[Cli, str], tuple[int, str]]
ENTRY_POINTS: dict[str, tuple[str, Case]] = {
    "run --name": ("--name", lambda cli, v: cli.run("--name", v)),
    "run --param value": ("--param", lambda cli, v: cli.run("--param", f"brand={v}")),
    "run --param key": ("--param", lambda cli, v: cli.run("--param", f"{v}=1")),
    "--param-file value": (
        "--param-file",
        lambda cli, v: cli.run(
            "--param-file", param_file(cli.workdir, f"[params]\nbrand = {toml_escaped(v)}\n")
        ),
    ),
    "--param-file key": (
        "--param-file",
        lambda cli, v: cli.run(
            "--param-file", param_file(cli.workdir, f"[params]\n{toml_escaped(v)} = 1\n")
        ),
    ),
    "--param-file instance id": (
        "--param-file",
        lambda cli, v: cli.run(
            "--param-file",
            param_file(cli.workdir, f"[instances.{toml_escaped(v)}]\nbrand = 1\n"),
        ),
    ),
    "--param-file path": ("--param-file", lambda cli, v: cli.run("--param-file", v)),
    "run --start": (
        "--start",
        lambda cli, v: cli.run("--start", v, "--end", "2024-05-08T00:00:00"),
    ),
    "run --end": ("--end", lambda cli, v: cli.run("--start", "2024-05-01T00:00:00", "--end", v)),
    "run --window": ("--window", lambda cli, v: cli.run("--window", v)),
    "--sql-file path": (
        "--sql-file",
        lambda cli, v: cli("run", "--sql-file", v, "--instances", KNOWN.instance_id),
    ),
    "run --workflow-id": (
        "--workflow-id",
        lambda cli, v: cli("run", "--workflow-id", v, "--instances", KNOWN.instance_id),
    ),
    "run --instances": (
        "--instances",
        lambda cli, v: cli("run", "--sql-file", str(cli.sql), "--instances", v),
    ),
    "show BATCH_ID": ("BATCH_ID", lambda cli, v: cli("show", v)),
    "resume BATCH_ID": ("BATCH_ID", lambda cli, v: cli("resume", v)),
    "cancel BATCH_ID": ("BATCH_ID", lambda cli, v: cli("cancel", v)),
}
VALUES = {"10,000 characters": LONG, **HOSTILE}


def one_clean_line(text: str, what: str) -> str:
    """``text`` must be one short line with no control character in it."""
    line = text.removesuffix("\n")
    assert len(line) < 600, f"{what}: {len(line)} characters"
    bad = [c for c in line if unicodedata.category(c).startswith("C")]
    assert bad == [], f"{what}: {bad}"
    return line


@pytest.mark.socket
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_entry_point_refuses_overlong_and_hostile_values(
    entry: str,
    tmp_path: Path,
    amc_server: AmcServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim = amc_server.sim
    creates = sim.stats.requests["POST create"]
    cli = Cli(tmp_path, amc_server, capsys)
    field, call = ENTRY_POINTS[entry]
    longest = 0
    for label, value in VALUES.items():
        code, err = call(cli, value)
        assert code == 2, f"{label}: {err}"
        assert cli.out == "", label
        line = one_clean_line(err, label)
        assert line.startswith("amc-tui: error: ")
        assert field in line or field.lower().replace("_", " ") in line, f"{label}: {line}"
        longest = max(longest, len(line))
    assert cli.stored_batches() == 0
    assert sim.stats.requests["POST create"] == creates
    record(
        f"{entry} given 10,000 characters, NUL, a newline, CR, ANSI escapes, DEL, a C1 "
        "control or a bidi override",
        f"exit 2 each time with one line (at most {longest} characters) naming {field}, "
        "no control character echoed; nothing stored, nothing sent",
        group="Security",
    )


def test_batch_ids_typed_are_checked_before_use() -> None:
    refused = {**VALUES, "blank": " ", "empty": ""}
    for label, value in refused.items():
        with pytest.raises(InputError) as error:
            check_batch_id(value)
        line = one_clean_line(str(error.value), label)
        assert line.startswith("BATCH_ID"), label
    real = new_batch_id()
    assert check_batch_id(real) == real
    record(
        "check_batch_id given 10,000 characters, control characters, blanks",
        f"all {len(refused)} refused in one line naming BATCH_ID; a real id passes",
        group="Security",
    )


@pytest.mark.socket
def test_markup_and_plain_text_are_accepted_where_text_is_free(
    tmp_path: Path, amc_server: AmcServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checks refuse what is dangerous, not what merely looks odd."""
    cli = Cli(tmp_path, amc_server, capsys)
    code, err = cli.run("--name", "[bold red]X[/] ü", "--param", "brand=[@click=app.quit]Y[/]")
    assert code == 0, err
    assert cli.stored_batches() == 1
    record(
        "a name and a parameter value with markup brackets and accents",
        "accepted and run: only control characters and excess length are refused",
        group="Security",
    )


def test_batch_ids_come_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = {new_batch_id() for _ in range(2000)}
    assert len(ids) == 2000
    pattern = Batch.model_json_schema()["properties"]["id"]["pattern"]
    assert pattern == r"^batch_[A-Za-z0-9_-]{8}$"
    assert all(re.fullmatch(pattern, batch_id) for batch_id in ids)
    asked: list[int] = []

    def token_urlsafe(nbytes: int) -> str:
        asked.append(nbytes)
        return "SeCrEt-_"

    monkeypatch.setattr(domain.secrets, "token_urlsafe", token_urlsafe)
    assert new_batch_id() == "batch_SeCrEt-_"
    assert Batch(query=QuerySpec(sql=SQL)).id == "batch_SeCrEt-_"
    assert asked == [6, 6]
    record(
        "batch ids",
        "batch_ + secrets.token_urlsafe(6): 2000 drawn, all distinct and of the form "
        "batch_[A-Za-z0-9_-]{8}",
        group="Security",
    )
