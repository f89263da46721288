"""The quick config check never accepts what the models refuse.

:func:`amc_tui.config_check.certainly_valid` lets ``amc-tui history`` skip pydantic
for a config file it is sure of.  Its rules must be the models' rules: here its table
is compared with the models' JSON schema, and its answers with the models' on every
config of a large random sample (good values, values on and past every bound, values
of the wrong type that pydantic may or may not coerce, unknown and missing keys).
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from amc_tui.config_check import POLL_DEFAULTS, RULES, Rule, certainly_valid
from amc_tui.config_models import ConfigFile, EngineSettings, HttpSettings, ProfileSettings

MODELS: dict[str, type[BaseModel]] = {
    "profile": ProfileSettings,
    "engine": EngineSettings,
    "http": HttpSettings,
}


def rule_from_schema(spec: dict[str, Any], required: bool) -> Rule:
    """The :class:`Rule` a property of the models' JSON schema amounts to."""
    if "anyOf" in spec:  # SecretStr | None: TOML has no null, so any string
        assert {"type": "null"} in spec["anyOf"]
        return Rule("secret")
    kind = {"string": "str", "integer": "int", "number": "float"}[spec["type"]]
    if kind == "str":
        if "minLength" not in spec:
            return Rule("url", required=required)  # the only free strings are the URLs
        return Rule("str", spec["minLength"], spec["maxLength"], required=required)
    low_open = "exclusiveMinimum" in spec
    low = spec["exclusiveMinimum"] if low_open else spec["minimum"]
    return Rule(kind, low, spec["maximum"], low_open=low_open, required=required)  # type: ignore[arg-type]


@pytest.mark.parametrize("table", MODELS)
def test_the_rules_are_the_models_schema(table: str) -> None:
    schema = MODELS[table].model_json_schema()
    assert schema["additionalProperties"] is False
    required = set(schema.get("required", ()))
    expected = {
        key: rule_from_schema(spec, key in required) for key, spec in schema["properties"].items()
    }
    assert dict(RULES[table]) == expected


def test_the_poll_defaults_and_the_top_level_keys_are_the_models() -> None:
    engine = EngineSettings()
    assert (engine.poll_interval_min, engine.poll_interval_max) == POLL_DEFAULTS
    schema = ConfigFile.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"default_profile", "profiles", "engine", "http"}


def models_accept(raw: dict[str, Any]) -> bool:
    try:
        ConfigFile.model_validate(raw)
    except ValidationError:
        return False
    return True


def candidates(rule: Rule) -> list[object]:
    """Values on, inside and past the rule's bounds, and of other types."""
    others: list[object] = [True, False, None, [], {}, "5", "2.5", "", " ", "x" * 501]
    if rule.kind == "url":
        return [
            "https://advertising-api.amazon.com",
            "https://api.example.com/",
            "http://localhost:8765",
            "http://127.0.0.1:1/",
            "http://remote.example.com",
            "ftp://x",
            "https://",
            *others,
        ]
    if rule.kind == "secret":
        return ["s3cret", "", "Atzr|x", *others]
    if rule.kind == "str":
        assert rule.low is not None and rule.high is not None
        return ["a" * int(rule.low), "ü" * int(rule.high), "a" * int(rule.high + 1), *others]
    assert rule.low is not None and rule.high is not None
    low, high = rule.low, rule.high
    numbers: list[object] = [low, high, low - 1, high + 1, (low + high) / 2, low + 0.5, 1, 5]
    numbers += [float(low), float(high), int(high), 1e-9, -0.0, math.inf, math.nan, 2.0]
    return numbers + others


def random_table(rng: random.Random, table: str) -> dict[str, object]:
    rules = RULES[table]
    made: dict[str, object] = {}
    for key, rule in rules.items():
        if (rule.required and rng.random() < 0.97) or (not rule.required and rng.random() < 0.5):
            pool = candidates(rule)
            good = pool[:3] if rng.random() < 0.7 else pool
            made[key] = rng.choice(good)
    if rng.random() < 0.03:
        made["typo"] = 1
    return made


def random_config(rng: random.Random) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    names = rng.sample(["default", "eu", "", "prod"], rng.randint(0, 2))
    if names or rng.random() < 0.2:
        raw["profiles"] = {name: random_table(rng, "profile") for name in names}
    if rng.random() < 0.3:
        raw["default_profile"] = rng.choice([*names, "other", "", 5])
    for table in ("engine", "http"):
        if rng.random() < 0.6:
            raw[table] = random_table(rng, table)
    if rng.random() < 0.02:
        raw["colour"] = "blue"
    return raw


def test_it_never_vouches_for_a_config_the_models_refuse() -> None:
    rng = random.Random(6)
    vouched = refused = 0
    for _ in range(4000):
        raw = random_config(rng)
        if certainly_valid(raw) is not None:
            vouched += 1
            assert models_accept(raw), raw
        elif not models_accept(raw):
            refused += 1
    assert vouched > 200, vouched  # it does vouch for plain, valid files
    assert refused > 400, refused  # and the sample holds plenty of bad ones


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"profiles": {"default": {"client_id": "c", "advertiser_id": "E"}}},
        {
            "default_profile": "eu",
            "profiles": {
                "eu": {
                    "api_url": "https://advertising-api-eu.amazon.com",
                    "token_url": "https://api.amazon.co.uk/auth/o2/token",
                    "client_id": "amzn1.application-oa2-client.eu",
                    "advertiser_id": "ENTITYEU",
                    "marketplace_id": "A1PA6795UKMFR9",
                    "client_secret": "s",
                    "refresh_token": "r",
                }
            },
            "engine": {"max_concurrent_executions": 7, "retry_delay_base": 0.5},
            "http": {"timeout": 5, "max_connections": 50},
        },
    ],
)
def test_it_vouches_for_a_plain_valid_file(raw: dict[str, Any]) -> None:
    assert models_accept(raw)
    checked = certainly_valid(raw)
    assert checked is not None
    assert checked.profiles == raw.get("profiles", {})
    assert checked.default_profile == raw.get("default_profile")


@pytest.mark.parametrize(
    "raw",
    [
        {"engine": {"max_batch_size": 5.0}},  # the models may coerce it: they decide
        {"engine": {"max_batch_size": True}},
        {"engine": {"max_batch_size": "5"}},
        {"engine": {"poll_interval_min": 90.0, "poll_interval_max": 60.0}},
        {"engine": {"poll_interval_min": 90.0}},
        {"http": {"timeout": math.nan}},
        {"profiles": {"p": {"client_id": "c"}}},
        {"profiles": {"p": {"client_id": "c", "advertiser_id": "E", "api_url": "http://x.com"}}},
        {"default_profile": ""},
        {"colour": "blue"},
    ],
)
def test_it_leaves_anything_doubtful_to_the_models(raw: dict[str, Any]) -> None:
    assert certainly_valid(raw) is None
