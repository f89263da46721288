"""App-wide behaviour: quitting with batches running, the resume offer, watching a batch
run by another process, the command palette, help and read-only mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from engine_support import fast_simulator
from test_tui_dashboard import notices, rows_text
from textual.app import App
from textual.command import CommandPalette
from textual.pilot import Pilot
from tui_support import make_app, new_batch, tui_settings, wait_for

from amc_tui.amc.simulator import AmcSimulator
from amc_tui.domain import Batch, BatchStatus, ExecutionStatus
from amc_tui.engine.locks import BatchLock
from amc_tui.store.history import HistoryStore
from amc_tui.tui.app import AmcApp
from amc_tui.tui.messages import QuitAsked
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.dialogs import QuitScreen, ResumeOfferScreen
from amc_tui.tui.screens.help import HelpScreen
from amc_tui.tui.screens.history import HistoryScreen

SLOW = {"time_scale": 10.0, "duration_min": 300, "duration_max": 300}


async def stored_batch(app: AmcApp, batch_id: str) -> Batch:
    """The batch as the app left it in its history file (read once the app has exited)."""
    async with await HistoryStore.open(app.settings.paths.history_db) as store:
        stored = await store.get_batch(batch_id)
    assert stored is not None
    return stored


async def test_quit_while_running_can_stay_or_leave_the_batch_resumable(tmp_path: Path) -> None:
    app = make_app(tmp_path, simulator=fast_simulator(**SLOW))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 7)
        await app.launch(batch)
        live = app.live[batch.id]
        await wait_for(pilot, lambda: live.counts().in_flight == 5, what="in flight")

        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("s")  # stay
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.is_running and batch.id in app.services.runner.running  # type: ignore[union-attr]

        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        await pilot.press("l")  # leave it running on AMC
        await wait_for(pilot, lambda: not app.is_running, timeout=30, what="exit")

    stored = await stored_batch(app, batch.id)
    assert stored.status is BatchStatus.INTERRUPTED
    on_amc = [ex for ex in stored.executions if ex.amc_execution_id]
    assert on_amc and all(
        ex.status in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING) for ex in on_amc
    )


async def offered_for_resume(app: AmcApp, pilot: Pilot[Any]) -> list[str]:
    """The batches the app offers to resume as it starts."""
    await wait_for(pilot, lambda: isinstance(app.screen, ResumeOfferScreen))
    offer = app.screen
    assert isinstance(offer, ResumeOfferScreen)
    return [b.id for b in offer.batches]


@pytest.mark.parametrize("moment", ["in flight", "before its run begins"])
async def test_quit_and_cancel_cancels_on_amc_before_leaving(tmp_path: Path, moment: str) -> None:
    app = make_app(tmp_path, simulator=fast_simulator(**SLOW))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        if moment == "in flight":
            batch = await new_batch(app, 7)
            await app.launch(batch)
            live = app.live[batch.id]
            await wait_for(pilot, lambda: live.counts().in_flight == 5, what="in flight")
            await pilot.press("ctrl+q")
        else:
            # ctrl+q read in the same moment as the launch: the batch's worker has not
            # yet called the runner, and the quit still asks.
            batch = await app.runs.start_new(await new_batch(app, 7))
            assert batch.id not in app.services.runner.running  # type: ignore[union-attr]
            await app.action_quit()
        await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
        quitting = app.screen
        assert isinstance(quitting, QuitScreen)
        assert [live.id for live in quitting.running] == [batch.id]
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.is_running, timeout=30, what="exit")

    stored = await stored_batch(app, batch.id)
    assert stored.status is BatchStatus.CANCELLED
    assert {ex.status for ex in stored.executions} == {ExecutionStatus.CANCELLED}


async def test_a_batch_cancelled_before_its_run_begins_never_reaches_amc(tmp_path: Path) -> None:
    app = make_app(tmp_path, simulator=fast_simulator(**SLOW))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await app.runs.start_new(await new_batch(app, 7))
        assert batch.id not in app.services.runner.running  # type: ignore[union-attr]
        await app.runs.cancel_all()
        await app.runs.stopped()  # waits for the run that begins cancelled
        stored = await app.services.store.get_batch(batch.id)
        assert stored is not None and stored.status is BatchStatus.CANCELLED
        assert {ex.status for ex in stored.executions} == {ExecutionStatus.CANCELLED}
        assert not any(ex.amc_execution_id for ex in stored.executions)
        await pilot.pause()


async def test_a_batch_left_before_its_run_begins_is_offered_at_the_next_start(
    tmp_path: Path,
) -> None:
    settings = tui_settings(tmp_path)
    amc = AmcSimulator(fast_simulator(**SLOW))
    first = make_app(tmp_path, settings=settings, sim=amc)
    async with first.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: first.ready)
        batch = await first.runs.start_new(await new_batch(first, 4))
        await first.runs.leave_all()
        await pilot.pause(0.3)  # the batch's worker has had its turn: it did not begin
        assert first.services.runner.running == []  # type: ignore[union-attr]
        stored = await first.services.store.get_batch(batch.id)
        assert stored is not None and stored.status is BatchStatus.INTERRUPTED
        assert {ex.status for ex in stored.executions} == {ExecutionStatus.QUEUED}
        assert not first.live[batch.id].here
        first.exit(0)

    second = make_app(tmp_path, settings=settings, sim=amc)
    async with second.run_test(size=(80, 24)) as pilot:
        assert await offered_for_resume(second, pilot) == [batch.id]


async def test_ctrl_q_decides_even_when_its_message_never_comes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ctrl+q's QuitAsked goes to the focused widget, to come back behind the keys it
    # holds; a widget closed meanwhile drops it.  The app decides after FALLBACK anyway.
    lost: list[QuitAsked] = []

    async def never_back(_app: AmcApp, message: QuitAsked) -> None:
        lost.append(message)

    monkeypatch.setattr(AmcApp, "on_quit_asked", never_back)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: lost, what="the message lost")
        assert app.is_running
        await wait_for(pilot, lambda: not app.is_running, timeout=10, what="exit")


async def test_interrupted_batches_are_offered_for_resume_at_start(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    # One AMC for both runs; its executions last about 3 s.
    amc = AmcSimulator(fast_simulator(time_scale=100.0, duration_min=300, duration_max=300))
    first = make_app(tmp_path, settings=settings, sim=amc)
    async with first.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: first.ready)
        batch = await new_batch(first, 4)
        await first.launch(batch)
        await wait_for(pilot, lambda: first.live[batch.id].counts().in_flight == 4)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(first.screen, QuitScreen))
        await pilot.press("l")
        await wait_for(pilot, lambda: not first.is_running, timeout=30)

    second = make_app(tmp_path, settings=settings, sim=amc)
    async with second.run_test(size=(80, 24)) as pilot:
        assert await offered_for_resume(second, pilot) == [batch.id]
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(second.screen, DashboardScreen))
        await wait_for(
            pilot, lambda: second.live[batch.id].status.is_terminal, timeout=30, what="resumed end"
        )
        stored = await second.services.store.get_batch(batch.id)
        assert stored is not None and stored.status is BatchStatus.COMPLETED
        # Nothing was submitted twice: the executions kept their AMC ids from the first run.
        assert len({ex.amc_execution_id for ex in stored.executions}) == 4


async def test_a_batch_left_running_by_a_killed_process_is_offered_at_start(
    tmp_path: Path,
) -> None:
    settings = tui_settings(tmp_path)
    first = make_app(tmp_path, settings=settings, offer_resume=False)
    async with first.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: first.ready)
        batch = await new_batch(first, 2)
        # As `kill -9` leaves it: stored running, nobody holding its lock.
        stored = await first.services.store.create_batch(batch)
        await first.services.store.transition_batch(stored.id, BatchStatus.RUNNING)

    second = make_app(tmp_path, settings=settings)
    async with second.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(second.screen, ResumeOfferScreen))
        offer = second.screen
        assert isinstance(offer, ResumeOfferScreen)
        assert [b.id for b in offer.batches] == [stored.id]
        summary = await second.services.store.get_batch_summary(stored.id)
        assert summary is not None and summary.status is BatchStatus.INTERRUPTED


async def test_an_exit_mid_batch_writes_it_interrupted_before_the_store_closes(
    tmp_path: Path,
) -> None:
    settings = tui_settings(tmp_path)
    amc = AmcSimulator(fast_simulator(time_scale=100.0, duration_min=300, duration_max=300))
    app = make_app(tmp_path, settings=settings, sim=amc)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 3)
        await app.launch(batch)
        on_amc = {ExecutionStatus.PENDING, ExecutionStatus.RUNNING}
        rows = lambda: app.live[batch.id].rows.values()  # noqa: E731
        await wait_for(pilot, lambda: all(row.status in on_amc for row in rows()))
        app.exit(143)  # what the SIGTERM handler does: Textual then cancels the workers
    async with await HistoryStore.open(settings.paths.history_db) as store:
        stored = await store.get_batch(batch.id)
    assert stored is not None and stored.status is BatchStatus.INTERRUPTED
    assert {ex.status for ex in stored.executions} <= on_amc
    assert amc.stats.cancels == 0


async def test_escape_on_the_resume_offer_resumes_nothing(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    app = make_app(tmp_path, settings=settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 2)
        stored = await app.services.store.create_batch(batch)
        await app.services.store.transition_batch(stored.id, BatchStatus.RUNNING)
        await app.services.store.transition_batch(stored.id, BatchStatus.INTERRUPTED)
        await app.offer_resume()
        await wait_for(pilot, lambda: isinstance(app.screen, ResumeOfferScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ResumeOfferScreen))
        assert app.services.runner is not None and app.services.runner.running == []


async def test_a_batch_run_by_another_process_is_watched_through_the_store(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        store = app.services.store
        batch = await store.create_batch(await new_batch(app, 3, name="elsewhere"))
        await store.transition_batch(batch.id, BatchStatus.RUNNING)
        with BatchLock(app.settings.paths.lock_dir, batch.id):  # "another process" runs it
            await app.open_batch(batch.id)
            await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
            title = app.screen.query_one("#batch-title")
            await wait_for(pilot, lambda: "another process" in str(title.render()))

            first = batch.executions[0]
            assert first.id is not None
            await store.start_attempt(first.id)
            await store.finish_attempt(
                first.id, 1, new_status=ExecutionStatus.PENDING, amc_execution_id="exec-xyz"
            )
            await wait_for(pilot, lambda: any("exec-xyz" in r for r in rows_text(app)))
            assert any("PENDING" in r and "exec-xyz" in r for r in rows_text(app))

            # c from here asks the owner through the store.
            await pilot.press("c")
            await pilot.press("y")
            await wait_for(pilot, lambda: app.live[batch.id].cancel_requested)
            assert await store.is_cancel_requested(batch.id)
            await wait_for(pilot, lambda: any("sent to the process" in n for n in notices(app)))


async def test_the_command_palette_opens_history(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready and not isinstance(app.screen, HistoryScreen))
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"history")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), what="history")


async def test_help_lists_the_keys_of_the_current_screen(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ready)
        batch = await new_batch(app, 2)
        await app.launch(batch)
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        described = dict((d, k) for k, d in help_screen.entries())
        for description in ("Cancel batch", "Failures only", "Retry failed", "Back", "Quit"):
            assert description in described, described
        assert described["Cancel batch"] == "c"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_read_only_dashboards_refuse_cancel(tmp_path: Path) -> None:
    settings = tui_settings(tmp_path)
    writer = make_app(tmp_path, settings=settings, simulator=fast_simulator(**SLOW))
    async with writer.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: writer.ready)
        batch = await new_batch(writer, 2)
        stored = await writer.services.store.create_batch(batch)
        await writer.services.store.transition_batch(stored.id, BatchStatus.RUNNING)
        await writer.services.store.transition_batch(stored.id, BatchStatus.INTERRUPTED)

    reader = make_app(tmp_path, settings=settings, read_only=True)
    async with reader.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: reader.ready)
        await reader.open_batch(batch.id)
        await wait_for(pilot, lambda: isinstance(reader.screen, DashboardScreen))
        screen = reader.screen
        assert isinstance(screen, DashboardScreen)
        described = {b.binding.description for b in screen.active_bindings.values()}
        assert "Cancel batch" not in described and "Retry failed" not in described
        assert "Failures only" in described
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(reader.screen, DashboardScreen)  # no yes/no: nothing to confirm
        assert await reader.services.store.is_cancel_requested(batch.id) is False
        assert await reader.resume(batch.id) is False


async def test_no_bell_is_written_while_a_pager_has_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual's writer is stopped while the app is suspended; a bell then would queue up."""
    rung: list[App[int]] = []
    monkeypatch.setattr(App, "bell", lambda self: rung.append(self))  # Textual: the write
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.ready, what="the services")
        app.app_suspend_signal.publish(app)
        assert app.terminal_lent
        app.bell()
        assert rung == []
        app.app_resume_signal.publish(app)
        assert not app.terminal_lent
        app.bell()
        assert rung == [app]
        await pilot.pause()
