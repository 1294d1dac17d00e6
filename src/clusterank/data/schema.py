"""Column names shared by the bundled set and the loaders.

The bundled profiles have the same columns as the seed's Hugging Face set
(`ilsilfverskiold/linkedin_profiles_synthetic`); `text` is what gets embedded.
"""

from __future__ import annotations

from collections.abc import Mapping

PROFILE_FIELDS: tuple[str, ...] = (
    "FirstName",
    "LastName",
    "Headline",
    "About Me",
    "Experience",
    "Education",
    "Skills",
    "Certifications",
)
"""Profile columns, in the order they are joined into `text`."""

TEXT_COLUMN = "text"
ROLE_COLUMN = "role"
FAMILY_COLUMN = "family"
QUERY_TEXT_COLUMN = "natural_language"
HEADLINE_SEPARATOR = " | "


def profile_text(row: Mapping[str, object]) -> str:
    """Join a profile's fields into the one text that gets embedded.

    Args:
        row: a mapping with some or all of `PROFILE_FIELDS`; missing or empty fields are skipped.

    Returns:
        The fields as `Field: value` lines; the name comes first as one line.
    """
    parts: list[str] = []
    name = " ".join(str(row.get(f) or "").strip() for f in ("FirstName", "LastName")).strip()
    if name:
        parts.append(name)
    for field in PROFILE_FIELDS[2:]:
        value = row.get(field)
        if value is None or (isinstance(value, float) and value != value):
            continue
        value = str(value).strip()
        if value:
            parts.append(f"{field}: {value}")
    return "\n".join(parts)


def role_from_headline(headline: str) -> str:
    """The role title of a headline written `Title | tagline` (the whole headline if no separator)."""
    return str(headline).split(HEADLINE_SEPARATOR, 1)[0].strip()
