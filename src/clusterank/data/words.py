"""Word lists and sentence templates of the synthetic generator (`clusterank.data.synthetic`).

They live in the package data file `words.toml`, beside the role taxonomy in `roles.toml`;
`load_words` reads and checks it, and the module reads the bundled file once, on import.
"""

from __future__ import annotations

import string
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from clusterank.data.roles import FAMILIES, ROLES
from clusterank.tomlfile import Entries, Field, Schema, TomlError, check_table, positive, read_toml

_TEXTS, _TEXT = Field("texts"), Field("text")
_ABOUT_SLOTS = "adj years industry other_industry a b c"
_SPEC: Schema = {
    "demo_query": _TEXT,
    **dict.fromkeys(("first_names", "last_names", "companies", "industries", "schools",
                     "generic_skills", "buzz_adjectives"), _TEXTS),
    "role_weights": Entries(Field("number", check=positive)),
    "degrees": Entries(_TEXTS),
    "certifications": Entries(_TEXTS),
    "teams": Entries(_TEXT),
    "past_tense": {"irregular": _TEXTS, "doubled": _TEXTS, "verbs": _TEXTS},
    "skill_phrase": {"keep_case": _TEXTS},
    "about": {"generic": dict.fromkeys(("openers", "middles", "closers"), _TEXTS),
              "role": {"openers": _TEXTS, "middles": _TEXTS, "earlier": _TEXT, "closers": _TEXTS}},
    "experience": {"positions": _TEXTS, "achievements": _TEXTS},
    "ads": {"company_kinds": _TEXTS, "collab": _TEXTS, "collab_also": _TEXT, "styles": _TEXTS,
            "named_style": _TEXT},
}
"""What `words.toml` holds, every table and field required (see `clusterank.tomlfile.check_table`)."""

_SLOTS: dict[tuple[str, str], str] = {
    ("about", "generic"): _ABOUT_SLOTS,
    ("about", "role"): f"{_ABOUT_SLOTS} who a_adj_who a_shown duty duty_done duty2 duty3 a_earlier",
    ("experience", "positions"): "title company start end done Done",
    ("experience", "achievements"): "k team year",
    ("ads", "company_kinds"): "",  # one positional {}
    ("ads", "collab"): "p c",
    ("ads", "collab_also"): "p",
    ("ads", "styles"): "d1 d2 d3 s1 s2 s3 extra years company team collab",
    ("ads", "named_style"): "d1 d2 d3 s1 s2 s3 extra years company team collab a_title",
}
"""The placeholders each template (or table of templates) may use, "" meaning a bare {}."""


def _templates(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _templates(v)]
    return list(value)  # type: ignore[call-overload]


def _check_templates(where: str, words: dict) -> None:
    formatter = string.Formatter()
    for (table, field), slots in _SLOTS.items():
        allowed = set(slots.split()) or {""}
        for template in _templates(words[table][field]):
            try:
                used = {name for _, name, _, _ in formatter.parse(template) if name is not None}
            except ValueError as exc:
                raise TomlError(f"{where}: {table}.{field}: {template!r}: {exc}") from None
            if unknown := sorted(used - allowed):
                raise TomlError(f"{where}: {table}.{field}: {template!r} uses {{{unknown[0]}}};"
                                 f" it may use {', '.join(f'{{{s}}}' for s in sorted(allowed))}")


def load_words(source: str | Path | Traversable) -> dict:
    """Read and check the generator's words: TOML text (a str) or a file (a path).

    Raises `TomlError` (a `ClusterankError` and a `ValueError`) naming the field when the file is
    malformed: a missing, unknown or
    mistyped field, a family missing from `degrees`, `certifications` or `teams` (or one not in
    roles.toml), a `role_weights` title not in roles.toml, a past-tense pair that is not two
    words, or a template using a placeholder the generator does not fill.
    """
    name, data = read_toml(source, "words")
    words = check_table(data, _SPEC, where=name)
    for field in ("degrees", "certifications", "teams"):
        if set(words[field]) != set(FAMILIES):
            odd = sorted(set(words[field]) ^ set(FAMILIES))[0]
            raise TomlError(f"{name}: {field} must have exactly one entry per family; {odd!r} is"
                             f" {'missing' if odd in FAMILIES else 'not a family'}")
    if unknown := sorted(set(words["role_weights"]) - set(ROLES)):
        raise TomlError(f"{name}: role_weights names an unknown role {unknown[0]!r}")
    for field in ("irregular", "doubled"):
        if bad := [p for p in words["past_tense"][field] if len(p.split(" ")) != 2]:
            raise TomlError(f"{name}: past_tense.{field} must be 'verb past' pairs, got {bad[0]!r}")
    _check_templates(name, words)
    return words


_WORDS = load_words(files("clusterank.data").joinpath("words.toml"))

DEMO_QUERY: str = _WORDS["demo_query"]
"""A Product Marketing Manager job description (without the title) for `clusterank demo`."""
FIRST_NAMES: tuple[str, ...] = _WORDS["first_names"]
LAST_NAMES: tuple[str, ...] = _WORDS["last_names"]
COMPANIES: tuple[str, ...] = _WORDS["companies"]
INDUSTRIES: tuple[str, ...] = _WORDS["industries"]
SCHOOLS: tuple[str, ...] = _WORDS["schools"]
GENERIC_SKILLS: tuple[str, ...] = _WORDS["generic_skills"]
BUZZ_ADJECTIVES: tuple[str, ...] = _WORDS["buzz_adjectives"]
"""Generic adjectives every family's profiles use (the seed's complaint)."""
ROLE_WEIGHTS: dict[str, float] = _WORDS["role_weights"]
"""Relative frequency of each role beyond the guaranteed minimum (1.0 if absent)."""
DEGREES: dict[str, tuple[str, ...]] = _WORDS["degrees"]
CERTIFICATIONS: dict[str, tuple[str, ...]] = _WORDS["certifications"]
TEAMS: dict[str, str] = _WORDS["teams"]
"""How an ad or an achievement names a family's team ("customer experience")."""
IRREGULAR_PAST: dict[str, str] = dict(p.split(" ") for p in _WORDS["past_tense"]["irregular"])
DOUBLED_PAST: dict[str, str] = dict(p.split(" ") for p in _WORDS["past_tense"]["doubled"])
MORE_VERBS: tuple[str, ...] = _WORDS["past_tense"]["verbs"]
"""Verbs put in the past tense after "and" in a duty, besides the first word of every duty."""
KEEP_CASE: frozenset[str] = frozenset(_WORDS["skill_phrase"]["keep_case"])
"""A skill naming one of these words keeps its case mid-sentence."""
ABOUT: dict[str, dict] = _WORDS["about"]
"""About Me templates: ABOUT["generic" or "role"]["openers" | "middles" | "closers"] (and "earlier")."""
EXPERIENCE: dict[str, tuple[str, ...]] = _WORDS["experience"]
"""Experience templates: "positions" (one format per profile) and closing "achievements"."""
ADS: dict = _WORDS["ads"]
"""Job-ad templates: "company_kinds", "collab", "collab_also", "styles", "named_style"."""
