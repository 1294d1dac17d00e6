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

from dataclasses import dataclass, fields
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from clusterank.tomlfile import Field, Schema, TomlError, check_table, read_toml

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


_ROLE_FIELDS: Schema = {f.name: Field("text" if f.type == "str" else "texts") for f in fields(Role)}
"""Every field of a role is required in the file: the strings non-empty, the lists lists of non-empty strings."""
_GROUP_FIELDS: Schema = {"roles": Field("texts"), "taglines": Field("texts")}
_TOP: Schema = {"families": Field("texts"), "roles": Field("tables"),
                "confusable_groups": Field("tables", required=False)}


def load_roles(source: str | Path | Traversable) -> Taxonomy:
    """Read and check a role taxonomy: TOML text (a str) or a file (a path).

    Raises `TomlError` (a `ClusterankError` and a `ValueError`) naming the role (or group) and field
    when the file is malformed (see `clusterank.tomlfile.check_table`): a missing, unknown or mistyped field, a duplicate title, an unknown family or neighbour, a neighbour
    link that is not symmetric, or a confusable group naming an unknown or already grouped role.
    """
    name, data = read_toml(source, "roles")
    data = check_table(data, _TOP, where=name)
    families = data["families"]
    if not data["roles"]:
        raise TomlError(f"{name}: expected at least one [[roles]] table")

    roles: dict[str, Role] = {}
    for i, table in enumerate(data["roles"], start=1):
        title = table.get("title")
        where = f"{name}: role {title!r}" if isinstance(title, str) else f"{name}: role #{i}"
        role = Role(**check_table(table, _ROLE_FIELDS, where=where))
        if role.title in roles:
            raise TomlError(f"{where}: title is a duplicate of an earlier role's")
        if role.family not in families:
            raise TomlError(f"{where}: family {role.family!r} is not one of families ({', '.join(families)})")
        roles[role.title] = role
    for role in roles.values():
        where = f"{name}: role {role.title!r}: neighbours"
        if len(set(role.neighbours)) != len(role.neighbours) or role.title in role.neighbours:
            raise TomlError(f"{where} repeat or include the role itself")
        for nb in role.neighbours:
            if nb not in roles:
                raise TomlError(f"{where} name an unknown role {nb!r}")
            if role.title not in roles[nb].neighbours:
                raise TomlError(f"{where} name {nb!r}, which does not list {role.title!r} back")
    if empty := [f for f in families if all(r.family != f for r in roles.values())]:
        raise TomlError(f"{name}: family {empty[0]!r} has no roles")

    groups: list[tuple[str, ...]] = []
    taglines: list[tuple[str, ...]] = []
    for i, table in enumerate(data.get("confusable_groups", []), start=1):
        where = f"{name}: confusable group #{i}"
        group = check_table(table, _GROUP_FIELDS, where=where)
        for title in group["roles"]:
            if title not in roles:
                raise TomlError(f"{where}: roles name an unknown role {title!r}")
            if any(title in g for g in groups) or group["roles"].count(title) > 1:
                raise TomlError(f"{where}: roles name {title!r}, which is in two groups")
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

