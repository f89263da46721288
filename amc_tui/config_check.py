"""A quick check, without pydantic, that a config file is certainly valid.

``amc-tui history`` must start fast (issue 6) yet refuse a bad config file as every
command does.  Validating with the pydantic models of :mod:`amc_tui.config_models`
costs more than the rest of the command, so :func:`certainly_valid` first checks
the parsed TOML against :data:`RULES`, a plain table of the same fields and bounds:
exact types only (an ``int`` where the model wants one, never a string or a bool it
might coerce), every bound, no unknown key, the URL rule and the poll-interval order.
A file it accepts is one the models accept too; for anything else it answers None and
the caller validates with the models, which give the error message (or accept what
they may coerce).  So it may send a valid file the slow way, never let a bad one
through.  ``tests/test_config_check.py`` holds :data:`RULES` to the models' schema.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

SECRET_KEYS = ("client_secret", "refresh_token")
"""The keys of a profile that hold secrets (never echoed in an error message)."""


def check_url(value: str, field: str) -> str:
    """``value`` without a trailing ``/`` if it is an http(s) URL we may use; else a
    ``ValueError`` naming ``field`` (plain http only to the loopback)."""
    from urllib.parse import urlsplit  # here: only a profile's URLs need it

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
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Rule:
    """What one key of a table may hold.

    ``kind``: ``str`` (length within ``low..high``), ``url`` (a string passing
    :func:`check_url`), ``secret`` (any string), ``int`` or ``float`` (a number
    within ``low..high``; ``low_open`` excludes ``low`` itself).
    """

    kind: Literal["str", "url", "secret", "int", "float"]
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    required: bool = False


RULES: Mapping[str, Mapping[str, Rule]] = {
    "profile": {
        "api_url": Rule("url"),
        "token_url": Rule("url"),
        "client_id": Rule("str", 1, 500, required=True),
        "advertiser_id": Rule("str", 1, 200, required=True),
        "marketplace_id": Rule("str", 1, 50),
        "client_secret": Rule("secret"),
        "refresh_token": Rule("secret"),
    },
    "engine": {
        "max_concurrent_executions": Rule("int", 1, 100),
        "max_batch_size": Rule("int", 1, 10_000),
        "max_retry_attempts": Rule("int", 0, 20),
        "retry_delay_base": Rule("float", 0, 3600),
        "poll_interval_min": Rule("float", 0, 3600, low_open=True),
        "poll_interval_max": Rule("float", 0, 3600, low_open=True),
    },
    "http": {
        "timeout": Rule("float", 0, 600, low_open=True),
        "connect_timeout": Rule("float", 0, 600, low_open=True),
        "max_connections": Rule("int", 1, 500),
        "max_keepalive_connections": Rule("int", 0, 500),
    },
}
"""The tables of :class:`~amc_tui.config_models.ConfigFile`: ``[profiles.NAME]``,
``[engine]`` and ``[http]``, key by key."""

POLL_DEFAULTS = (2.0, 60.0)
"""``poll_interval_min`` and ``poll_interval_max`` when the file leaves them out."""


@dataclass(frozen=True)
class CheckedConfig:
    """What a command that speaks to no AMC needs of a config file known to be valid."""

    default_profile: str | None
    profiles: Mapping[str, Mapping[str, Any]]
    """Each profile's table as written (values checked, not converted)."""


def certainly_valid(raw: Mapping[str, Any]) -> CheckedConfig | None:
    """The parsed config file, if the models would certainly accept it; else None."""
    if not set(raw) <= {"default_profile", "profiles", "engine", "http"}:
        return None
    default = raw.get("default_profile")
    if default is not None and (type(default) is not str or not default):
        return None
    profiles = raw.get("profiles", {})
    if type(profiles) is not dict:
        return None
    if not all(_table_ok(table, RULES["profile"]) for table in profiles.values()):
        return None
    for name in ("engine", "http"):
        if not _table_ok(raw.get(name, {}), RULES[name]):
            return None
    engine = raw.get("engine", {})
    low = engine.get("poll_interval_min", POLL_DEFAULTS[0])
    high = engine.get("poll_interval_max", POLL_DEFAULTS[1])
    if low > high:
        return None
    return CheckedConfig(default_profile=default, profiles=profiles)


def _table_ok(table: object, rules: Mapping[str, Rule]) -> bool:
    if type(table) is not dict or not set(table) <= set(rules):
        return False
    if any(rule.required and key not in table for key, rule in rules.items()):
        return False
    return all(_value_ok(value, rules[key], key) for key, value in table.items())


def _value_ok(value: object, rule: Rule, key: str) -> bool:
    if rule.kind in ("str", "url", "secret"):
        if type(value) is not str:
            return False
        if rule.kind == "url":
            try:
                check_url(value, key)
            except ValueError:
                return False
            return True
        return rule.kind == "secret" or _within(len(value), rule)
    if rule.kind == "int":
        return type(value) is int and _within(value, rule)
    return type(value) in (int, float) and math.isfinite(value) and _within(value, rule)  # type: ignore[arg-type]


def _within(number: float, rule: Rule) -> bool:
    if rule.low is not None and (number < rule.low or (rule.low_open and number == rule.low)):
        return False
    return rule.high is None or number <= rule.high
