"""The settings of ``amc-tui history``: the same checks and messages as every command's.

:func:`~amc_tui.settings.load_local_settings` skips pydantic when there is no config
file (so ``history`` starts fast in demo mode), and validates a config file that is
there exactly as :func:`~amc_tui.settings.load_settings` does.  Here the two are held
to the same answer, and ``amc-tui history`` to the same exit code and message as
another command, for every kind of mistake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amc_tui.cli import EXIT_CONFIG, main
from amc_tui.errors import ConfigError
from amc_tui.settings import LocalSettings, load_local_settings, load_settings

PROFILE = """
[profiles.default]
client_id = "amzn1.application-oa2-client.abc"
advertiser_id = "ENTITY1AA1AA11AAA1"
"""

SECRETS_ENV = {"AMC_CLIENT_SECRET": "s3cret-value", "AMC_REFRESH_TOKEN": "Atzr|refresh-value"}

BAD_CONFIGS = {
    "invalid toml": ("[engine\n", 0o600),
    "unknown key": ("colour = 'blue'\n", 0o600),
    "bad value": ("[engine]\nmax_batch_size = 'lots'\n", 0o600),
    "bad bounds": ("[engine]\npoll_interval_min = 90.0\npoll_interval_max = 60.0\n", 0o600),
    "missing key": ("[profiles.default]\nadvertiser_id = 'E'\n", 0o600),
    "plain http": (PROFILE + 'api_url = "http://advertising-api.example.com"\n', 0o600),
    "no default": (PROFILE + PROFILE.replace("default", "second"), 0o600),
    "unknown default": ('default_profile = "prod"\n' + PROFILE, 0o600),
    "loose secrets": (PROFILE + 'client_secret = "x"\nrefresh_token = "y"\n', 0o640),
}


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def same_error(**kwargs: object) -> str:
    """The message both loaders give for these arguments (they must give one)."""
    with pytest.raises(ConfigError) as full:
        load_settings(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as local:
        load_local_settings(**kwargs)  # type: ignore[arg-type]
    assert str(local.value) == str(full.value)
    return str(local.value)


@pytest.mark.parametrize(("text", "mode"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_bad_config_file_gives_the_same_message(config_path: Path, text: str, mode: int) -> None:
    write(config_path, text, mode)
    assert str(config_path) in same_error(config=config_path, env=SECRETS_ENV)


def test_missing_credentials_give_the_same_message(config_path: Path) -> None:
    write(config_path, PROFILE)
    assert "no client_secret" in same_error(config=config_path, env={})


def test_unreadable_or_missing_files_give_the_same_message(tmp_path: Path) -> None:
    assert "does not exist" in same_error(config=tmp_path / "none.toml", env={})
    (tmp_path / "dir.toml").mkdir()
    assert "is a directory" in same_error(config=tmp_path / "dir.toml", env={})
    (tmp_path / "latin1.toml").write_bytes(b"name = '\xe9'\n")
    assert "not UTF-8" in same_error(config=tmp_path / "latin1.toml", env={})


def test_without_a_config_file_the_same_things_are_checked(tmp_path: Path) -> None:
    env = {"AMC_TUI_DATA_DIR": str(tmp_path / "d")}
    assert "profile 'prod' is not in config file" in same_error(profile="prod", env=env)
    (tmp_path / "file").write_text("")
    message = same_error(data_dir=tmp_path / "file", env=env)
    assert "is not a directory" in message


def test_without_a_config_file_it_is_demo_mode(tmp_path: Path) -> None:
    env = {"AMC_TUI_DATA_DIR": str(tmp_path / "d")}
    local = load_local_settings(env=env)
    full = load_settings(env=env)
    assert local == LocalSettings(paths=full.paths, demo=True, secrets=())
    assert load_local_settings(profile="prod", demo=True, env=env).demo


def test_a_profile_gives_its_paths_and_secrets(config_path: Path, tmp_path: Path) -> None:
    write(config_path, PROFILE + 'client_secret = "file-secret"\n')
    env = {"AMC_REFRESH_TOKEN": "env-refresh", "AMC_TUI_DATA_DIR": str(tmp_path / "d")}
    local = load_local_settings(config=config_path, env=env)
    full = load_settings(config=config_path, env=env)
    assert local.paths == full.paths
    assert not local.demo
    assert local.secrets == ("file-secret", "env-refresh")
    assert load_local_settings(config=config_path, demo=True, env=env).demo


@pytest.mark.parametrize(("text", "mode"), BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_history_exits_3_with_the_message_another_command_gives(
    config_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    mode: int,
) -> None:
    for name, value in SECRETS_ENV.items():
        monkeypatch.setenv(name, value)
    write(config_path, text, mode)
    options = ["--config", str(config_path), "--data-dir", str(data_dir)]
    assert main(["history", *options]) == EXIT_CONFIG
    from_history = capsys.readouterr().err
    assert main(["show", "batch_AAAAAAAA", *options]) == EXIT_CONFIG
    assert from_history == capsys.readouterr().err
    assert str(config_path) in from_history
