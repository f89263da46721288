"""Secrets never leave the process: not in a written file, an output, a screen or an error.

A real (non-demo) profile points at the simulator on a real port, with credentials
made for the test (:func:`~security_support.new_secrets`).  Batches run with
failures of every kind (AMC FAILED, a 403 instance, throttling, token calls failing
and access tokens expiring mid-run, credentials refused), through ``amc-tui run`` in
a subprocess and through the TUI in this process.  Then every file under the data
and config dirs, every output and every screen is searched, byte by byte, for the
secrets and for every access token the simulator handed out.  The config file, which
holds the secrets on purpose (mode 0600), proves the search finds what is there.
Last, a careless server echoes the token form and the bearer token in its error
bodies: no error's ``str``, ``repr``, detail or traceback, no settings object and no
log line may show a secret.
"""

from __future__ import annotations

import json
import logging
import subprocess
import traceback
from pathlib import Path

import pytest
from engine_support import SQL
from pydantic import SecretStr
from reliability import record
from security_support import (
    Call,
    RewritingProxy,
    SecretMarkers,
    amc_tui,
    cli_env,
    found_in,
    issued_tokens,
    leaks,
    logging_to,
    loose_modes,
    new_secrets,
    svg_text,
    umask,
    write_config,
    written_files,
)
from tui_support import new_batch, wait_for

from amc_tui.amc.connection import open_client
from amc_tui.amc.simulator import TOKEN_PATH, AmcSimulator, SimInstance, SimulatorConfig
from amc_tui.amc.simulator.server import ThreadedServer
from amc_tui.domain import QuerySpec
from amc_tui.errors import AmcTuiError, ConfigError
from amc_tui.settings import ensure_data_dir, load_settings
from amc_tui.tui.app import AmcApp
from amc_tui.tui.screens.dashboard import DashboardScreen
from amc_tui.tui.screens.execution_detail import ExecutionDetailScreen
from amc_tui.tui.screens.history import HistoryScreen
from amc_tui.tui.screens.instances import InstancesScreen

pytestmark = [pytest.mark.socket, pytest.mark.reliability]

INSTANCES = [
    SimInstance(instance_id=f"amcsec{n:06d}", instance_name=f"Security {n:02d}") for n in range(8)
]
FORBIDDEN = INSTANCES[1].instance_id


def faulty_simulator(secrets: SecretMarkers) -> AmcSimulator:
    """Failures of every kind; access tokens expire after 1 s though 3600 are announced."""
    return AmcSimulator(
        SimulatorConfig.reliable(
            client_secret=secrets.client_secret,
            refresh_token=secrets.refresh_token,
            instances=INSTANCES,
            time_scale=1000.0,
            duration_min=300.0,
            duration_max=700.0,
            failure_rate=0.3,
            throttle_rate=0.15,
            retry_after=0.0,
            instance_scripts={FORBIDDEN: ["403"]},
            token_ttl=1.0,
            announced_token_ttl=3600.0,
            operation_scripts={"POST token": ["500", "ok", "503"]},
        )
    )


def assert_no_leaks(
    files: list[Path], texts: dict[str, str], secrets: list[str], allowed: Path
) -> None:
    """No secret in ``files`` but ``allowed`` (which must hold them) nor in ``texts``."""
    found = leaks(files, secrets)
    assert set(found.pop(str(allowed), [])) >= set(secrets[:2]), "the search finds nothing"
    assert found == {}
    for name, text in texts.items():
        assert found_in(text.encode(), secrets) == [], name


def test_no_secret_in_any_file_or_output_of_the_cli(tmp_path: Path) -> None:
    secrets = new_secrets()
    sim = faulty_simulator(secrets)
    data, config_dir = tmp_path / "data", tmp_path / "config"
    sql = tmp_path / "query.sql"
    sql.write_text(SQL)
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    with ThreadedServer(sim) as server:
        config = write_config(config_dir / "config.toml", server.base_url, secrets)
        env = cli_env(config, data)
        run = ["run", "--sql-file", str(sql), "--all-instances", "--name", "sec", "--json"]
        outputs["run"] = amc_tui(*run, env=env)
        assert outputs["run"].returncode == 1, outputs["run"].stderr
        document = json.loads(outputs["run"].stdout)
        batch_id = document["batch_id"]
        outputs["show"] = amc_tui("show", batch_id, "--json", env=env)
        outputs["history"] = amc_tui("history", "--json", env=env)
        outputs["instances"] = amc_tui("instances", "--refresh", env=env)
        # The token endpoint refuses a wrong secret: a secret all the same.
        wrong = cli_env(config, data, AMC_CLIENT_SECRET=secrets.wrong_secret)
        outputs["refused instances"] = amc_tui("instances", "--refresh", env=wrong)
        outputs["refused run"] = amc_tui(
            *run[:3], "--instances", INSTANCES[0].instance_id, env=wrong
        )
    counts = document["counts"]
    assert counts["succeeded"] >= 1 and counts["failed"] >= 1, document
    assert outputs["refused instances"].returncode == 3
    assert outputs["refused run"].returncode != 0
    assert "credentials" in outputs["refused run"].stderr
    tokens = issued_tokens(sim)
    assert len(tokens) >= 2  # each process got its own, and one expired mid-run
    assert sim.stats.requests["POST token"] >= 4  # a 500, the first token, a 503, a refresh
    values = [*secrets.values(), *tokens]
    texts = {
        f"{name} {part}": getattr(done, part)
        for name, done in outputs.items()
        for part in ("stdout", "stderr")
    }
    files = written_files(data, config_dir)
    assert any(path.name == "history.db" for path in files)
    assert_no_leaks(files, texts, values, config)

    story = (data / "logs" / "amc-tui.log").read_text()
    for line in (
        batch_id,
        "access token obtained",
        "[forbidden]",
        "failed on AMC",
        "[credentials]",
    ):
        assert line in story, line
    record(
        "client secret, refresh token and access tokens searched in every written file "
        "and all output of amc-tui run",
        f"none found in {len(files) - 1} files (store, -wal, log, locks) nor in "
        f"{len(texts)} outputs; {len(tokens)} access tokens issued, a wrong secret refused",
        calls=sim.stats.requests,
        group="Security",
    )


async def test_no_secret_in_any_file_screen_or_notice_of_the_tui(tmp_path: Path) -> None:
    secrets = new_secrets()
    sim = faulty_simulator(secrets)
    data, config_dir = tmp_path / "data", tmp_path / "config"
    screens: dict[str, str] = {}
    with ThreadedServer(sim) as server, umask(0):
        config = write_config(config_dir / "config.toml", server.base_url, secrets)
        settings = load_settings(config=config, data_dir=data, env={})
        ensure_data_dir(settings.paths)
        with logging_to(settings.paths.log_file):
            app = AmcApp(settings)
            async with app.run_test(size=(160, 50)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, InstancesScreen))
                home = app.screen
                assert isinstance(home, InstancesScreen)
                await wait_for(pilot, lambda: home.load_count >= 1 and bool(home.instances))
                screens["instances"] = app.export_screenshot()
                await pilot.press("a", "enter")
                await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
                screens["confirm"] = app.export_screenshot()
                await pilot.press("escape")
                batch = await new_batch(app, len(INSTANCES), name="sec tui")
                await app.launch(batch)
                await wait_for(pilot, lambda: app.live[batch.id].is_finished, timeout=60)
                await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
                await pilot.pause()
                screens["dashboard"] = app.export_screenshot()
                stored = await app.services.store.get_batch(batch.id)
                assert stored is not None
                failed = [ex.id for ex in stored.executions if ex.status.value == "FAILED"]
                assert failed  # the 403 instance at least
                for execution_id in failed:
                    detail = ExecutionDetailScreen(batch.id, execution_id or 0)
                    await app.push_screen(detail)
                    await wait_for(pilot, lambda d=detail: d.execution is not None)
                    await pilot.pause()
                    screens[f"detail {execution_id}"] = app.export_screenshot()
                    await pilot.press("escape")
                await app.action_history()
                await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
                await wait_for(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
                screens["history"] = app.export_screenshot()
                # The store is open: its -wal and -shm are private too (umask 0).
                assert (data / "history.db-wal").exists()
                assert loose_modes(data) == {}
                # The credentials are refused from now on: a refresh on the instances screen.
                sim.config.client_secret = secrets.wrong_secret
                sim._state.tokens.clear()
                await app.pop_screen()
                await app.pop_screen()
                await wait_for(pilot, lambda: app.screen is home)
                loads = home.load_count
                await pilot.press("r")
                await wait_for(pilot, lambda: home.load_count > loads)
                assert home.load_error is not None and "refused" in home.load_error
                screens["refused"] = app.export_screenshot()
                notices = [f"{n.title}: {n.message}" for n in app._notifications]
    tokens = issued_tokens(sim)
    values = [*secrets.values()[:2], *tokens]
    texts = {name: svg_text(svg) for name, svg in screens.items()}
    texts["notices"] = "\n".join(notices)
    assert "Security 00" in texts["dashboard"] and "refused" in texts["refused"]
    files = written_files(data, config_dir)
    assert any(path.name == "state.toml" for path in files)
    assert_no_leaks(files, texts, values, config)
    assert loose_modes(data) == {}
    story = settings.paths.log_file.read_text()
    assert batch.id in story and "[forbidden]" in story and "refused" in story
    record(
        "client secret, refresh token and access tokens searched in every file, screen "
        "and notice of the TUI",
        f"none found in {len(files) - 1} files nor on {len(screens)} screens "
        f"(instances, confirm, dashboard, {len(failed)} execution details, history, a "
        f"refusal); {len(tokens)} access tokens issued",
        calls=sim.stats.requests,
        group="Security",
    )


def echo_secrets(call: Call) -> tuple[int, bytes] | None:
    """A careless server: errors whose bodies echo the request (form and headers)."""
    if call.path == TOKEN_PATH and b"echo-400" in call.body:
        return 400, call.body  # the form, URL-encoded: the refresh token and client secret
    if call.path == TOKEN_PATH and b"echo-500" in call.body:
        return 500, call.body
    if call.path == "/amc/instances":
        return 500, json.dumps({"details": call.headers}).encode()  # the bearer token
    if "/workflowExecutions" in call.path:
        return 200, f"not json {call.headers}".encode()  # an answer that cannot be read
    return None


async def errors_from(
    server: ThreadedServer, client_id: str, secrets: SecretMarkers
) -> list[AmcTuiError]:
    """The errors the client raises on the careless server, one per kind of call."""
    errors: list[AmcTuiError] = []
    instance = INSTANCES[0].instance_id
    for client_id_sent in (f"{client_id}-echo-400", f"{client_id}-echo-500", client_id):
        client = open_client(
            api_url=server.base_url,
            token_url=server.base_url + TOKEN_PATH,
            client_id=client_id_sent,
            advertiser_id=SimulatorConfig().advertiser_id,
            marketplace_id=SimulatorConfig().marketplace_id,
            client_secret=SecretStr(secrets.client_secret),
            refresh_token=SecretStr(secrets.refresh_token),
        )
        async with client:
            calls = [
                client.list_instances(),
                client.create_execution(instance, QuerySpec(sql=SQL)),
                client.get_execution(instance, "e-1"),
            ]
            for call in calls:
                try:
                    await call
                except AmcTuiError as error:
                    errors.append(error)
    return errors


async def test_no_secret_in_errors_settings_or_their_log_lines(tmp_path: Path) -> None:
    secrets = new_secrets()
    sim = AmcSimulator(
        SimulatorConfig.reliable(
            client_secret=secrets.client_secret,
            refresh_token=secrets.refresh_token,
            instances=INSTANCES,
        )
    )
    log_file = tmp_path / "data" / "logs" / "amc-tui.log"
    proxy = RewritingProxy(sim, answer=echo_secrets)
    with ThreadedServer(proxy) as server, logging_to(log_file):
        errors = await errors_from(server, sim.config.client_id, secrets)
        config = write_config(tmp_path / "config.toml", server.base_url, secrets)
        settings = load_settings(config=config, env={})
        config.chmod(0o644)
        with pytest.raises(ConfigError) as loose:
            load_settings(config=config, env={})
        errors.append(loose.value)
        typo = tmp_path / "typo.toml"
        typo.write_text(
            config.read_text()
            .replace('client_secret = "', 'client_secret = ["', 1)
            .replace('-client"', '-client"]', 1)
        )
        typo.chmod(0o600)
        with pytest.raises(ConfigError) as mistyped:
            load_settings(config=typo, env={})
        errors.append(mistyped.value)
        for error in errors:
            logging.getLogger("amc_tui.tests").error("%s", error.log_text())
    values = [*secrets.values()[:2], *issued_tokens(sim)]
    kinds = sorted({type(error).__name__ for error in errors})
    expected = {
        "CredentialsError",
        "ServerError",
        "ProtocolError",
        "LostAnswerError",
        "ConfigError",
    }
    assert expected <= set(kinds)
    assert len(issued_tokens(sim)) >= 1
    # The echoes did carry the secrets: what the client made of them must not.
    assert set(found_in(b"".join(proxy.sent), values)) == set(values)
    for error in errors:
        shown = [
            str(error),
            repr(error),
            error.user_message,
            error.detail,
            error.log_text(),
            repr(error.args),
            "".join(traceback.format_exception(error)),
        ]
        assert found_in("\n".join(shown).encode(), values) == [], (type(error), error.detail)
    assert any("HTTP 400" in error.detail for error in errors)  # the detail is kept, scrubbed
    objects = [settings, settings.profile, settings.credentials]
    objects_text = "\n".join(f"{o!s} {o!r}" for o in objects)
    objects_text += settings.profile.model_dump_json() if settings.profile else ""
    assert found_in(objects_text.encode(), values) == []
    assert found_in(log_file.read_bytes(), values) == []
    assert "POST token -> HTTP 400" in log_file.read_text()
    record(
        "a server echoing the token form and the bearer token in its error bodies; "
        "str/repr of errors and settings",
        f"{len(errors)} errors ({', '.join(kinds)}): no secret in str, repr, detail, "
        "traceback nor log line; settings and credentials show none",
        group="Security",
    )
