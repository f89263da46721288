"""Settings: where files are found, profiles, secrets, and every bad input (exit code 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amc_tui.cli import EXIT_CONFIG, main
from amc_tui.errors import ConfigError
from amc_tui.settings import DEMO_PROFILE, load_settings

PROFILE = """
[profiles.default]
client_id = "amzn1.application-oa2-client.abc"
advertiser_id = "ENTITY1AA1AA11AAA1"
"""

SECRETS_ENV = {"AMC_CLIENT_SECRET": "s3cret-value", "AMC_REFRESH_TOKEN": "Atzr|refresh-value"}


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def load(config: Path, **kwargs: object) -> object:
    env = kwargs.pop("env", SECRETS_ENV)
    return load_settings(config=config, env=env, **kwargs)  # type: ignore[arg-type]


def test_no_config_file_means_demo_mode(tmp_path: Path) -> None:
    settings = load_settings(env={"AMC_TUI_DATA_DIR": str(tmp_path / "d")})
    assert settings.demo
    assert settings.profile_name == DEMO_PROFILE
    assert settings.credentials is None
    assert settings.paths.data_dir == tmp_path / "d"
    assert settings.engine.max_concurrent_executions == 5
    assert settings.engine.max_batch_size == 100


def test_config_from_env_and_flag_precedence(tmp_path: Path, config_path: Path) -> None:
    write(config_path, PROFILE)
    other = write(tmp_path / "other.toml", PROFILE.replace("ENTITY1AA1AA11AAA1", "ENTITYOTHER"))
    env = {"AMC_TUI_CONFIG": str(config_path), **SECRETS_ENV}
    from_env = load_settings(env=env)
    assert from_env.profile is not None
    assert from_env.profile.advertiser_id == "ENTITY1AA1AA11AAA1"
    from_flag = load_settings(config=other, env=env)
    assert from_flag.profile is not None
    assert from_flag.profile.advertiser_id == "ENTITYOTHER"


def test_profile_and_engine_values_are_read(config_path: Path) -> None:
    write(
        config_path,
        'default_profile = "eu"\n'
        + PROFILE
        + """
[profiles.eu]
api_url = "https://advertising-api-eu.amazon.com"
token_url = "https://api.amazon.co.uk/auth/o2/token"
client_id = "amzn1.application-oa2-client.eu"
advertiser_id = "ENTITYEU"
marketplace_id = "A1PA6795UKMFR9"

[engine]
max_concurrent_executions = 7
retry_delay_base = 0.5
""",
    )
    settings = load_settings(config=config_path, env=SECRETS_ENV)
    assert settings.profile_name == "eu"
    assert settings.profile is not None
    assert settings.profile.api_url == "https://advertising-api-eu.amazon.com"
    assert settings.engine.max_concurrent_executions == 7
    assert settings.engine.retry_delay_base == 0.5
    chosen = load_settings(config=config_path, profile="default", env=SECRETS_ENV)
    assert chosen.profile_name == "default"
    assert load_settings(config=config_path, demo=True, env=SECRETS_ENV).demo


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default_profile = \n", "not valid TOML"),
        (
            "[profiles.default]\nclinet_id = 'x'\nadvertiser_id = 'E'\nclient_id = 'c'\n",
            "unknown key 'profiles.default.clinet_id'",
        ),
        ("colour = 'blue'\n", "unknown key 'colour'"),
        (
            "[engine]\nmax_concurent_executions = 3\n",
            "unknown key 'engine.max_concurent_executions'",
        ),
        (
            "[engine]\nmax_concurrent_executions = 'five'\n",
            "engine.max_concurrent_executions: Input should be a valid integer",
        ),
        ("[engine]\nmax_concurrent_executions = 0\n", "engine.max_concurrent_executions"),
        (
            "[engine]\npoll_interval_min = 90.0\npoll_interval_max = 60.0\n",
            "poll_interval_min (90.0)",
        ),
        ("[profiles.default]\nadvertiser_id = 'E'\n", "missing key 'profiles.default.client_id'"),
        ('default_profile = "prod"\n' + PROFILE, "default_profile 'prod' has no [profiles.prod]"),
        (PROFILE + PROFILE.replace("default", "second"), "set default_profile or pass --profile"),
        (
            PROFILE + 'api_url = "http://advertising-api.example.com"\n',
            "plain http to a remote host",
        ),
        (PROFILE + 'api_url = "ftp://x"\n', "is not an http(s) URL"),
    ],
)
def test_bad_config_gives_clear_message(config_path: Path, text: str, expected: str) -> None:
    write(config_path, text)
    with pytest.raises(ConfigError) as caught:
        load(config_path)
    assert expected in str(caught.value)
    assert str(config_path) in str(caught.value)


def test_invalid_toml_names_the_line(config_path: Path) -> None:
    write(config_path, "[engine]\nmax_batch_size = 10\nthis is not toml\n")
    with pytest.raises(ConfigError, match=r"line 3"):
        load(config_path)


def test_missing_profile_is_named(config_path: Path) -> None:
    write(config_path, PROFILE)
    with pytest.raises(
        ConfigError, match=r"profile 'prod' is not in config file .*\(profiles: default\)"
    ):
        load(config_path, profile="prod")


def test_explicit_config_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config=missing, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"AMC_TUI_CONFIG": str(missing)})


def test_unreadable_config(tmp_path: Path) -> None:
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(config=directory, env={})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(config=binary, env={})


def test_secrets_in_a_loose_file_are_refused_like_ssh(config_path: Path) -> None:
    text = PROFILE + 'client_secret = "file-secret"\nrefresh_token = "file-refresh"\n'
    write(config_path, text, mode=0o644)
    with pytest.raises(ConfigError) as caught:
        load_settings(config=config_path, env={})
    message = str(caught.value)
    assert "mode 0644" in message
    assert f"chmod 600 {config_path}" in message
    assert "file-secret" not in message
    config_path.chmod(0o600)
    settings = load_settings(config=config_path, env={})
    assert settings.credentials is not None
    assert settings.credentials.values() == ("file-secret", "file-refresh")
    assert "file-secret" not in repr(settings)


def test_env_secrets_win_over_the_file(config_path: Path) -> None:
    write(config_path, PROFILE + 'client_secret = "file-secret"\nrefresh_token = "file-refresh"\n')
    settings = load_settings(config=config_path, env={"AMC_CLIENT_SECRET": "env-secret"})
    assert settings.credentials is not None
    assert settings.credentials.values() == ("env-secret", "file-refresh")


def test_missing_secret_names_the_env_variable(config_path: Path) -> None:
    write(config_path, PROFILE, mode=0o644)
    with pytest.raises(ConfigError, match="no client_secret: set AMC_CLIENT_SECRET"):
        load_settings(config=config_path, env={})
    with pytest.raises(ConfigError, match="no refresh_token: set AMC_REFRESH_TOKEN"):
        load_settings(config=config_path, env={"AMC_CLIENT_SECRET": "x"})


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_settings(data_dir=not_a_dir, env={})


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        ("[engine\n", 0o600, "not valid TOML"),
        ("typo = 1\n", 0o600, "unknown key 'typo'"),
        ("[engine]\nmax_batch_size = 'lots'\n", 0o600, "engine.max_batch_size"),
        (PROFILE + 'client_secret = "x"\nrefresh_token = "y"\n', 0o640, "chmod 600"),
    ],
)
def test_cli_exits_3_with_the_message(
    config_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    mode: int,
    expected: str,
) -> None:
    write(config_path, text, mode=mode)
    code = main(["instances", "--config", str(config_path), "--data-dir", str(data_dir)])
    assert code == EXIT_CONFIG
    err = capsys.readouterr().err
    assert expected in err
    assert str(config_path) in err


def test_cli_missing_profile_exits_3(
    config_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(config_path, PROFILE)
    os.environ.update(SECRETS_ENV)
    try:
        code = main(["--profile", "nope", "instances", "--config", str(config_path)])
    finally:
        for key in SECRETS_ENV:
            os.environ.pop(key, None)
    assert code == EXIT_CONFIG
    assert "profile 'nope' is not in config file" in capsys.readouterr().err
