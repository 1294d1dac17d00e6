"""Role taxonomy behind the bundled synthetic profiles and queries.

Every role names its confusable neighbours: roles whose profiles share much of the
vocabulary (skills, duties) but whose core work differs, such as a Product Manager
(roadmap, discovery, prioritisation) and a Product Marketing Manager (positioning,
messaging, go-to-market). The neighbour relation is symmetric.

Duties are written in the base form of the verb ("own the roadmap ...") so that a profile
can put them in the past tense. Job ads do not reuse them: each role also carries
`ad_duties`, the same work paraphrased the way a hiring manager writes it ("decide what
the team builds next"), plus `people` and `collab` so an ad for a neighbour can say
"partner with product managers on the roadmap". `variants` are the other titles people
with the role put in their headline ("Applied Scientist" for a Data Scientist).

The tables live in the package data file `roles.toml`; `load_roles` reads and checks it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

SENIORITY_LEVELS: tuple[str, ...] = ("Junior", "", "Senior", "Lead")
"""Seniority prefixes a title can carry in a headline ("" is the plain title)."""


@dataclass(frozen=True)
class Role:
    """One job role: its family, confusable neighbours and the words its profiles use."""

    title: str
    family: str
    neighbours: tuple[str, ...]
    skills: tuple[str, ...]
    duties: tuple[str, ...]
    taglines: tuple[str, ...]
    variants: tuple[str, ...] = ()
    """Other titles for the same work ("Go-to-Market Manager" for a Product Marketing Manager)."""
    ad_duties: tuple[str, ...] = ()
    """The duties as a job ad words them: base-form verb, different vocabulary from `duties`."""
    people: str = ""
    """How an ad for another role names colleagues in this role ("product managers")."""
    collab: str = ""
    """What those colleagues are worked with on ("the roadmap and what gets built next")."""

    @property
    def headline_titles(self) -> tuple[str, ...]:
        """Every title a headline for this role may show: `seniority_titles`, the variants and
        "Senior"/"Junior" in front of a variant."""
        extra = tuple(f"{level} {v}" for v in self.variants for level in ("Junior", "Senior"))
        return self.seniority_titles + self.variants + extra

    @property
    def seniority_titles(self) -> tuple[str, ...]:
        """The title with each of `SENIORITY_LEVELS` in front: "Junior X", "X", "Senior X", "Lead X"."""
        return tuple(f"{level} {self.title}".strip() for level in SENIORITY_LEVELS)


@dataclass(frozen=True)
class Taxonomy:
    """Everything `roles.toml` holds, checked: see `load_roles`."""

    roles: dict[str, Role]
    families: tuple[str, ...]
    confusable_groups: tuple[tuple[str, ...], ...]
    group_taglines: tuple[tuple[str, ...], ...]


_ROLE_FIELDS = {f.name: f.type for f in fields(Role)}
"""Field name -> annotation ("str" or "tuple[str, ...]"): every field is required in the file."""
_GROUP_FIELDS = {"roles": "tuple[str, ...]", "taglines": "tuple[str, ...]"}


_EXPECTED = {"str": "a non-empty string", "tuple[str, ...]": "a list of non-empty strings",
             "float": "a positive number"}


def _field(kind: str, value: object) -> tuple[bool, object, str]:
    """`value` checked as `kind`: (whether it is one, the value with lists made tuples, what was
    expected). Kinds: "str", "tuple[str, ...]", "float" and "dict[str, K]" for one of those K."""
    if kind.startswith("dict[str, "):
        inner = kind.removeprefix("dict[str, ").removesuffix("]")
        expected = f"a table whose every value is {_EXPECTED[inner]}"
        if not isinstance(value, dict):
            return False, value, expected
        checked = {key: _field(inner, item) for key, item in value.items()}
        ok = all(good for good, _, _ in checked.values())
        return ok, {key: item for key, (_, item, _) in checked.items()}, expected
    if kind == "str":
        ok = isinstance(value, str) and value.strip() != ""
    elif kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    else:
        ok = isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
        value = tuple(value) if ok else value
    return ok, value, _EXPECTED[kind]


Spec = dict[str, "str | Spec"]
"""Field name -> its kind (see `_field`), or the `Spec` of a sub-table."""


def check_table(where: str, table: object, spec: Spec) -> dict[str, object]:
    """`table` (parsed TOML) checked against `spec`: every field present, of its kind, no other
    field; lists become tuples. ValueError names `where` and the field."""
    if not isinstance(table, dict):
        raise ValueError(f"{where}: expected a table, got {type(table).__name__}")
    if unknown := sorted(set(table) - set(spec)):
        raise ValueError(f"{where}: unknown field {unknown[0]!r}")
    out: dict[str, object] = {}
    for name, kind in spec.items():
        if name not in table:
            raise ValueError(f"{where}: missing field {name!r}")
        if isinstance(kind, dict):
            out[name] = check_table(f"{where}, table {name!r}", table[name], kind)
            continue
        ok, value, expected = _field(kind, table[name])
        if not ok:
            raise ValueError(f"{where}, field {name!r}: expected {expected}, got {value!r}")
        out[name] = value
    return out


def read_toml(source: str | Path | Traversable, what: str) -> tuple[str, dict]:
    """(a name for messages, the parsed table) of TOML text (a str) or a file; ValueError if not TOML."""
    name = f"<{what} TOML text>" if isinstance(source, str) else str(source)
    text = source if isinstance(source, str) else source.read_text(encoding="utf-8")
    try:
        return name, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{name}: not valid TOML: {exc}") from exc


def load_roles(source: str | Path | Traversable) -> Taxonomy:
    """Read and check a role taxonomy: TOML text (a str) or a file (a path).

    Raises ValueError naming the role (or group) and field when the file is malformed: a
    missing or mistyped field, a duplicate title, an unknown family or neighbour, a neighbour
    link that is not symmetric, or a confusable group naming an unknown or already grouped role.
    """
    name, data = read_toml(source, "roles")
    if unknown := sorted(set(data) - {"families", "roles", "confusable_groups"}):
        raise ValueError(f"{name}: unknown top-level key {unknown[0]!r}")
    top = {key: value for key, value in data.items() if key == "families"}
    families = check_table(name, top, {"families": "tuple[str, ...]"})["families"]
    if not isinstance(data.get("roles"), list) or not data["roles"]:
        raise ValueError(f"{name}: expected at least one [[roles]] table")

    roles: dict[str, Role] = {}
    for i, table in enumerate(data["roles"], start=1):
        title = table.get("title") if isinstance(table, dict) else None
        where = f"{name}: role {title!r}" if isinstance(title, str) else f"{name}: role #{i}"
        role = Role(**check_table(where, table, _ROLE_FIELDS))
        if role.title in roles:
            raise ValueError(f"{where}, field 'title': duplicate title")
        if role.family not in families:
            raise ValueError(f"{where}, field 'family': unknown family {role.family!r}"
                             f" (not in families: {', '.join(families)})")
        roles[role.title] = role
    for role in roles.values():
        where = f"{name}: role {role.title!r}, field 'neighbours'"
        if len(set(role.neighbours)) != len(role.neighbours) or role.title in role.neighbours:
            raise ValueError(f"{where}: neighbours repeat or include the role itself")
        for nb in role.neighbours:
            if nb not in roles:
                raise ValueError(f"{where}: unknown role {nb!r}")
            if role.title not in roles[nb].neighbours:
                raise ValueError(f"{where}: {nb!r} does not list {role.title!r} back")
    if empty := [f for f in families if all(r.family != f for r in roles.values())]:
        raise ValueError(f"{name}: family {empty[0]!r} has no roles")

    groups: list[tuple[str, ...]] = []
    taglines: list[tuple[str, ...]] = []
    for i, table in enumerate(data.get("confusable_groups", []), start=1):
        where = f"{name}: confusable group #{i}"
        group = check_table(where, table, _GROUP_FIELDS)
        for title in group["roles"]:
            if title not in roles:
                raise ValueError(f"{where}, field 'roles': unknown role {title!r}")
            if any(title in g for g in groups) or group["roles"].count(title) > 1:
                raise ValueError(f"{where}, field 'roles': role {title!r} is in two groups")
        groups.append(group["roles"])
        taglines.append(group["taglines"])
    return Taxonomy(roles, families, tuple(groups), tuple(taglines))


_TAXONOMY = load_roles(files("clusterank.data").joinpath("roles.toml"))

ROLES: dict[str, Role] = _TAXONOMY.roles
"""All roles keyed by title, in a fixed order."""

FAMILIES: tuple[str, ...] = _TAXONOMY.families
"""Role families, in the order of `families` in the file (that of first appearance)."""

CONFUSABLE_GROUPS: tuple[tuple[str, ...], ...] = _TAXONOMY.confusable_groups
"""Groups of mutually confusable roles (each a chain or clique in the neighbour graph).

No role is in two groups; roles outside every group still have neighbours, just looser ones."""

GROUP_TAGLINES: tuple[tuple[str, ...], ...] = _TAXONOMY.group_taglines
"""Taglines shared by every role of the `CONFUSABLE_GROUPS` group at the same position."""


def confusable_group(title: str) -> tuple[str, ...]:
    """The `CONFUSABLE_GROUPS` group holding `title`, or () if the role is in none."""
    role = get_role(title)
    return next((group for group in CONFUSABLE_GROUPS if role.title in group), ())


def group_taglines(title: str) -> tuple[str, ...]:
    """The `GROUP_TAGLINES` of the confusable group holding `title` (() if none)."""
    group = confusable_group(title)
    return GROUP_TAGLINES[CONFUSABLE_GROUPS.index(group)] if group else ()


def get_role(title: str) -> Role:
    """The role with this title (exact, else ignoring case and spacing); ValueError if unknown."""
    try:
        return ROLES[title]
    except KeyError:
        wanted = " ".join(str(title).split()).casefold()
        for role in ROLES.values():
            if role.title.casefold() == wanted:
                return role
        valid = ", ".join(list(ROLES)[:6])
        raise ValueError(f"unknown role {title!r}; valid ones include: {valid}, ...") from None


def neighbours(title: str) -> tuple[str, ...]:
    """Titles of the roles confusable with `title`."""
    return get_role(title).neighbours


def neighbour_map() -> dict[str, tuple[str, ...]]:
    """Every role title mapped to its confusable neighbours (for near-miss rates)."""
    return {title: role.neighbours for title, role in ROLES.items()}

