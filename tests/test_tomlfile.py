"""The one TOML reader and schema check (`clusterank.tomlfile`) behind the price table, the role taxonomy and the
generator's words: syntax errors name the file and the line, schema errors the field by its table path."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from clusterank.errors import ClusterankError
from clusterank.tomlfile import Entries, Field, TomlError, check_table, key_path, positive, read_toml


def test_text_and_files_parse_and_name_themselves(tmp_path):
    assert read_toml('a = 1\n[b]\nc = "x"\n', "things") == ("<things TOML text>", {"a": 1, "b": {"c": "x"}})
    path = tmp_path / "mine.toml"
    path.write_bytes(b"\xef\xbb\xbfa = 1\n")  # a byte-order mark, as some Windows editors write
    assert read_toml(path, "prices") == (str(path), {"a": 1})


def test_a_syntax_error_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('a = 1\nb = 2\n[gpu.L4\nc = 3\n', encoding="utf-8")
    with pytest.raises(TomlError) as info:
        read_toml(path, "prices")
    message = str(info.value)
    assert message.startswith(f"prices file {path} is not valid TOML: line 3, column ") and "\n" not in message
    with pytest.raises(TomlError, match=re.escape("<roles TOML text> is not valid TOML: line 1, column 17")):
        read_toml('families = "Data\n', "roles")
    with pytest.raises(TomlError, match=re.escape("<roles TOML text> is not valid TOML: the end of the file: ")):
        read_toml('families = ["Data"\n', "roles")


def test_unreadable_and_non_utf8_files_are_one_line(tmp_path):
    with pytest.raises(TomlError, match=r"cannot read prices file .*missing\.toml: No such file"):
        read_toml(tmp_path / "missing.toml", "prices")
    with pytest.raises(TomlError, match="cannot read prices file"):
        read_toml(tmp_path, "prices")  # a folder
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'a = 1\nsource = "caf\xe9"\n')
    with pytest.raises(TomlError, match=re.escape(f"prices file {path}: line 2 is not UTF-8 text (byte 0xe9)")):
        read_toml(path, "prices")


def test_the_error_is_a_clusterank_error_and_a_value_error():
    assert issubclass(TomlError, ClusterankError) and issubclass(TomlError, ValueError)
    assert TomlError("x").exit_code == 2


SCHEMA = {
    "name": Field("text"),
    "note": Field("str", required=False),
    "size": Field("int", check=positive),
    "price": Field("number", required=False),
    "date": Field("date", required=False),
    "tags": Field("texts", required=False),
    "limits": {"rpm": Field("number", check=positive)},
    "weights": Entries(Field("number", check=positive)),
}
GOOD = {"name": "a", "size": 2, "limits": {"rpm": 5}, "weights": {"x y": 1.5}}


def test_a_good_table_comes_back_converted():
    out = check_table({**GOOD, "tags": ["p", "q"], "date": dt.date(2024, 7, 1), "price": 0}, SCHEMA, where="f.toml")
    assert out["tags"] == ("p", "q") and out["date"] == "2024-07-01" and out["price"] == 0
    assert "note" not in out and check_table({**GOOD, "date": " 2024-07-01"}, SCHEMA, where="f")["date"] == "2024-07-01"


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, "f.toml: gpu.L4.colour is not a known field (known: name, note, size,"),
    ({"limits": {"rpm": 1, "tpm": 2}}, "f.toml: gpu.L4.limits.tpm is not a known field (known: rpm)"),
    ({"name": None}, "f.toml: gpu.L4 lacks name"),
    ({"limits": None}, "f.toml: gpu.L4 lacks limits"),
    ({"limits": {}}, "f.toml: gpu.L4.limits lacks rpm"),
    ({"limits": 3}, "f.toml: gpu.L4.limits must be a table, got 3"),
    ({"name": " "}, "f.toml: gpu.L4.name must be a non-empty string, got ' '"),
    ({"size": 2.5}, "f.toml: gpu.L4.size must be an integer, got 2.5"),
    ({"size": True}, "f.toml: gpu.L4.size must be an integer, got True"),
    ({"size": 0}, "f.toml: gpu.L4.size must be > 0, got 0"),
    ({"price": "cheap"}, "f.toml: gpu.L4.price must be a number, got 'cheap'"),
    ({"date": "last week"}, "f.toml: gpu.L4.date must be YYYY-MM-DD, got 'last week'"),
    ({"date": dt.datetime(2024, 1, 1)}, "f.toml: gpu.L4.date must be YYYY-MM-DD"),
    ({"tags": "p"}, "f.toml: gpu.L4.tags must be a list of non-empty strings, got 'p'"),
    ({"tags": ["p", ""]}, "f.toml: gpu.L4.tags must be a list of non-empty strings"),
    ({"weights": {"x y": -1}}, 'f.toml: gpu.L4.weights."x y" must be > 0, got -1'),
    ({"weights": ["x"]}, "f.toml: gpu.L4.weights must be a table, got ['x']"),
])
def test_a_bad_table_is_named_by_its_path(change, message):
    table = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(TomlError, match=re.escape(message)):
        check_table(table, SCHEMA, where="f.toml", path=("gpu", "L4"))


def test_without_a_path_the_where_names_the_table():
    with pytest.raises(TomlError, match=re.escape("roles.toml: role 'A' lacks size, limits, weights")):
        check_table({"name": "a"}, SCHEMA, where="roles.toml: role 'A'")
    with pytest.raises(TomlError, match=re.escape("roles.toml: role 'A': size must be an integer")):
        check_table({**GOOD, "size": "2"}, SCHEMA, where="roles.toml: role 'A'")
    with pytest.raises(TomlError, match=re.escape("f.toml must be a table, got [1]")):
        check_table([1], SCHEMA, where="f.toml")


def test_key_paths_quote_what_is_not_a_bare_key():
    assert key_path(("api", "text-embedding-3-small", "tpm")) == "api.text-embedding-3-small.tpm"
    assert key_path(("selfhosted", "bge.on L4", "gpu")) == 'selfhosted."bge.on L4".gpu'


def test_an_unknown_kind_is_refused_at_once():
    with pytest.raises(ValueError, match="unknown field kind 'float'"):
        Field("float")
