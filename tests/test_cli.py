"""The command line: global options anywhere, demo mode said plainly, argument errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from amc_tui.cli import EXIT_INVALID_INPUT, main


def test_instances_in_demo_mode(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["instances", "--json", "--data-dir", str(data_dir)]) == 0
    out, err = capsys.readouterr()
    listed = json.loads(out)
    assert len(listed) == 24
    assert {"instance_id", "instance_uuid", "instance_name", "instance_type", "region"} == set(
        listed[0]
    )
    assert "demo mode" in err
    assert (data_dir / "history.db").exists()
    # Global options before the subcommand work as well, and the UUIDs are stable.
    assert main(["--data-dir", str(data_dir), "--demo", "instances", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [i["instance_uuid"] for i in again] == [i["instance_uuid"] for i in listed]


def test_instances_table(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["instances", "--refresh", "--data-dir", str(data_dir)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "AMC", "INSTANCE", "ID", "TYPE", "REGION", "UUID"]
    assert len(lines) == 25
    assert "24 instances (profile demo)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulator", "--port", "70000"], "port 70000 is not within 0..65535"),
        (["simulator", "--port", "http"], "port 'http' is not a number"),
        (["simulator", "--throttle-rate", "1.5"], "rate 1.5 is not within 0..1"),
        (["simulator", "--time-scale", "0"], "value 0 is not above 0"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["instances", "--nope"], "unrecognized arguments: --nope"),
    ],
)
def test_argument_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == EXIT_INVALID_INPUT
    assert message in capsys.readouterr().err


def test_no_command_without_a_terminal_says_the_tui_needs_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Under pytest stdin and stdout are not a terminal: the TUI refuses to start.
    assert main([]) == EXIT_INVALID_INPUT
    err = capsys.readouterr().err
    assert "the terminal UI needs a terminal" in err
    assert "amc-tui run ... --json" in err


def test_data_dir_that_cannot_be_made_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["instances", "--data-dir", str(blocker / "sub")]) == 3
    assert f"data dir {blocker / 'sub'} cannot be created" in capsys.readouterr().err


def test_headless_commands_do_not_import_textual(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from amc_tui.cli import main\n"
        f"assert main(['instances', '--data-dir', {str(tmp_path)!r}]) == 0\n"
        "assert 'textual' not in sys.modules, 'textual was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "amc_tui", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("amc-tui ")
