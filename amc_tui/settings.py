"""Settings: the TOML config file, profiles, credentials and where files live.

The config file (DESIGN section 7) is read with :mod:`tomllib` and validated with
pydantic; every mistake becomes a :class:`~amc_tui.errors.ConfigError` whose
message names the file and what is wrong (exit code 3).  Unknown keys are refused,
so a typo never passes silently.

Where things are found, first match wins:

- config file: ``--config``, ``AMC_TUI_CONFIG``, the platform config dir;
- data dir (history, logs, state): ``--data-dir``, ``AMC_TUI_DATA_DIR``, the
  platform data dir;
- profile: ``--profile``, ``default_profile``, the only profile there is;
- secrets: ``AMC_CLIENT_SECRET`` / ``AMC_REFRESH_TOKEN``, else the config file,
  which must then be mode 0600 (refused otherwise, the way ssh refuses a key).

With no profile configured (or ``--demo``) amc-tui runs on the embedded simulator.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from amc_tui.errors import ConfigError

APP_NAME = "amc-tui"
DEMO_PROFILE = "demo"

ENV_CONFIG = "AMC_TUI_CONFIG"
ENV_DATA_DIR = "AMC_TUI_DATA_DIR"
ENV_CLIENT_SECRET = "AMC_CLIENT_SECRET"  # noqa: S105 - a variable name
ENV_REFRESH_TOKEN = "AMC_REFRESH_TOKEN"  # noqa: S105 - a variable name

_SECRET_KEYS = ("client_secret", "refresh_token")


def _check_url(value: str, field: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} {value!r} is not an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"{field} {value!r} uses plain http to a remote host; use https "
            "(plain http is allowed for localhost only)"
        )
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProfileSettings(BaseModel):
    """One AMC account: where to reach it and who we are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str = "https://advertising-api.amazon.com"
    token_url: str = "https://api.amazon.com/auth/o2/token"  # noqa: S105 - a URL
    client_id: str = Field(min_length=1, max_length=500)
    advertiser_id: str = Field(min_length=1, max_length=200)
    marketplace_id: str = Field(default="ATVPDKIKX0DER", min_length=1, max_length=50)
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None

    @field_validator("api_url", "token_url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        return _check_url(value, info.field_name or "url")


class EngineSettings(BaseModel):
    """How the batch engine behaves (``[engine]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_concurrent_executions: int = Field(default=5, ge=1, le=100)
    max_batch_size: int = Field(default=100, ge=1, le=10_000)
    max_retry_attempts: int = Field(default=3, ge=0, le=20)
    """Tries after the first that failed transiently: 3 means waits of 2, 4 and 8 s."""
    retry_delay_base: float = Field(default=2.0, ge=0, le=3600)
    poll_interval_min: float = Field(default=2.0, gt=0, le=3600)
    poll_interval_max: float = Field(default=60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _poll_order(self) -> Self:
        if self.poll_interval_min > self.poll_interval_max:
            raise ValueError(
                f"poll_interval_min ({self.poll_interval_min}) is above "
                f"poll_interval_max ({self.poll_interval_max})"
            )
        return self


class HttpSettings(BaseModel):
    """The shared HTTP connection pool (``[http]``; an addition to DESIGN section 7)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(default=30.0, gt=0, le=600)
    connect_timeout: float = Field(default=10.0, gt=0, le=600)
    max_connections: int = Field(default=20, ge=1, le=500)
    max_keepalive_connections: int = Field(default=10, ge=0, le=500)


class ConfigFile(BaseModel):
    """The whole config file as written by the operator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_profile: str | None = Field(default=None, min_length=1)
    profiles: dict[str, ProfileSettings] = Field(default_factory=dict)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)


@dataclass(frozen=True)
class Credentials:
    """The secret half of a profile.  ``repr`` never shows the values."""

    client_secret: SecretStr
    refresh_token: SecretStr

    def values(self) -> tuple[str, str]:
        """The raw secrets, for redaction lists."""
        return (self.client_secret.get_secret_value(), self.refresh_token.get_secret_value())


@dataclass(frozen=True)
class Paths:
    """Where amc-tui reads and writes files."""

    config_file: Path
    config_file_explicit: bool
    data_dir: Path

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.db"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "amc-tui.log"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.toml"

    @property
    def lock_dir(self) -> Path:
        """One lock file per batch being run (see :mod:`amc_tui.engine.locks`)."""
        return self.data_dir / "locks"

    @property
    def simulator_state_file(self) -> Path:
        """The demo simulator's executions, shared by every amc-tui process."""
        return self.data_dir / "simulator-state.json"

    @property
    def queries_dir(self) -> Path:
        return self.config_file.parent / "queries"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know, resolved once at start-up."""

    paths: Paths
    profile_name: str
    profile: ProfileSettings | None
    """None in demo mode."""
    credentials: Credentials | None
    """None in demo mode."""
    engine: EngineSettings
    http: HttpSettings

    @property
    def demo(self) -> bool:
        return self.profile is None

    def require_credentials(self) -> Credentials:
        """The credentials, or a ConfigError naming the missing one and how to give it."""
        if self.credentials is None:
            raise ConfigError(f"profile {self.profile_name!r} has no credentials")
        return self.credentials


def ensure_data_dir(paths: Paths) -> Path:
    """Create the data dir (mode 0700, only if missing); a ConfigError names it if that fails."""
    other = f"choose another with --data-dir or {ENV_DATA_DIR}"
    try:
        paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"data dir {paths.data_dir} cannot be created: {exc.strerror or exc} ({other})"
        ) from None
    if not os.access(paths.data_dir, os.W_OK | os.X_OK):
        raise ConfigError(f"data dir {paths.data_dir} is not writable ({other})")
    return paths.data_dir


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def resolve_paths(
    config: Path | None = None, data_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Paths:
    env = os.environ if env is None else env
    explicit = config is not None or bool(env.get(ENV_CONFIG))
    if config is None:
        config = Path(env[ENV_CONFIG]) if env.get(ENV_CONFIG) else default_config_file()
    if data_dir is None:
        data_dir = Path(env[ENV_DATA_DIR]) if env.get(ENV_DATA_DIR) else default_data_dir()
    return Paths(
        config_file=config.expanduser(),
        config_file_explicit=explicit,
        data_dir=data_dir.expanduser(),
    )


def read_config_file(path: Path, *, required: bool) -> tuple[ConfigFile, dict[str, Any]]:
    """Parse and validate the config file; a missing optional file is an empty config.

    Returns the model and the raw TOML table (to see which keys the file holds).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return ConfigFile(), {}
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    try:
        return ConfigFile.model_validate(raw), raw
    except ValidationError as exc:
        raise ConfigError(f"config file {path}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """Pydantic's errors as one readable sentence per problem, naming each key."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {where!r}")
        elif error["type"] == "missing":
            problems.append(f"missing key {where!r}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            shown = error.get("input")
            secret = any(part in _SECRET_KEYS for part in error["loc"])
            plain = isinstance(shown, str | int | float | bool) and not secret
            value = f" (got {shown!r})" if plain else ""  # never a secret, even mistyped
            problems.append(f"{where or 'value'}: {message}{value}")
    return "; ".join(problems)


def _file_holds_secrets(raw: Mapping[str, Any], profile: str) -> bool:
    table = raw.get("profiles", {}).get(profile, {})
    return any(key in table for key in _SECRET_KEYS)


def _check_secret_file_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"config file {path} holds secrets but is readable by others (mode {mode:04o}); "
            f"run: chmod 600 {path}  (or move the secrets to {ENV_CLIENT_SECRET} and "
            f"{ENV_REFRESH_TOKEN})"
        )


def _pick_profile(config: ConfigFile, path: Path, requested: str | None) -> str | None:
    if requested is not None:
        if requested not in config.profiles:
            known = ", ".join(sorted(config.profiles)) or "none"
            raise ConfigError(
                f"profile {requested!r} is not in config file {path} (profiles: {known})"
            )
        return requested
    if config.default_profile is not None:
        if config.default_profile not in config.profiles:
            raise ConfigError(
                f"config file {path}: default_profile {config.default_profile!r} "
                "has no [profiles." + config.default_profile + "] table"
            )
        return config.default_profile
    if len(config.profiles) == 1:
        return next(iter(config.profiles))
    if config.profiles:
        raise ConfigError(
            f"config file {path} has several profiles ({', '.join(sorted(config.profiles))}); "
            "set default_profile or pass --profile"
        )
    return None


def _credentials(
    profile_name: str,
    profile: ProfileSettings,
    raw: Mapping[str, Any],
    path: Path,
    env: Mapping[str, str],
) -> Credentials:
    if _file_holds_secrets(raw, profile_name):
        _check_secret_file_mode(path)
    values: dict[str, SecretStr] = {}
    for key, env_name in (
        ("client_secret", ENV_CLIENT_SECRET),
        ("refresh_token", ENV_REFRESH_TOKEN),
    ):
        from_env = env.get(env_name)
        from_file: SecretStr | None = getattr(profile, key)
        if from_env:
            values[key] = SecretStr(from_env)
        elif from_file is not None and from_file.get_secret_value():
            values[key] = from_file
        else:
            raise ConfigError(
                f"profile {profile_name!r} has no {key}: set {env_name}, or {key} in "
                f"[profiles.{profile_name}] of {path} (with the file at mode 0600)"
            )
    return Credentials(client_secret=values["client_secret"], refresh_token=values["refresh_token"])


def load_settings(
    *,
    config: Path | None = None,
    data_dir: Path | None = None,
    profile: str | None = None,
    demo: bool = False,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve paths, read the config file and pick the profile.

    Raises :class:`ConfigError` for any problem, naming the file and the key.
    """
    env = os.environ if env is None else env
    paths = resolve_paths(config, data_dir, env)
    config_file, raw = read_config_file(paths.config_file, required=paths.config_file_explicit)
    if paths.data_dir.exists() and not paths.data_dir.is_dir():
        raise ConfigError(f"data dir {paths.data_dir} exists and is not a directory")
    name = None if demo else _pick_profile(config_file, paths.config_file, profile)
    if name is None:
        return Settings(
            paths=paths,
            profile_name=DEMO_PROFILE,
            profile=None,
            credentials=None,
            engine=config_file.engine,
            http=config_file.http,
        )
    chosen = config_file.profiles[name]
    return Settings(
        paths=paths,
        profile_name=name,
        profile=chosen,
        credentials=_credentials(name, chosen, raw, paths.config_file, env),
        engine=config_file.engine,
        http=config_file.http,
    )
