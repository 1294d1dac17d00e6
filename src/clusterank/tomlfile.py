"""The TOML files clusterank reads (the price table, the role taxonomy, the generator's words), read and checked
one way: a file that is not TOML gives one line naming the file and the line, and a table is checked against a
declared schema, naming a missing, unknown or mistyped field by its table path (`gpu.L4.hourly_usd`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Union

from clusterank.errors import ClusterankError


class TomlError(ClusterankError, ValueError):
    """A TOML file that cannot be read, does not parse, or does not fit its schema (a `ValueError` too, for the
    loaders that promised one)."""


def read_toml(source: str | Path | Traversable, what: str) -> tuple[str, dict[str, Any]]:
    """Parse TOML text (a str) or a file (a path) into (a name for later messages, the parsed table).

    Args:
        source: the TOML text itself, or the file holding it (UTF-8; a leading byte-order mark is allowed).
        what: what the file is, for messages ("prices" gives "prices file /x.toml is not valid TOML: ...").

    Returns:
        The file's path as a string (text: `<what TOML text>`), and the table.

    Raises:
        TomlError: the file cannot be read, is not UTF-8 (naming the line), or is not TOML (naming line and column).
    """
    if isinstance(source, str):
        name = label = f"<{what} TOML text>"
        text = source
    else:
        name, label = str(source), f"{what} file {source}"
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise TomlError(f"cannot read {label}: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise TomlError(f"{label}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                            "save it as UTF-8") from None
    try:
        return name, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(f"{label} is not valid TOML: {_where_first(str(exc))}") from None


def _where_first(message: str) -> str:
    """tomllib's "Expected ... (at line 3, column 9)" as "line 3, column 9: Expected ..."."""
    found = re.fullmatch(r"(.*) \(at (line \d+, column \d+|end of document)\)", message, re.DOTALL)
    if not found:
        return message
    return f"{'the end of the file' if found[2] == 'end of document' else found[2]}: {found[1]}"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date(value: object) -> str | None:
    """`value` as YYYY-MM-DD when it is a TOML date or a string holding one, else None."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return None
    return None


_KINDS: dict[str, tuple[str, Callable[[object], bool], Callable[[Any], Any]]] = {
    "str": ("a string", lambda v: isinstance(v, str), lambda v: v),
    "text": ("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "", lambda v: v),
    "number": ("a number", _number, lambda v: v),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v),
    "date": ("YYYY-MM-DD", lambda v: _date(v) is not None, _date),
    "texts": ("a list of non-empty strings",
              lambda v: isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v), tuple),
    "tables": ("a list of tables ([[name]] sections)",
               lambda v: isinstance(v, list) and all(isinstance(t, dict) for t in v), lambda v: v),
}
"""Kind -> (what a message says was expected, the test, the conversion: lists of strings become tuples, dates
become YYYY-MM-DD strings)."""


def positive(value: float) -> str:
    """A `Field.check`: "" for a number above 0, else the problem."""
    return "" if value > 0 else "must be > 0"


def non_negative(value: float) -> str:
    """A `Field.check`: "" for a number of at least 0, else the problem."""
    return "" if value >= 0 else "must be >= 0"


@dataclass(frozen=True)
class Field:
    """One key of a table: its kind (see `KINDS`), whether it must be there, and a further check of its value
    (returns "" when fine, else the problem: "must be > 0")."""

    kind: str = "text"
    required: bool = True
    check: Callable[[Any], str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown field kind {self.kind!r} (known: {', '.join(_KINDS)})")


KINDS = tuple(_KINDS)
"""The kinds a `Field` may have: str, text (non-empty), number, int, date, texts (list of non-empty strings),
tables (a list of tables)."""


@dataclass(frozen=True)
class Entries:
    """A table whose keys are free (names of entries) and whose every value is `of`: a `Field` or a `Schema`."""

    of: Field | dict
    required: bool = True


Schema = dict[str, Union[Field, Entries, "Schema"]]
"""Key -> its `Field`, an `Entries` table, or the `Schema` of a sub-table (which must be there)."""


def key_path(path: tuple[str, ...]) -> str:
    """Keys as TOML writes them: `gpu.L4.hourly_usd`, with a key that is not bare quoted (`a."b c"`)."""
    return ".".join(k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k, ensure_ascii=False) for k in path)


def check_table(table: object, schema: Mapping[str, Field | Entries | dict], *, where: str,
                path: tuple[str, ...] = ()) -> dict[str, Any]:
    """`table` (parsed TOML) checked against `schema`; returns a copy with lists of strings as tuples and
    dates as YYYY-MM-DD strings (absent optional keys stay absent).

    Args:
        table: the parsed table.
        schema: what it may hold (`Field`, `Entries` or a nested schema per key).
        where: what starts every message: the file's name, perhaps with the entry ("roles.toml: role 'A'").
        path: the table's keys inside `where` (("gpu", "L4")), named in messages as `gpu.L4.hourly_usd`.

    Raises:
        TomlError: a key the schema does not know, a required key missing, a value of the wrong kind or failing
            its check; the message names `where` and the key's path.
    """
    if not isinstance(table, dict):
        at = f"{where}: {key_path(path)}" if path else where
        raise TomlError(f"{at} must be a table, got {_shown(table)}")
    if unknown := [key for key in table if key not in schema]:
        known = ", ".join(schema) or "none"
        raise TomlError(f"{where}: {key_path(path + (unknown[0],))} is not a known field (known: {known})")
    missing = [key for key, spec in schema.items() if key not in table and (isinstance(spec, dict) or spec.required)]
    if missing:
        at = f"{where}: {key_path(path)}" if path else where
        raise TomlError(f"{at} lacks {', '.join(missing)}")
    out: dict[str, Any] = {}
    for key, value in table.items():
        out[key] = _check_value(value, schema[key], where, path + (key,))
    return out


def _check_value(value: object, spec: Field | Entries | dict, where: str, path: tuple[str, ...]) -> Any:
    if isinstance(spec, dict):
        return check_table(value, spec, where=where, path=path)
    if isinstance(spec, Entries):
        if not isinstance(value, dict):
            raise TomlError(f"{where}: {key_path(path)} must be a table, got {_shown(value)}")
        return {key: _check_value(item, spec.of, where, path + (key,)) for key, item in value.items()}
    expected, test, convert = _KINDS[spec.kind]
    if not test(value):
        raise TomlError(f"{where}: {key_path(path)} must be {expected}, got {_shown(value)}")
    problem = spec.check(value) if spec.check is not None else ""
    if problem:
        raise TomlError(f"{where}: {key_path(path)} {problem}, got {_shown(value)}")
    return convert(value)


def _shown(value: object) -> str:
    """A value for a message: a table or list as its kind, anything else as its repr, cut short."""
    if isinstance(value, dict):
        return "a table"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
