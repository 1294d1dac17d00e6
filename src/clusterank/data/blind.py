"""Name-blind search: personal fields dropped from the profile text before it is embedded.

`load_profiles(..., blind=("names", "email"))` (the CLI's and server's `--blind names,email`) embeds each profile
without the fields asked for: `names`, `photo` (photos' URLs), `email`, `phone`, `age`, `address`, or any other
column named as it is. A text built from the profile fields (the bundled set, or a table without a text column)
is built again without them; any other text has the values of those columns removed where they occur (a name
column's words one by one), and e-mail addresses, phone numbers, image URLs and ages ("34 years old") are removed
by pattern. A different text is a different content hash, so blind vectors never mix with the others in the store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clusterank.data.schema import PROFILE_FIELDS, profile_text
from clusterank.errors import ClusterankError

if TYPE_CHECKING:  # in annotations only: parsing `--blind` does not import pandas
    import pandas as pd

BLIND_FIELDS = ("names", "photo", "email", "phone", "age", "address")
"""The personal fields `blind` knows by name; `all` means every one of them."""

_COLUMNS = {
    "names": {"firstname", "lastname", "name", "fullname", "givenname", "surname", "familyname", "middlename"},
    "photo": {"photo", "photourl", "picture", "pictureurl", "avatar", "avatarurl", "image", "imageurl",
              "profilepicture", "profilephoto"},
    "email": {"email", "emailaddress", "mail"},
    "phone": {"phone", "phonenumber", "mobile", "telephone", "tel", "cellphone"},
    "age": {"age", "dateofbirth", "birthdate", "dob", "birthday"},
    "address": {"address", "streetaddress", "street", "postcode", "postalcode", "zip", "zipcode", "homeaddress"},
}
"""Each field's column names, compared without case, spaces, `_` or `-` (FirstName, first_name, First Name)."""

_PATTERNS = {
    "email": re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "photo": re.compile(r"\b(?:https?://|www\.)\S+?\.(?:jpe?g|png|gif|webp|bmp|svg|heic)(?:\?\S*)?(?!\w)", re.I),
    "phone": re.compile(r"(?<![\w+])\+?(?:\(\d{1,4}\)[ .-]?)?\d[\d .()-]{7,}\d(?!\w)"),
    "age": re.compile(r"\b(?:aged?\s*:?\s*\d{1,3}\b|\d{1,3}[\s-]*(?:years?|yrs?)[\s-]*old\b)", re.I),
}
"""What is removed by pattern, whatever the columns; a phone number needs 9 to 15 digits (not a year range)."""


def _key(column: object) -> str:
    return re.sub(r"[\s_-]", "", str(column).lower())


def parse_blind(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """`names,email` (or a list) as a tuple of fields, in order, without repeats; `all` is every field of
    `BLIND_FIELDS`; anything else is taken as a column name. None or "" is nothing (not blind)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec or ())
    fields: list[str] = []
    for item in (str(x).strip() for x in items):
        for field in (BLIND_FIELDS if item.lower() == "all" else (item.lower() if item.lower() in BLIND_FIELDS
                                                                  else item,)):
            if field and field not in fields:
                fields.append(field)
    return tuple(fields)


def blind_columns(frame: pd.DataFrame, blind: Sequence[str], source: str) -> list[str]:
    """The columns of `frame` whose values `blind` drops.

    Raises:
        ClusterankError: `names` asked for and no name column found, or a column named that the table lacks.
    """
    columns: list[str] = []
    for field in blind:
        if field in _COLUMNS:
            found = [str(c) for c in frame.columns if _key(c) in _COLUMNS[field]]
            if field == "names" and not found:
                raise ClusterankError(f"{source}: --blind names: the corpus has no name fields (FirstName, LastName, "
                                      f"Name, ...); columns are: {', '.join(map(str, frame.columns))}; name the "
                                      "column holding names with --blind <column>")
        elif field in frame.columns:
            found = [field]
        else:
            raise ClusterankError(f"{source}: --blind {field}: no such column and not one of "
                                  f"{', '.join(BLIND_FIELDS)}, all; columns are: {', '.join(map(str, frame.columns))}")
        columns += [c for c in found if c not in columns]
    return columns


def _scrub(text: str, values: list[str], blind: Sequence[str]) -> str:
    """`text` without the values (whole words, any case) and the patterns of the fields in `blind`."""
    out = text
    for value in sorted(set(values), key=len, reverse=True):
        out = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "", out, flags=re.I)
    for field, pattern in _PATTERNS.items():
        if field in blind:
            out = pattern.sub(lambda m: "" if field != "phone" or 9 <= sum(ch.isdigit() for ch in m.group())
                              <= 15 else m.group(), out)
    if out == text:
        return text
    lines = (re.sub(r"[ \t]{2,}", " ", line).strip(" \t,;|") for line in out.splitlines())
    return "\n".join(line for line in lines if line)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def blind_texts(frame: pd.DataFrame, texts: list[str], blind: Sequence[str], source: str) -> list[str]:
    """The texts to embed without the personal fields in `blind` (see the module docstring).

    Args:
        frame: the profiles table, one row per text.
        texts: each row's text as it would be embedded.
        blind: fields (`BLIND_FIELDS`) and column names to drop; empty returns `texts` unchanged.
        source: the table's name for messages.

    Raises:
        ClusterankError: as `blind_columns`.
    """
    if not blind:
        return texts
    columns = blind_columns(frame, blind, source)
    name_columns = {c for c in columns if _key(c) in _COLUMNS["names"]}
    out = []
    for row, text in zip(frame.to_dict("records"), texts):
        if any(f in row for f in PROFILE_FIELDS) and text == profile_text(row):  # built from fields: build again
            out.append(_scrub(profile_text({k: v for k, v in row.items() if k not in columns}), [], blind))
            continue
        values = [_cell(row[c]) for c in columns]
        values += [w for c in name_columns for w in _cell(row[c]).split() if len(w) > 1]
        out.append(_scrub(text, [v for v in values if v], blind))
    return out
