"""Tests for the role taxonomy in `clusterank.data.roles`."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from clusterank.data.roles import (
    CONFUSABLE_GROUPS,
    FAMILIES,
    GROUP_TAGLINES,
    ROLES,
    SENIORITY_LEVELS,
    Role,
    confusable_group,
    get_role,
    group_taglines,
    load_roles,
    neighbours,
)

REQUIRED_GROUPS = (
    ("Product Manager", "Product Marketing Manager", "Product Owner"),
    ("Marketing Manager", "Growth Marketer", "SEO Specialist", "Content Marketing Manager"),
    ("Data Scientist", "Data Analyst", "Machine Learning Engineer", "Data Engineer"),
    ("Software Engineer", "DevOps Engineer", "Site Reliability Engineer"),
    ("UX Designer", "UI Designer", "Product Designer"),
    ("Account Executive", "Business Development Representative", "Customer Success Manager"),
    ("Recruiter", "HR Business Partner"),
    ("Financial Analyst", "Accountant", "FP&A Manager"),
    ("Project Manager", "Program Manager", "Scrum Master"),
    ("Operations Manager", "Supply Chain Manager"),
    ("Frontend Engineer", "Backend Engineer", "Full-Stack Engineer"),
    ("Security Engineer", "Cloud Engineer"),
    ("Sales Engineer", "Solutions Architect"),
    ("Brand Manager", "Social Media Manager"),
)


def _words(role: Role) -> set[str]:
    text = " ".join(role.skills + role.duties).lower()
    return {w for w in re.findall(r"[a-z][a-z/&+-]+", text) if len(w) > 3}


def test_size_and_families():
    assert len(ROLES) >= 40
    assert len(FAMILIES) >= 8
    assert list(ROLES) == [r.title for r in ROLES.values()]
    assert set(FAMILIES) == {r.family for r in ROLES.values()}
    for family in FAMILIES:
        assert any(role.family == family for role in ROLES.values()), family


@pytest.mark.parametrize("title", list(ROLES))
def test_role_content_sizes(title):
    role = ROLES[title]
    assert 8 <= len(role.skills) <= 15
    assert 6 <= len(role.duties) <= 10
    assert 3 <= len(role.taglines) <= 5
    assert len(set(role.skills)) == len(role.skills), "duplicate skills"
    assert len(set(role.duties)) == len(role.duties), "duplicate duties"
    assert role.neighbours, "every role needs a confusable neighbour"
    # duties are written for job ads: base-form verb, lower case, no trailing period
    for duty in role.duties:
        assert duty[0].islower() and not duty.endswith("."), duty


def _content(phrase: str) -> set[str]:
    stop = {"with", "from", "into", "that", "what", "them", "they", "every", "each", "their",
            "your", "have", "when", "where", "before", "after", "the", "and", "for", "our"}
    return {w for w in re.findall(r"[a-z][a-z/&+-]+", phrase.lower()) if len(w) > 2} - stop


@pytest.mark.parametrize("title", list(ROLES))
def test_ad_copy(title):
    role = ROLES[title]
    assert 3 <= len(role.variants) <= 5
    assert len(set(role.variants)) == len(role.variants)
    assert role.title not in role.variants
    assert 5 <= len(role.ad_duties) <= 8
    assert role.people and role.collab
    for phrase in role.ad_duties:
        assert phrase[0].islower() and not phrase.endswith("."), phrase
        # ads paraphrase the work: no ad phrase is a profile duty or mostly its words
        for duty in role.duties:
            a, b = _content(phrase), _content(duty)
            assert len(a & b) / len(a | b) < 0.5, (phrase, duty)


def test_variants_are_unique_titles():
    seen: dict[str, str] = {}
    for title, role in ROLES.items():
        for variant in role.variants:
            assert variant not in ROLES, variant
            assert variant not in seen, (variant, title, seen.get(variant))
            seen[variant] = title
    pmm = get_role("Product Marketing Manager").variants
    assert {"Product Marketing Lead", "Go-to-Market Manager", "Solutions Marketing Manager"} <= set(pmm)
    assert "Applied Scientist" in get_role("Data Scientist").variants
    assert "Production Engineer" in get_role("Site Reliability Engineer").variants


def test_headline_titles():
    role = get_role("Data Scientist")
    assert set(role.seniority_titles) <= set(role.headline_titles)
    assert "Applied Scientist" in role.headline_titles
    assert "Senior Applied Scientist" in role.headline_titles


def test_groups_and_group_taglines():
    assert len(GROUP_TAGLINES) == len(CONFUSABLE_GROUPS)
    members = [t for g in CONFUSABLE_GROUPS for t in g]
    assert len(members) == len(set(members)), "a role is in two groups"
    assert confusable_group("product marketing manager") == CONFUSABLE_GROUPS[0]
    assert confusable_group("Technical Writer") == ()
    assert group_taglines("Technical Writer") == ()
    for group, taglines in zip(CONFUSABLE_GROUPS, GROUP_TAGLINES):
        assert len(taglines) >= 2
        for title in group:
            assert group_taglines(title) == taglines
            assert not set(taglines) & set(ROLES[title].taglines)


def test_neighbours_exist_and_are_symmetric():
    for title, role in ROLES.items():
        assert title not in role.neighbours
        assert len(set(role.neighbours)) == len(role.neighbours)
        for nb in role.neighbours:
            assert nb in ROLES, f"{title}: unknown neighbour {nb}"
            assert title in ROLES[nb].neighbours, f"{title} -> {nb} is not symmetric"


@pytest.mark.parametrize("group", REQUIRED_GROUPS, ids=lambda g: g[0])
def test_required_groups_are_connected(group):
    for title in group:
        assert title in ROLES, title
    # the group is connected through neighbour links inside the group (a chain or clique)
    reached, frontier = {group[0]}, [group[0]]
    while frontier:
        for nb in neighbours(frontier.pop()):
            if nb in group and nb not in reached:
                reached.add(nb)
                frontier.append(nb)
    assert reached == set(group)


def test_declared_groups_cover_required_ones():
    declared = {frozenset(g) for g in CONFUSABLE_GROUPS}
    for group in REQUIRED_GROUPS:
        assert frozenset(group) in declared


def test_pm_and_pmm_are_distinct():
    pm, pmm = get_role("Product Manager"), get_role("Product Marketing Manager")
    pmm_text = " ".join(pmm.skills + pmm.duties).lower()
    pm_text = " ".join(pm.skills + pm.duties).lower()
    for word in ("positioning", "messaging", "go-to-market", "enablement", "competitive",
                 "personas"):
        assert word in pmm_text, word
    for word in ("roadmap", "discovery", "prioritis", "user stories", "engineering"):
        assert word in pm_text, word
    assert "positioning" not in pm_text and "user stories" not in pmm_text


def test_neighbours_share_vocabulary_but_keep_core():
    for title, role in ROLES.items():
        own = _words(role)
        for nb in role.neighbours:
            other = ROLES[nb]
            shared = own & _words(other)
            assert len(shared) >= 3, f"{title} / {nb} share too little: {sorted(shared)}"
            assert set(role.skills) != set(other.skills)
            # each keeps at least half of its skills to itself
            assert len(set(role.skills) - set(other.skills)) >= len(role.skills) // 2


def test_core_neighbours_share_skills():
    for group in REQUIRED_GROUPS[:7]:
        for a in group:
            for b in neighbours(a):
                if b in group:
                    ra, rb = get_role(a), get_role(b)
                    assert set(ra.skills) & set(rb.skills) or len(_words(ra) & _words(rb)) >= 5


def test_get_role_and_errors():
    assert get_role("Data Scientist").family == "Data"
    assert get_role("  data   scientist ").title == "Data Scientist"
    with pytest.raises(ValueError, match="Astronaut") as info:
        get_role("Astronaut")
    assert "Product Manager" in str(info.value)
    with pytest.raises(ValueError):
        neighbours("Astronaut")


def test_seniority_titles():
    role = get_role("Product Marketing Manager")
    assert role.seniority_titles == ("Junior Product Marketing Manager",
                                     "Product Marketing Manager",
                                     "Senior Product Marketing Manager",
                                     "Lead Product Marketing Manager")
    assert len(role.seniority_titles) == len(SENIORITY_LEVELS)


def test_role_is_frozen():
    with pytest.raises(AttributeError):
        get_role("Recruiter").title = "Sourcer"  # type: ignore[misc]


_ROLE_TOML = """
[[roles]]
title = "{title}"
family = "{family}"
neighbours = [{neighbours}]
skills = ["Python"]
duties = ["build things"]
taglines = ["Builder"]
variants = []
people = "builders"
collab = "things"
ad_duties = ["make things"]
"""


def _toml(*roles: tuple[str, str, str], families: str = '"Data"') -> str:
    body = "".join(_ROLE_TOML.format(title=t, family=f, neighbours=n) for t, f, n in roles)
    return f"families = [{families}]\n{body}"


def test_load_roles_reads_the_bundled_file():
    taxonomy = load_roles(files("clusterank.data").joinpath("roles.toml"))
    assert taxonomy.roles == ROLES and list(taxonomy.roles) == list(ROLES)
    assert taxonomy.families == FAMILIES
    assert taxonomy.confusable_groups == CONFUSABLE_GROUPS
    assert taxonomy.group_taglines == GROUP_TAGLINES


def test_load_roles_accepts_a_small_valid_file():
    taxonomy = load_roles(_toml(("A", "Data", '"B"'), ("B", "Data", '"A"')))
    assert list(taxonomy.roles) == ["A", "B"]
    assert taxonomy.roles["A"].neighbours == ("B",)
    assert taxonomy.roles["A"].skills == ("Python",)


@pytest.mark.parametrize("text, expected", [
    (_toml(("A", "Data", '"Astronaut"')), "role 'A': neighbours name an unknown role 'Astronaut'"),
    (_toml(("A", "Data", '"B"'), ("B", "Data", "")), "role 'A': neighbours name 'B', which does not"),
    (_toml(("A", "Data", '"A"')), "role 'A': neighbours repeat or include the role itself"),
    (_toml(("A", "Spaceflight", "")), "role 'A': family 'Spaceflight' is not one of families (Data)"),
    (_toml(("A", "Data", '"B"'), ("B", "Data", '"A"'), families='"Data", "Legal"'),
     "family 'Legal' has no roles"),
    (_toml(("A", "Data", '"B"'), ("B", "Data", '"A"'), ("A", "Data", "")),
     "role 'A': title is a duplicate"),
    (_toml(("A", "Data", "")).replace('people = "builders"', ""), "role 'A' lacks people"),
    (_toml(("A", "Data", "")).replace('skills = ["Python"]', 'skills = "Python"'),
     "role 'A': skills must be a list of non-empty strings, got 'Python'"),
    (_toml(("A", "Data", "")).replace('collab = "things"', 'colab = "things"'),
     "role 'A': colab is not a known field (known: title, family,"),
    (_toml(("A", "Data", '"B"'), ("B", "Data", '"A"'))
     + '[[confusable_groups]]\nroles = ["A", "Z"]\ntaglines = ["x"]\n',
     "confusable group #1: roles name an unknown role 'Z'"),
    ("families = [\"Data\"\n", "not valid TOML"),
])
def test_load_roles_rejects_malformed_files(text, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_roles(text)


def test_load_roles_names_the_file(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text(_toml(("A", "Data", '"Astronaut"')), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{path}: role 'A'")):
        load_roles(path)
