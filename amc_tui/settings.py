"""Settings: the TOML config file, profiles, credentials and where files live.

The config file (DESIGN section 7) is read with :mod:`tomllib` and validated with
the pydantic models of :mod:`amc_tui.config_models` (re-exported here, and loaded only
when needed: :func:`load_local_settings`, for the commands that speak to no AMC, loads
none when there is no config file or :mod:`amc_tui.config_check` vouches for it);
every mistake becomes a :class:`~amc_tui.errors.ConfigError` whose message names the
file and what is wrong (exit code 3).  Unknown keys are refused, so a typo never
passes silently.

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

import os
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amc_tui.config_check import SECRET_KEYS, certainly_valid
from amc_tui.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from amc_tui.config_models import ConfigFile as ConfigFile
    from amc_tui.config_models import EngineSettings as EngineSettings
    from amc_tui.config_models import HttpSettings as HttpSettings
    from amc_tui.config_models import ProfileSettings as ProfileSettings

APP_NAME = "amc-tui"
DEMO_PROFILE = "demo"

ENV_CONFIG = "AMC_TUI_CONFIG"
ENV_DATA_DIR = "AMC_TUI_DATA_DIR"
ENV_CLIENT_SECRET = "AMC_CLIENT_SECRET"  # noqa: S105 - a variable name
ENV_REFRESH_TOKEN = "AMC_REFRESH_TOKEN"  # noqa: S105 - a variable name

_MODELS = frozenset({"ConfigFile", "EngineSettings", "HttpSettings", "ProfileSettings"})
"""The config file's pydantic models, defined in :mod:`amc_tui.config_models`."""


def __getattr__(name: str) -> Any:
    """The config file's models, loaded (with pydantic) when first asked for."""
    if name in _MODELS:
        from amc_tui import config_models

        return getattr(config_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    def results_dir(self) -> Path:
        """Downloaded results: ``results/BATCH_ID/INSTANCE_ID/`` (issue 7)."""
        return self.data_dir / "results"

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
    import platformdirs  # here: --config and AMC_TUI_CONFIG need none of it

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    import platformdirs

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


def _read_config_bytes(path: Path, *, required: bool) -> bytes | None:
    """The config file's bytes; None if it is missing and optional."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None


def _parse_config(path: Path, data: bytes) -> tuple[ConfigFile, dict[str, Any]]:
    """The config file's bytes as TOML, validated (pydantic is loaded here)."""
    from amc_tui.config_models import validate_config

    raw = _parse_toml(path, data)
    return validate_config(raw, path), raw


def _parse_toml(path: Path, data: bytes) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _file_holds_secrets(raw: Mapping[str, Any], profile: str) -> bool:
    table = raw.get("profiles", {}).get(profile, {})
    return any(key in table for key in SECRET_KEYS)


def _check_secret_file_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"config file {path} holds secrets but is readable by others (mode {mode:04o}); "
            f"run: chmod 600 {path}  (or move the secrets to {ENV_CLIENT_SECRET} and "
            f"{ENV_REFRESH_TOKEN})"
        )


def _pick_profile(
    profiles: Collection[str], default_profile: str | None, path: Path, requested: str | None
) -> str | None:
    """The profile to use among ``profiles`` (the config file's), or None for demo mode."""
    if requested is not None:
        if requested not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(
                f"profile {requested!r} is not in config file {path} (profiles: {known})"
            )
        return requested
    if default_profile is not None:
        if default_profile not in profiles:
            raise ConfigError(
                f"config file {path}: default_profile {default_profile!r} "
                "has no [profiles." + default_profile + "] table"
            )
        return default_profile
    if len(profiles) == 1:
        return next(iter(profiles))
    if profiles:
        raise ConfigError(
            f"config file {path} has several profiles ({', '.join(sorted(profiles))}); "
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
    from pydantic import SecretStr  # pydantic is loaded: the profile came from a file

    in_file = {
        key: None if secret is None else secret.get_secret_value()
        for key in SECRET_KEYS
        for secret in [getattr(profile, key)]
    }
    client_secret, refresh_token = _secret_values(profile_name, in_file, raw, path, env)
    return Credentials(
        client_secret=SecretStr(client_secret), refresh_token=SecretStr(refresh_token)
    )


def _secret_values(
    profile_name: str,
    in_file: Mapping[str, str | None],
    raw: Mapping[str, Any],
    path: Path,
    env: Mapping[str, str],
) -> tuple[str, str]:
    """The profile's client secret and refresh token: each from its environment
    variable, else from the file (which must then be mode 0600); a ConfigError names
    the one missing and how to give it."""
    if _file_holds_secrets(raw, profile_name):
        _check_secret_file_mode(path)
    values: dict[str, str] = {}
    for key, env_name in (
        ("client_secret", ENV_CLIENT_SECRET),
        ("refresh_token", ENV_REFRESH_TOKEN),
    ):
        from_env = env.get(env_name)
        from_file = in_file.get(key)
        if from_env:
            values[key] = from_env
        elif from_file:
            values[key] = from_file
        else:
            raise ConfigError(
                f"profile {profile_name!r} has no {key}: set {env_name}, or {key} in "
                f"[profiles.{profile_name}] of {path} (with the file at mode 0600)"
            )
    return values["client_secret"], values["refresh_token"]


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
    data = _read_config_bytes(paths.config_file, required=paths.config_file_explicit)
    return _settings(paths, data, profile=profile, demo=demo, env=env)


def _settings(
    paths: Paths, data: bytes | None, *, profile: str | None, demo: bool, env: Mapping[str, str]
) -> Settings:
    """Settings from the config file's bytes (None: no file, an empty config)."""
    from amc_tui.config_models import ConfigFile

    config_file, raw = (
        (ConfigFile(), {}) if data is None else _parse_config(paths.config_file, data)
    )
    _check_data_dir(paths)
    name = (
        None
        if demo
        else _pick_profile(
            config_file.profiles, config_file.default_profile, paths.config_file, profile
        )
    )
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


def _check_data_dir(paths: Paths) -> None:
    if paths.data_dir.exists() and not paths.data_dir.is_dir():
        raise ConfigError(f"data dir {paths.data_dir} exists and is not a directory")


@dataclass(frozen=True)
class LocalSettings:
    """What a command that works on local files only (``amc-tui history``) needs:
    where they are, whether this is demo mode, and the secrets to keep out of the log."""

    paths: Paths
    demo: bool
    secrets: tuple[str, ...]


def load_local_settings(
    *,
    config: Path | None = None,
    data_dir: Path | None = None,
    profile: str | None = None,
    demo: bool = False,
    env: Mapping[str, str] | None = None,
) -> LocalSettings:
    """:func:`load_settings` for a command that speaks to no AMC, checked the same way.

    The same file is read and the same :class:`ConfigError` raised for the same
    mistake, in the same order (a config file that is there is validated whole,
    profile and credentials included).  Pydantic is not loaded when there is no config
    file (demo mode), nor when :func:`~amc_tui.config_check.certainly_valid` vouches
    for the file; anything it is unsure of is validated with the models, which word
    the error.
    """
    env = os.environ if env is None else env
    paths = resolve_paths(config, data_dir, env)
    data = _read_config_bytes(paths.config_file, required=paths.config_file_explicit)
    raw = {} if data is None else _parse_toml(paths.config_file, data)
    checked = certainly_valid(raw)
    if checked is None:  # a file it is unsure of (no file is certainly valid)
        settings = _settings(paths, data, profile=profile, demo=demo, env=env)
        secrets = settings.credentials.values() if settings.credentials is not None else ()
        return LocalSettings(paths=settings.paths, demo=settings.demo, secrets=secrets)
    # What _settings checks once the models accepted the file, in the same order.
    _check_data_dir(paths)
    name = (
        None
        if demo
        else _pick_profile(checked.profiles, checked.default_profile, paths.config_file, profile)
    )
    if name is None:
        return LocalSettings(paths=paths, demo=True, secrets=())
    table = checked.profiles[name]
    in_file = {key: table.get(key) for key in SECRET_KEYS}
    secrets = _secret_values(name, in_file, raw, paths.config_file, env)
    return LocalSettings(paths=paths, demo=False, secrets=secrets)
