"""Query parameters from the command line: ``--param KEY=VALUE`` and ``--param-file``.

This module owns turning what the operator passed to ``amc-tui run`` into the
``parameters`` and ``instance_parameters`` of a :class:`~amc_tui.domain.QuerySpec`:

- :func:`parse_param_option` reads one ``--param KEY=VALUE``;
- :func:`read_param_file` reads a TOML file with a ``[params]`` table and
  ``[instances."AMC-INSTANCE-ID"]`` override tables::

      [params]
      brand = "Acme"
      lookback = 30
      [instances."amc1a2b3c4d"]
      brand = "Acme EU"

- :func:`merge_params` lays the ``--param`` values over the file's ``[params]``.

Every bad input is an :class:`~amc_tui.errors.InputError` (exit code 2) whose
message names the option or file and the offending key or value.  Values are
bounded (:data:`MAX_VALUE_LENGTH`) and may hold no control characters (NUL,
newlines, escapes, bidi overrides): they are sent to AMC and shown on screens.  Whether the
instance ids of the file belong to the batch is checked where the batch is built,
not here.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from amc_tui.engine.validation import holds_control_characters, path_option
from amc_tui.errors import InputError

PARAM_OPTION = "--param"
PARAM_FILE_OPTION = "--param-file"
MAX_KEY_LENGTH = 200
MAX_VALUE_LENGTH = 8_000
"""A parameter value longer than this is refused (room for a list of some 700 ids)."""
MAX_INSTANCE_ID_LENGTH = 200
MAX_PARAM_FILE_BYTES = 1024 * 1024
"""A parameter file larger than this (1 MiB) is refused unread."""

_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_TOP_LEVEL = ("params", "instances")


def _shown(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid parameter name, or None when it is."""
    if not key:
        return "the parameter name is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"the parameter name has {len(key)} characters; at most {MAX_KEY_LENGTH}"
    if not _KEY.fullmatch(key):
        return f'parameter name {_shown(key)} may hold only letters, digits, "_", "-" and "."'
    return None


def value_problem(value: str) -> str | None:
    """Why ``value`` is not a valid parameter value, or None when it is."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"the value has {len(value)} characters; at most {MAX_VALUE_LENGTH}"
    if holds_control_characters(value):
        return "the value holds control characters (newline, escape, NUL...)"
    return None


def parse_param_option(text: str, *, option: str = PARAM_OPTION) -> tuple[str, str]:
    """``"KEY=VALUE"`` -> ``("KEY", "VALUE")``.

    Split on the first ``=``: the key is stripped of surrounding blanks and must be
    1 to 200 letters, digits, ``_``, ``-`` or ``.``; the value is kept as given and
    may be empty or hold more ``=``, but no control character, and at most
    :data:`MAX_VALUE_LENGTH` characters.
    """
    key, sep, value = text.partition("=")
    if not sep:
        raise InputError(f"{option} {_shown(text)}: expected KEY=VALUE")
    key = key.strip()
    problem = key_problem(key) or value_problem(value)
    if problem is not None:
        raise InputError(f"{option} {_shown(text)}: {problem}")
    return key, value


def merge_params(
    file_params: Mapping[str, str], options: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """The file's parameters with the ``--param`` values laid over them.

    A key given twice with ``--param`` is refused, even with the same value.
    """
    merged = dict(file_params)
    seen: set[str] = set()
    for key, value in options:
        if key in seen:
            raise InputError(f"{PARAM_OPTION} {key}: given more than once")
        seen.add(key)
        merged[key] = value
    return merged


# --- the parameter file ----------------------------------------------------------------


def read_param_file(path: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The base parameters and the per-instance overrides in the TOML file ``path``.

    Values may be strings, integers, floats (finite) or booleans; numbers are
    turned into text with Python's ``str`` and booleans into ``"true"``/``"false"``
    (quote a value in the file to pass it exactly).  Arrays, tables, dates and times
    are refused naming the key, as is any top-level key but ``params`` and
    ``instances``.
    """
    where = path_option(PARAM_FILE_OPTION, path)
    document = _load_toml(path, where)
    for name in document:
        if name not in _TOP_LEVEL:
            raise InputError(
                f"{where}: unknown top-level key {_shown(name)}; only a [params] table "
                'and [instances."AMC-INSTANCE-ID"] tables are allowed'
            )
    params = _values(document.get("params", {}), f"{where}: [params]")
    overrides: dict[str, dict[str, str]] = {}
    instances = document.get("instances", {})
    if not isinstance(instances, dict):
        raise InputError(
            f'{where}: "instances" must be tables such as [instances."amc1a2b3c4d"], '
            f"not {_a_kind(instances)}"
        )
    for raw_id, table in instances.items():
        instance_id = _instance_id(raw_id, where)
        if instance_id in overrides:
            raise InputError(f"{where}: instance {_shown(instance_id)} is given more than once")
        label = f"{where}: [instances.{_shown(instance_id)}]"
        if not isinstance(table, dict):
            raise InputError(f"{label} must be a table of parameters, not {_a_kind(table)}")
        overrides[instance_id] = _values(table, label)
    return params, overrides


def _load_toml(path: Path, where: str) -> dict[str, object]:
    try:
        if path.is_dir():
            raise InputError(f"{where}: is a directory")
        with path.open("rb") as stream:
            data = stream.read(MAX_PARAM_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{where}: is a directory") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InputError(f"{where}: cannot be read ({reason})") from None
    if len(data) > MAX_PARAM_FILE_BYTES:
        raise InputError(
            f"{where}: larger than {MAX_PARAM_FILE_BYTES} bytes; is it the right file?"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{where}: not UTF-8 text (bad byte at offset {error.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib's message names the line and column: "... (at line 3, column 9)".
        raise InputError(f"{where}: not valid TOML: {error}") from None


def _instance_id(raw: str, where: str) -> str:
    instance_id = raw.strip()
    if not instance_id:
        raise InputError(f"{where}: an [instances] table has an empty instance id")
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise InputError(
            f"{where}: instance id {_shown(instance_id)} has {len(instance_id)} characters; "
            f"at most {MAX_INSTANCE_ID_LENGTH}"
        )
    if holds_control_characters(instance_id):
        raise InputError(f"{where}: instance id {_shown(instance_id)} holds control characters")
    return instance_id


def _values(table: object, label: str) -> dict[str, str]:
    """The ``key = value`` pairs of one table as text; anything else refused by key."""
    if not isinstance(table, dict):
        raise InputError(f"{label} must be a table of parameters, not {_a_kind(table)}")
    values: dict[str, str] = {}
    for key, value in table.items():
        problem = key_problem(key)
        if problem is not None:
            raise InputError(f"{label}: {problem}")
        values[key] = _value_text(key, value, label)
    return values


def _value_text(key: str, value: object, label: str) -> str:
    if isinstance(value, bool):  # before int: a bool is an int
        return "true" if value else "false"
    if isinstance(value, str):
        problem = value_problem(value)
        if problem is not None:
            raise InputError(f"{label}: {key}: {problem}")
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{label}: {key} = {value} is not a finite number")
        return str(value)
    hint = ""
    if isinstance(value, dict) and value:
        hint = f' (for a name with a dot, quote it: "{key}.{next(iter(value))}" = ...)'
    raise InputError(f"{label}: {key} is {_a_kind(value)}; give a string, number or boolean{hint}")


def _a_kind(value: object) -> str:
    """What a TOML value is, with its article: "an array", "a table"."""
    kind = _kind(value)
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _kind(value: object) -> str:
    """What a TOML value is, in words."""
    if isinstance(value, dict):
        return "table"
    if isinstance(value, list):
        return "array"
    type_name = type(value).__name__
    names = {
        "str": "string",
        "int": "integer",
        "bool": "boolean",
        "datetime": "date-time",
    }
    return names.get(type_name, type_name)
