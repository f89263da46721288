"""Server error bodies reach the log file only, never the operator.

An ASGI proxy in front of the simulator (on a real port) puts a unique marker in a
500 body, a 400 body, a 503 from the token endpoint, a 500 while polling and an AMC
``failureReason``.  A batch meeting all of them runs through ``amc-tui run --json``
and through the TUI in this process.  Each marker must be in the log file (so the
test would notice logging being switched off) and nowhere else: not on stdout or
stderr, not in ``--json``, not in the store (searched byte by byte, ``-wal`` too),
not on the dashboard, the execution detail or in a notice.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from engine_support import SQL
from reliability import record
from security_support import (
    FAST_ENGINE,
    Call,
    RewritingProxy,
    amc_error,
    amc_tui,
    cli_env,
    found_in,
    leaks,
    logging_to,
    new_secrets,
    svg_text,
    write_config,
    written_files,
)
from tui_support import wait_for

from amc_tui.amc.simulator import TOKEN_PATH, AmcSimulator, SimInstance, SimulatorConfig
from amc_tui.amc.simulator.server import ThreadedServer
from amc_tui.engine.validation import build_batch, build_query
from amc_tui.settings import ensure_data_dir, load_settings
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.execution_detail import ExecutionDetailScreen
from amc_tui.tui.screens.instances import InstancesScreen

pytestmark = [pytest.mark.socket, pytest.mark.reliability]

SERVER_ERROR, BAD_REQUEST, FAILS, POLL_ERROR, FINE = (
    SimInstance(instance_id=f"amcbody{n:05d}", instance_name=f"Body {n}") for n in range(5)
)
INSTANCES = [SERVER_ERROR, BAD_REQUEST, FAILS, POLL_ERROR, FINE]


class CarelessAmc:
    """What the proxy answers: error bodies and a failureReason carrying markers."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:12]
        kinds = ("http500", "http400", "failure", "poll500", "token503")
        self.markers = {kind: f"MARK-{kind}-{tag}" for kind in kinds}
        self.token_failed = False
        self.polled: set[str] = set()

    def answer(self, call: Call) -> tuple[int, bytes] | None:
        if call.path == TOKEN_PATH and not self.token_failed:
            self.token_failed = True
            return amc_error(503, self.markers["token503"])
        parts = call.path.strip("/").split("/")
        if len(parts) < 4 or parts[3] != "workflowExecutions":
            return None
        instance = parts[2]
        if call.method == "POST" and instance == SERVER_ERROR.instance_id:
            return amc_error(500, self.markers["http500"])
        if call.method == "POST" and instance == BAD_REQUEST.instance_id:
            return amc_error(400, f"SQL compilation error: {self.markers['http400']}")
        polling = call.method == "GET" and len(parts) == 5
        if polling and instance == POLL_ERROR.instance_id and parts[4] not in self.polled:
            self.polled.add(parts[4])
            return amc_error(500, self.markers["poll500"])
        return None

    def rewrite(self, call: Call, status: int, body: bytes) -> bytes | None:
        """AMC's failureReason, wherever an execution carries one, becomes a marker."""
        if b'"failureReason"' not in body:
            return None
        data = json.loads(body)
        items = [data, *data.get("executions", [])] if isinstance(data, dict) else []
        changed = False
        for item in items:
            if isinstance(item, dict) and item.get("failureReason"):
                item["failureReason"] = self.markers["failure"]
                changed = True
        return json.dumps(data).encode() if changed else None


async def test_server_bodies_reach_the_log_file_only(tmp_path: Path) -> None:
    secrets = new_secrets()
    amc = CarelessAmc()
    sim = AmcSimulator(
        SimulatorConfig.reliable(
            client_secret=secrets.client_secret,
            refresh_token=secrets.refresh_token,
            instances=INSTANCES,
            instance_scripts={FAILS.instance_id: ["fail", "fail"]},
            time_scale=1000.0,
            duration_min=50.0,
            duration_max=100.0,
        )
    )
    proxy = RewritingProxy(sim, answer=amc.answer, rewrite=amc.rewrite)
    data = tmp_path / "data"
    sql = tmp_path / "query.sql"
    sql.write_text(SQL)
    ids = ",".join(i.instance_id for i in INSTANCES)
    outputs: dict[str, str] = {}
    screens: dict[str, str] = {}
    with ThreadedServer(proxy) as server:
        engine = {**FAST_ENGINE, "max_retry_attempts": 2}
        config = write_config(tmp_path / "config.toml", server.base_url, secrets, engine=engine)
        env = cli_env(config, data)
        ran = amc_tui("run", "--sql-file", str(sql), "--instances", ids, "--json", env=env)
        assert ran.returncode == 1, ran.stderr
        document = json.loads(ran.stdout)
        cli_batch = document["batch_id"]
        failed = {e["instance_id"] for e in document["executions"] if e["status"] == "FAILED"}
        assert failed == {SERVER_ERROR.instance_id, BAD_REQUEST.instance_id, FAILS.instance_id}
        for name, args in {
            "run": None,
            "show": ("show", cli_batch),
            "show --json": ("show", cli_batch, "--json"),
            "history": ("history",),
        }.items():
            done = ran if args is None else amc_tui(*args, env=env)
            outputs[f"{name} stdout"], outputs[f"{name} stderr"] = done.stdout, done.stderr

        settings = load_settings(config=config, data_dir=data, env={})
        ensure_data_dir(settings.paths)
        with logging_to(settings.paths.log_file):
            app = AmcApp(settings, offer_resume=False)
            async with app.run_test(size=(160, 50)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
                known = await app.services.instances()
                batch, _ = build_batch(
                    refs=[i.instance_id for i in INSTANCES],
                    known=known,
                    query=build_query(sql=SQL),
                    engine=settings.engine,
                    profile=settings.profile_name,
                )
                await app.launch(batch)
                await wait_for(pilot, lambda: app.live[batch.id].status.is_terminal, timeout=60)
                for batch_id in (batch.id, cli_batch):
                    if not isinstance(app.screen, DashboardScreen):
                        await app.open_batch(batch_id)
                    await wait_for(pilot, lambda b=batch_id: app.screen.batch_id == b)  # type: ignore[attr-defined]
                    await pilot.pause()
                    screens[f"dashboard {batch_id}"] = app.export_screenshot()
                    for execution_id in list(app.live[batch_id].rows):
                        detail = ExecutionDetailScreen(batch_id, execution_id)
                        await app.push_screen(detail)
                        await wait_for(pilot, lambda d=detail: d.execution is not None)
                        await pilot.pause()
                        screens[f"detail {execution_id}"] = app.export_screenshot()
                        await app.pop_screen()
                    await app.pop_screen()
                outputs["notices"] = "\n".join(f"{n.title} {n.message}" for n in app._notifications)
    markers = list(amc.markers.values())
    assert found_in(b"".join(proxy.sent), markers) == markers  # each was really served
    logs = [p for p in written_files(data) if p.name.startswith("amc-tui.log")]
    assert found_in(b"".join(p.read_bytes() for p in logs), markers) == markers
    others = [p for p in written_files(data, tmp_path / "config.toml") if p not in logs]
    assert any(p.name == "history.db" for p in others)
    assert leaks(others, markers) == {}
    texts = {**outputs, **{name: svg_text(svg) for name, svg in screens.items()}}
    assert "AMC had a server error" in texts[f"dashboard {cli_batch}"]
    assert "The query failed on AMC" in texts["show stdout"]
    for name, text in texts.items():
        assert found_in(text.encode(), markers) == [], name
    record(
        "markers in a 500 body, a 400 body, a token 503, a 500 while polling and an AMC "
        "failureReason",
        f"all 5 in the log file; none in {len(outputs)} outputs (stdout, stderr, --json), "
        f"the store, or {len(screens)} TUI screens (dashboards, execution details)",
        calls=sim.stats.requests,
        group="Security",
    )
