"""Name groups of the bundled generator's names, and counterfactual name swaps.

`names.toml` puts every bundled first name in a perceived-gender group (female, male, unisex) and every bundled
last name in an origin group (anglo, european, iberian, east_asian, south_asian, middle_eastern, african,
ambiguous), each table with its documented source. The generator records a profile's groups by looking its drawn
name up here (columns `name_gender` and `name_origin`); its random draws are untouched.

`swap_names` gives a table whose name fields are swapped to a name of another group (female <-> male first names,
last names of another origin), the text following them, for `clusterank.evaluate.counterfactual`.
"""

from __future__ import annotations

import random
import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd

from clusterank.data.schema import TEXT_COLUMN, profile_text
from clusterank.data.words import FIRST_NAMES, LAST_NAMES
from clusterank.errors import ClusterankError
from clusterank.tomlfile import TomlError, read_toml

GENDER_COLUMN = "name_gender"
"""The bundled profiles' column with the first name's perceived-gender group."""
ORIGIN_COLUMN = "name_origin"
"""The bundled profiles' column with the last name's origin group."""
FIRST_COLUMN, LAST_COLUMN = "FirstName", "LastName"
SWAP_KINDS = ("gender", "origin", "both")
"""What `swap_names` swaps: first names across gender groups, last names across origin groups, or both."""
KEPT_GROUPS = {"gender": "unisex", "origin": "ambiguous"}
"""The group a swap leaves as it is: a name with no typical other side."""
_TABLES = {"first_name_gender": ("female", "male", "unisex"),
           "last_name_origin": ("anglo", "european", "iberian", "east_asian", "south_asian", "middle_eastern",
                                "african", "ambiguous")}


def load_name_groups(source: str | Path | Traversable) -> dict[str, dict[str, tuple[str, ...]]]:
    """Read and check name groups (TOML text or a file): {"first_name_gender": {group: names}, "last_name_origin":
    {...}}.

    Raises:
        TomlError: a missing or unknown table or group, a group that is not a list of names, or a name in two groups.
    """
    name, data = read_toml(source, "name groups")
    if unknown := sorted(set(data) - set(_TABLES)):
        raise TomlError(f"{name}: unknown table {unknown[0]!r}; the tables are {', '.join(_TABLES)}")
    groups: dict[str, dict[str, tuple[str, ...]]] = {}
    for table, allowed in _TABLES.items():
        found = data.get(table)
        if not isinstance(found, dict) or set(found) != set(allowed):
            raise TomlError(f"{name}: [{table}] must have exactly the groups {', '.join(allowed)}")
        seen: dict[str, str] = {}
        for group in allowed:
            names = found[group]
            if not isinstance(names, list) or not all(isinstance(x, str) and x.strip() for x in names):
                raise TomlError(f"{name}: {table}.{group} must be a list of names")
            for x in names:
                if x in seen:
                    raise TomlError(f"{name}: {x!r} is in both {table}.{seen[x]} and {table}.{group}")
                seen[x] = group
        groups[table] = {g: tuple(found[g]) for g in allowed}
    return groups


def _lookup(groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {name: group for group, names in groups.items() for name in names}


_GROUPS = load_name_groups(files("clusterank.data").joinpath("names.toml"))
FIRST_NAME_GROUPS: dict[str, tuple[str, ...]] = _GROUPS["first_name_gender"]
"""Perceived-gender group -> the bundled first names in it."""
LAST_NAME_GROUPS: dict[str, tuple[str, ...]] = _GROUPS["last_name_origin"]
"""Origin group -> the bundled last names in it."""
FIRST_NAME_GENDER: dict[str, str] = _lookup(FIRST_NAME_GROUPS)
LAST_NAME_ORIGIN: dict[str, str] = _lookup(LAST_NAME_GROUPS)
for _names, _lookup_table, _what in ((FIRST_NAMES, FIRST_NAME_GENDER, "first_name_gender"),
                                     (LAST_NAMES, LAST_NAME_ORIGIN, "last_name_origin")):
    if _odd := sorted(set(_names) ^ set(_lookup_table)):
        raise TomlError(f"names.toml: [{_what}] and words.toml disagree on {_odd[0]!r}: every bundled name must "
                        "be in exactly one group")


def name_groups(first: str, last: str) -> tuple[str, str]:
    """The (perceived-gender, origin) groups of a bundled first and last name ("" for a name not in the lists)."""
    return FIRST_NAME_GENDER.get(first, ""), LAST_NAME_ORIGIN.get(last, "")


def check_name_columns(frame: pd.DataFrame, kind: str, source: str) -> tuple[str, ...]:
    """The name columns a swap of `kind` needs, checked to be in `frame`.

    Raises:
        ClusterankError: an unknown kind, or the columns missing (naming them and the columns there are).
    """
    if kind not in SWAP_KINDS:
        raise ClusterankError(f"unknown name swap {kind!r}; use one of {', '.join(SWAP_KINDS)}")
    needed = {"gender": (FIRST_COLUMN,), "origin": (LAST_COLUMN,), "both": (FIRST_COLUMN, LAST_COLUMN)}[kind]
    if missing := [c for c in needed if c not in frame.columns]:
        raise ClusterankError(f"{source}: no name field{'s' if len(missing) > 1 else ''} {', '.join(missing)} to "
                              f"swap; columns are: {', '.join(map(str, frame.columns))}")
    return needed


def _other(name: str, lookup: dict[str, str], groups: dict[str, tuple[str, ...]], kept: str,
           rng: random.Random) -> str:
    """A name of another group than `name`'s: the other gender, or a random other origin; a name of the `kept`
    group stays; one not in the lists becomes a name drawn from all the groups but `kept`."""
    group = lookup.get(name)
    if group == kept:
        return name
    others = [g for g in groups if g not in (group, kept)]
    return rng.choice(groups[rng.choice(others)])


def _replace(text: str, old: str, new: str) -> str:
    if not old or old == new:
        return text
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", lambda _: new, text)


def swap_names(frame: pd.DataFrame, kind: str = "gender", *, seed: int = 0, text_column: str = TEXT_COLUMN,
               source: str = "the corpus") -> tuple[pd.DataFrame, list[bool]]:
    """The profiles with each one's name swapped to a name of another group, and which rows changed.

    `gender` swaps the first name between the female and male lists (unisex names stay), `origin` the last name to
    one of a randomly drawn other origin (ambiguous names stay), `both` does both; names not in the bundled lists
    get a name drawn from the lists. The text column follows: a text built from the profile fields is built again,
    any other text has the old name's occurrences (whole words) replaced. The same seed gives the same swap.

    Raises:
        ClusterankError: an unknown kind, or the name fields it needs are not in the table.
    """
    columns = check_name_columns(frame, kind, source)
    rng = random.Random(seed)
    swapped = frame.copy()
    has_text = text_column in frame.columns
    texts = list(frame[text_column]) if has_text else []
    changed = []
    for i, row in enumerate(frame.to_dict("records")):
        new = dict(row)
        if FIRST_COLUMN in columns:
            new[FIRST_COLUMN] = _other(str(row[FIRST_COLUMN] or ""), FIRST_NAME_GENDER, FIRST_NAME_GROUPS,
                                       KEPT_GROUPS["gender"], rng)
        if LAST_COLUMN in columns:
            new[LAST_COLUMN] = _other(str(row[LAST_COLUMN] or ""), LAST_NAME_ORIGIN, LAST_NAME_GROUPS,
                                      KEPT_GROUPS["origin"], rng)
        changed.append(any(new[c] != row[c] for c in columns))
        if has_text and isinstance(texts[i], str):
            if texts[i] == profile_text(row):
                texts[i] = profile_text(new)
            else:
                for c in columns:
                    texts[i] = _replace(texts[i], str(row[c] or ""), str(new[c]))
        for c in columns:
            swapped.at[swapped.index[i], c] = new[c]
    if has_text:
        swapped[text_column] = texts
    return swapped, changed


NOT_GROUPS = {"text", "id", "role", "family", "natural_language"}
"""Columns that are never offered as audit groups: the text, the id and the labels the search is scored by."""


def group_columns(frame: pd.DataFrame | None, most: int = 30) -> list[str]:
    """The columns of a profiles table a bias audit can group by (what the page offers): the bundled name groups
    first, then any other text column with 2 to `most` distinct values (gender, ethnicity, age band ...)."""
    if frame is None:
        return []
    first = [c for c in (GENDER_COLUMN, ORIGIN_COLUMN) if c in frame.columns]
    others = [str(c) for c in frame.columns if str(c) not in NOT_GROUPS and str(c) not in first
              and not str(c).startswith("embeddings_") and frame[c].dtype == object
              and 2 <= frame[c].nunique(dropna=True) <= most]
    return first + others
