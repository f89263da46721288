"""The config file's schema: a pydantic model for each of its tables.

:class:`ConfigFile` is the whole file (DESIGN section 7): ``default_profile``,
``[profiles.NAME]`` (:class:`ProfileSettings`), ``[engine]``
(:class:`EngineSettings`) and ``[http]`` (:class:`HttpSettings`).  Unknown keys are
refused, so a typo never passes silently.  :func:`validate_config` checks a parsed
file and turns pydantic's errors into one :class:`~amc_tui.errors.ConfigError`
naming the file and each key.  :mod:`amc_tui.config_check` holds the same rules as a
plain table, for a quick check without pydantic.

:mod:`amc_tui.settings` finds and reads the file, and imports this module only when
there is one to check (or a model is asked for): a command run with no config file,
such as ``amc-tui history`` in demo mode, never loads pydantic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

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

from amc_tui.config_check import SECRET_KEYS, check_url
from amc_tui.errors import ConfigError


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
        return check_url(value, info.field_name or "url")


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


def validate_config(raw: dict[str, Any], path: Path) -> ConfigFile:
    """The parsed TOML ``raw`` of the file at ``path`` as a :class:`ConfigFile`.

    Raises :class:`ConfigError` naming the file and every key that is wrong.
    """
    try:
        return ConfigFile.model_validate(raw)
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
            secret = any(part in SECRET_KEYS for part in error["loc"])
            plain = isinstance(shown, str | int | float | bool) and not secret
            value = f" (got {shown!r})" if plain else ""  # never a secret, even mistyped
            problems.append(f"{where or 'value'}: {message}{value}")
    return "; ".join(problems)
