"""Text from AMC, and text the operator typed, is shown as text: never markup, never
terminal control.

Textual markup (``[bold red]``, ``[@click=app.quit]``, ``[link=file:///etc/passwd]``)
in instance names and ids from the simulator, in AMC execution ids and stored
messages, and in typed names and parameters must show as the literal text on the
instances, confirm, dashboard, execution detail and history screens (read from SVG
screenshots), and notices quoting it must not parse markup.  Control and bidi
characters in instance names must not reach the terminal raw from ``amc-tui``'s
text or ``--json`` output, which must still give the exact names back.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
import uuid
from pathlib import Path

import pytest
from engine_support import SQL
from reliability import record
from security_support import InProcessCli, serve, svg_text
from textual.widgets import Input, TextArea
from tui_support import make_app, tui_settings, wait_for

from amc_tui.amc.simulator import SimInstance, SimulatorConfig
from amc_tui.domain import Batch, Execution, QuerySpec
from amc_tui.store.history import HistoryStore
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.confirm import ConfirmScreen
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.execution_detail import ExecutionDetailScreen
from amc_tui.tui.screens.history import HistoryScreen
from amc_tui.tui.screens.instances import InstancesScreen

pytestmark = pytest.mark.reliability

MARKUP = ["[bold red]X[/]", "[@click=app.quit]Y[/]", "[link=file:///etc/passwd]Z[/]"]
MARKUP_INSTANCES = [
    SimInstance(instance_id=f"amcmarkup{n:03d}", instance_name=name)
    for n, name in enumerate(MARKUP)
] + [
    SimInstance(instance_id="[reverse]a3", instance_name="Markup id 3"),
    SimInstance(instance_id="[@click=q]a4", instance_name="Markup id 4"),
]
SHOWN = [*MARKUP, "[reverse]a3", "[@click=q]a4"]
"""AMC ids fit the instances screen's 12-character column."""


def literal(app: AmcApp, *texts: str) -> None:
    """Each of ``texts`` is on the screen, brackets and all."""
    shown = svg_text(app.export_screenshot())
    missing = [text for text in texts if text not in shown]
    assert missing == [], f"shown as markup, not text: {missing}"


async def test_markup_from_the_server_and_the_operator_shows_as_text(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        simulator=SimulatorConfig.reliable(
            instances=MARKUP_INSTANCES,
            time_scale=1000.0,
            duration_min=20.0,
            duration_max=50.0,
            instance_scripts={"amcmarkup001": ["403"], "[reverse]a3": ["fail"]},
        ),
    )
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
        home = app.screen
        assert isinstance(home, InstancesScreen)
        await wait_for(pilot, lambda: len(home.instances) == len(MARKUP_INSTANCES))
        literal(app, *SHOWN)

        await pilot.press("a", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        literal(app, *MARKUP)  # the summary names the instances
        # Refusals quote what was typed: as text too.
        confirm.query_one("#sql", TextArea).text = SQL
        confirm.query_one("#params", TextArea).text = "[@click=app.quit]Q[/]=1"
        confirm.query_one("#name", Input).value = "[bold red]N[/]\x07"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(confirm.problems))
        await pilot.pause()
        literal(app, "[@click=app.quit]Q[/]", "[bold red]N[/]")
        confirm.query_one("#params", TextArea).text = "brand=[b]v[/b]"
        confirm.query_one("#name", Input).value = "[bold red]N[/]"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen), what="launch")
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        batch_id = dashboard.batch_id
        await wait_for(pilot, lambda: app.live[batch_id].status.is_terminal, what="batch end")
        await pilot.pause()
        literal(app, "[bold red]N[/]", *MARKUP)  # the names (the dashboard shows no ids)
        for execution_id in list(app.live[batch_id].rows):
            detail = ExecutionDetailScreen(batch_id, execution_id)
            await app.push_screen(detail)
            await wait_for(pilot, lambda d=detail: d.execution is not None)
            await pilot.pause()
            assert detail.execution is not None
            literal(app, detail.execution.instance_name, detail.execution.instance_id)
            await app.pop_screen()
        await app.action_history()
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await wait_for(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        literal(app, "[bold red]N[/]")
        bracketed = [n for n in app._notifications if "[" in n.message or "[" in n.title]
        assert bracketed and all(not n.markup for n in bracketed)
    record(
        "Textual markup ([bold red], [@click=app.quit], [link=file://]) in instance names "
        "and ids from AMC, and in typed names and parameters",
        "shown as the literal text on the instances, confirm, dashboard, execution detail "
        "and history screens, in refusals and notices",
        group="Security",
    )


async def test_amc_execution_ids_and_stored_text_show_as_text(tmp_path: Path) -> None:
    """What AMC named an execution (any text, as stored) is drawn as text, not markup."""
    settings = tui_settings(tmp_path)
    amc_ids = ["[reverse]e1-3f2a", "[@click=app.quit]e2", "[link=file:///etc/passwd]e3[/]"]
    batch = Batch(name="[bold red]B[/]", query=QuerySpec(sql=SQL))
    batch.executions = [
        Execution(
            batch_id=batch.id,
            instance_uuid=uuid.uuid4(),
            instance_id=f"amc{n}",
            instance_name=f"Stored {n}",
        )
        for n in range(len(amc_ids))
    ]
    async with await HistoryStore.open(settings.paths.history_db) as store:
        await store.create_batch(batch)
    with sqlite3.connect(settings.paths.history_db) as conn:
        for n, amc_id in enumerate(amc_ids):
            conn.execute(
                "UPDATE executions SET status = 'FAILED', amc_execution_id = ?,"
                " error_message = ? WHERE instance_id = ?",
                (amc_id, f"[bold]message {n}[/bold]", f"amc{n}"),
            )
    app = make_app(tmp_path, settings=settings, read_only=True)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await wait_for(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        literal(app, "[bold red]B[/]", batch.id)
        await app.open_batch(batch.id)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause()
        literal(app, *amc_ids, "[bold]message 0[/bold]")
        for execution_id in list(app.live[batch.id].rows):
            detail = ExecutionDetailScreen(batch.id, execution_id)
            await app.push_screen(detail)
            await wait_for(pilot, lambda d=detail: d.execution is not None)
            await pilot.pause()
            assert detail.execution is not None
            literal(app, detail.execution.amc_execution_id or "?", batch.id)
            literal(app, detail.execution.error_message or "?")
            await app.pop_screen()
    record(
        "Textual markup in AMC execution ids and stored messages",
        "shown as the literal text on the history, the dashboard and the execution detail",
        group="Security",
    )


# --- terminal output ---------------------------------------------------------------------

TERMINAL_HOSTILE = [
    "\x1b[31mRed\x1b[0m \x1b]0;title\x07",
    "CSI \x9b31m C1",
    "evil\u202etxt.exe",
    "two\nlines\r",
    "nul\x00 and del\x7f",
]


def raw_controls(text: str) -> list[str]:
    """Control and format characters in ``text``, line ends aside."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")]


@pytest.mark.socket
def test_control_characters_from_amc_never_reach_the_terminal_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instances = [
        SimInstance(instance_id=f"amcterm{n:05d}", instance_name=name)
        for n, name in enumerate(TERMINAL_HOSTILE)
    ]
    with serve(instances, time_scale=1000.0, duration_min=20.0, duration_max=50.0) as server:
        cli = InProcessCli(tmp_path, server, capsys)
        outputs: dict[str, str] = {}
        for args in (
            ("instances", "--refresh"),
            ("instances", "--json"),
            ("run", "--sql-file", str(cli.sql), "--all-instances", "--json"),
        ):
            code, err = cli(*args)
            assert code == 0, err
            outputs[" ".join(args[:2])] = cli.out
            outputs[f"{args[0]} stderr"] = err
        batch_id = json.loads(outputs["run --sql-file"])["batch_id"]
        for args in (("show", batch_id), ("show", batch_id, "--json"), ("history",)):
            code, err = cli(*args)
            assert code == 0, err
            outputs[" ".join(args)] = cli.out + err
    for name, text in outputs.items():
        assert raw_controls(text) == [], name
    listed = json.loads(outputs["instances --json"])
    assert sorted(i["instance_name"] for i in listed) == sorted(TERMINAL_HOSTILE)
    ran = json.loads(outputs["run --sql-file"])
    assert sorted(e["instance_name"] for e in ran["executions"]) == sorted(TERMINAL_HOSTILE)
    assert "Red" in outputs["instances --refresh"] and "evil txt.exe" in outputs[f"show {batch_id}"]
    record(
        "ANSI escapes, C1 controls, a bidi override, newlines and NUL in instance names from AMC",
        f"no raw control character in {len(outputs)} outputs of instances, run, show and "
        "history; --json still gives the exact names (as \\u escapes)",
        group="Security",
    )
