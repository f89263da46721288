"""Query parameters from the command line: --param KEY=VALUE and --param-file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from amc_tui.errors import InputError
from amc_tui.param_input import (
    MAX_PARAM_FILE_BYTES,
    merge_params,
    parse_param_option,
    read_param_file,
)

# --- --param KEY=VALUE -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("brand=Acme", ("brand", "Acme")),
        ("brand=", ("brand", "")),
        ("expr=a=b=c", ("expr", "a=b=c")),
        ("  lookback =30", ("lookback", "30")),
        ("k= spaced value ", ("k", " spaced value ")),
        ("a.b-c_D9=x", ("a.b-c_D9", "x")),
        ("k" * 200 + "=v", ("k" * 200, "v")),
    ],
)
def test_parse_param_option_accepts(text: str, expected: tuple[str, str]) -> None:
    assert parse_param_option(text) == expected


def test_parse_param_option_without_equals_names_option_and_value() -> None:
    with pytest.raises(InputError) as caught:
        parse_param_option("foo")
    assert str(caught.value) == "--param 'foo': expected KEY=VALUE"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("=value", ["'=value'", "empty"]),
        ("   =value", ["'   =value'", "empty"]),
        ("a b=1", ["'a b'", "letters, digits"]),
        ("brand!=x", ["'brand!'", "letters, digits"]),
        ("marqué=x", ["'marqué'", "letters, digits"]),
        ("k\x1bx=y", ["letters, digits"]),
        ("k" * 201 + "=v", ["201 characters", "at most 200"]),
    ],
)
def test_parse_param_option_refuses_bad_keys(text: str, words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        parse_param_option(text)
    message = str(caught.value)
    assert message.startswith("--param ")
    for word in words:
        assert word in message


def test_a_huge_value_is_cut_in_the_message() -> None:
    with pytest.raises(InputError) as caught:
        parse_param_option("x" * 10_000)
    assert len(str(caught.value)) < 120
    assert "expected KEY=VALUE" in str(caught.value)


def test_the_option_name_can_be_given() -> None:
    with pytest.raises(InputError, match=r"^--set 'oops': expected KEY=VALUE$"):
        parse_param_option("oops", option="--set")


# --- merge_params ----------------------------------------------------------------------


def test_command_line_values_override_file_values() -> None:
    file_params = {"brand": "Acme", "lookback": "30"}
    merged = merge_params(file_params, [("brand", "Other"), ("extra", "")])
    assert merged == {"brand": "Other", "lookback": "30", "extra": ""}
    assert file_params == {"brand": "Acme", "lookback": "30"}  # not changed in place


def test_a_key_given_twice_on_the_command_line_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        merge_params({}, [("brand", "a"), ("lookback", "1"), ("brand", "a")])
    assert str(caught.value) == "--param brand: given more than once"


def test_merge_of_nothing_is_empty() -> None:
    assert merge_params({}, []) == {}


# --- --param-file ----------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "params.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        read_param_file(path)
    message = str(caught.value)
    assert message.startswith(f"--param-file {path}: "), message
    return message


def test_read_param_file_example(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[params]
brand = "Acme"
lookback = 30
ratio = 0.25
strict = true
loose = false
"dotted.name" = "ok"

[instances."amc1a2b3c4d"]
brand = "Acme EU"

[instances.amc9z8y7x6w]
lookback = -7
""",
    )
    params, overrides = read_param_file(path)
    assert params == {
        "brand": "Acme",
        "lookback": "30",
        "ratio": "0.25",
        "strict": "true",
        "loose": "false",
        "dotted.name": "ok",
    }
    assert overrides == {"amc1a2b3c4d": {"brand": "Acme EU"}, "amc9z8y7x6w": {"lookback": "-7"}}
    assert all(isinstance(v, str) for v in params.values())


def test_empty_file_and_tables_are_allowed(tmp_path: Path) -> None:
    assert read_param_file(write(tmp_path, "")) == ({}, {})
    assert read_param_file(write(tmp_path, "[params]\n[instances]\n", "b.toml")) == ({}, {})
    only_instances = write(tmp_path, '[instances."amc1"]\nk = "v"\n', "c.toml")
    assert read_param_file(only_instances) == ({}, {"amc1": {"k": "v"}})


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[params]\nbrand = "Acme"\n')
    assert read_param_file(path) == ({"brand": "Acme"}, {})


def test_missing_file(tmp_path: Path) -> None:
    assert refused(tmp_path / "nope.toml").endswith(": no such file")


def test_a_directory(tmp_path: Path) -> None:
    assert refused(tmp_path).endswith(": is a directory")


@pytest.mark.skipif(
    sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
    reason="needs POSIX permissions and a non-root user",
)
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[params]\n")
    path.chmod(0)
    try:
        assert "cannot be read (Permission denied)" in refused(path)
    finally:
        path.chmod(0o600)


def test_a_path_through_a_file_cannot_be_read(tmp_path: Path) -> None:
    inside_a_file = write(tmp_path, "") / "params.toml"
    assert "cannot be read" in refused(inside_a_file)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[params]\nbrand = "Café"\n'.encode("latin-1"))
    assert "not UTF-8 text" in refused(path)


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"# " + b"x" * MAX_PARAM_FILE_BYTES + b"\n")
    assert f"larger than {MAX_PARAM_FILE_BYTES} bytes" in refused(path)


def test_exactly_the_limit_is_read(tmp_path: Path) -> None:
    head = b'[params]\nk = "v"\n# '
    path = tmp_path / "edge.toml"
    path.write_bytes(head + b"x" * (MAX_PARAM_FILE_BYTES - len(head)))
    assert path.stat().st_size == MAX_PARAM_FILE_BYTES
    assert read_param_file(path) == ({"k": "v"}, {})


def test_invalid_toml_names_line_and_column(tmp_path: Path) -> None:
    message = refused(write(tmp_path, '[params]\nbrand = "Acme\n'))
    assert "not valid TOML" in message
    assert "line 2" in message
    assert "column" in message


def test_duplicate_key_is_invalid_toml(tmp_path: Path) -> None:
    message = refused(write(tmp_path, '[params]\nbrand = "a"\nbrand = "b"\n'))
    assert "not valid TOML" in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('brand = "x"\n', ["unknown top-level key 'brand'", "[params]"]),
        ('[parameters]\nbrand = "x"\n', ["unknown top-level key 'parameters'"]),
        ("params = 3\n", ["[params] must be a table", "not an integer"]),
        ('instances = "amc1"\n', ['"instances" must be tables', "not a string"]),
        ('[instances]\namc1 = "x"\n', ["[instances.'amc1'] must be a table", "string"]),
    ],
)
def test_file_structure_is_checked(tmp_path: Path, text: str, words: list[str]) -> None:
    message = refused(write(tmp_path, text))
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("[1, 2]", "an array"),
        ("{ a = 1 }", "a table"),
        ("1979-05-27T07:32:00Z", "a date-time"),
        ("1979-05-27", "a date"),
        ("07:32:00", "a time"),
    ],
)
def test_values_that_are_not_scalars_are_refused_by_key(
    tmp_path: Path, value: str, kind: str
) -> None:
    message = refused(write(tmp_path, f"[params]\nsegments = {value}\n"))
    assert f"[params]: segments is {kind}" in message
    assert "string, number or boolean" in message


def test_same_rule_in_instance_tables(tmp_path: Path) -> None:
    message = refused(write(tmp_path, '[instances."amc1"]\nsegments = [1]\n'))
    assert "[instances.'amc1']: segments is an array" in message


def test_a_dotted_key_gets_a_hint_to_quote_it(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "[params]\nregion.code = 1\n"))
    assert "region is a table" in message
    assert '"region.code"' in message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_floats_are_refused(tmp_path: Path, value: str) -> None:
    message = refused(write(tmp_path, f"[params]\nratio = {value}\n"))
    assert "ratio" in message
    assert "not a finite number" in message


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ('"a b"', ["'a b'", "letters, digits"]),
        ('""', ["empty"]),
        ('"' + "k" * 201 + '"', ["201 characters", "at most 200"]),
        ('"été"', ["'été'"]),
    ],
)
def test_file_keys_follow_the_option_rules(tmp_path: Path, key: str, words: list[str]) -> None:
    for text in (f"[params]\n{key} = 1\n", f'[instances."amc1"]\n{key} = 1\n'):
        message = refused(write(tmp_path, text))
        for word in words:
            assert word in message


@pytest.mark.parametrize(
    ("instance_id", "words"),
    [
        ("", ["empty instance id"]),
        ("   ", ["empty instance id"]),
        ("a" * 201, ["201 characters", "at most 200"]),
        ("amc\\u001b[2J", ["control characters"]),
    ],
)
def test_instance_ids_are_checked(tmp_path: Path, instance_id: str, words: list[str]) -> None:
    message = refused(write(tmp_path, f'[instances."{instance_id}"]\nk = 1\n'))
    for word in words:
        assert word in message


def test_instance_ids_are_stripped_and_not_given_twice(tmp_path: Path) -> None:
    ok = write(tmp_path, '[instances." amc1 "]\nk = 1\n')
    assert read_param_file(ok) == ({}, {"amc1": {"k": "1"}})
    twice = write(tmp_path, '[instances."amc1"]\nk = 1\n[instances." amc1"]\nk = 2\n', "t.toml")
    assert "instance 'amc1' is given more than once" in refused(twice)


def test_a_200_character_instance_id_is_allowed(tmp_path: Path) -> None:
    instance_id = "a" * 200
    path = write(tmp_path, f'[instances."{instance_id}"]\nk = "v"\n')
    assert read_param_file(path)[1] == {instance_id: {"k": "v"}}
