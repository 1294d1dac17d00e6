"""Tests for the deterministic profile and query generator."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from clusterank.data.roles import FAMILIES, ROLES, confusable_group, get_role, group_taglines
from clusterank.data.schema import HEADLINE_SEPARATOR, PROFILE_FIELDS, profile_text, role_from_headline
from clusterank.data.synthetic import (
    DEMO_QUERY,
    MIN_PER_ROLE,
    article,
    generate_profiles,
    generate_queries,
    past_tense,
    skill_phrase,
)

COLUMNS = ["FirstName", "LastName", "Headline", "About Me", "Experience", "Education", "Skills",
           "Certifications", "text", "role", "family", "name_gender", "name_origin"]
BASE_COLUMNS = COLUMNS[:11]
"""The columns the set had before the name groups were appended (`names.toml`); pinned byte for byte below."""
IRREGULAR_PAST = {"led", "built", "ran", "wrote", "set", "cut", "grew", "kept", "made", "laid",
                  "broke", "fed", "drove", "oversaw", "upsold", "forecast"}
BUZZWORDS = ("results-driven", "data-driven", "experienced", "passionate", "cross-functional",
             "stakeholder management", "strategic")
"""Generic buzzwords that must appear across families (the seed's complaint about real profiles)."""
SRC = Path(__file__).resolve().parents[2] / "src"


def _sha(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv().encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def profiles() -> pd.DataFrame:
    return generate_profiles()


@pytest.fixture(scope="module")
def queries() -> pd.DataFrame:
    return generate_queries()


# ---------------------------------------------------------------------------- profiles


def test_shape_columns_and_types(profiles):
    assert len(profiles) == 6904
    assert list(profiles.columns) == COLUMNS
    assert list(profiles.columns[:8]) == list(PROFILE_FIELDS)
    assert isinstance(profiles.index, pd.RangeIndex)
    assert profiles.index[0] == 0 and profiles.index[-1] == 6903
    for column in COLUMNS:
        assert profiles[column].map(type).eq(str).all(), column
    for column in COLUMNS:
        if column != "Certifications":
            assert profiles[column].str.strip().ne("").all(), column
    assert profiles["Certifications"].eq("").any()
    assert profiles["Certifications"].ne("").mean() > 0.5


BUNDLED_SHA256 = {
    "profiles": "360d206445d69787d91e365f64445c0c00653dd78a59979f405f542e3489e854",
    "queries": "a155ed2483fcb59bb23a6301e175f212a5298314f985281c43af0f59762b4ef8",
}
"""`_sha` of the default profiles (their first 11 columns) and queries: any change to the generator, roles.toml or
words.toml that changes the bundled data (and every number in the README) fails here."""


def test_bundled_data_is_pinned(profiles, queries):
    assert _sha(profiles[BASE_COLUMNS]) == BUNDLED_SHA256["profiles"]
    assert _sha(queries) == BUNDLED_SHA256["queries"]


def test_deterministic(profiles):
    assert _sha(profiles) == _sha(generate_profiles(6904, seed=42))
    assert _sha(generate_profiles(300, seed=7)) == _sha(generate_profiles(300, seed=7))
    assert _sha(generate_profiles(300, seed=7)) != _sha(generate_profiles(300, seed=8))


def test_deterministic_across_hash_seeds():
    code = ("import hashlib; from clusterank.data.synthetic import generate_profiles, "
            "generate_queries; print(hashlib.sha256((generate_profiles(400, 3).to_csv() + "
            "generate_queries(3).to_csv()).encode()).hexdigest())")
    digests = set()
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(SRC)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_headline_and_role(profiles):
    canonical = shared = 0
    for headline, role in zip(profiles["Headline"], profiles["role"]):
        title, tagline = headline.split(HEADLINE_SEPARATOR)
        assert tagline in ROLES[role].taglines + group_taglines(role)
        assert title in ROLES[role].headline_titles
        assert role_from_headline(headline) == title
        canonical += title in ROLES[role].seniority_titles
        shared += tagline in group_taglines(role)
    # realistic title variants ("Applied Scientist") in about 45% of headlines
    assert 0.5 <= canonical / len(profiles) <= 0.62
    assert 0.15 <= shared / len(profiles) <= 0.32
    titles = profiles["Headline"].map(role_from_headline)
    for role in ROLES.values():
        shown = set(titles[profiles["role"] == role.title])
        assert shown & set(role.variants), role.title
    assert profiles["family"].tolist() == [ROLES[r].family for r in profiles["role"]]
    assert profiles["Headline"].str.startswith("Senior ").any()
    assert profiles["Headline"].str.startswith("Junior ").any()


def test_text_is_profile_text(profiles):
    assert all(row["text"] == profile_text(row) for row in profiles.to_dict("records"))


def test_role_distribution(profiles):
    counts = profiles["role"].value_counts()
    assert set(counts.index) == set(ROLES)
    assert counts.min() >= MIN_PER_ROLE >= 40
    assert counts["Software Engineer"] > 2 * counts["Technical Writer"]
    assert counts["Data Scientist"] > counts.median()
    assert counts["Product Manager"] > counts.median()


@pytest.mark.parametrize("n", [0, 10, len(ROLES), 200])
def test_small_n_covers_roles(n):
    frame = generate_profiles(n, seed=1)
    assert len(frame) == n and list(frame.columns) == COLUMNS
    assert frame["role"].nunique() == min(n, len(ROLES))


def test_negative_n_rejected():
    with pytest.raises(ValueError):
        generate_profiles(-1)


def test_sections_have_variety(profiles):
    skills = profiles["Skills"].str.split(", ")
    assert skills.str.len().between(6, 11).all()
    assert skills.map(lambda s: len(set(s)) == len(s)).all()
    certs = profiles["Certifications"].map(lambda c: 0 if not c else len(c.split(", ")))
    assert certs.between(0, 2).all() and set(certs) == {0, 1, 2}
    assert profiles["FirstName"].nunique() >= 70 and profiles["LastName"].nunique() >= 70
    assert profiles["About Me"].nunique() > 0.95 * len(profiles)
    sentences = profiles["About Me"].str.count(r"[.!?](?:\s|$)")
    assert sentences.between(2, 4).all()
    positions = profiles["Experience"].str.count(r"\b(?:19|20)\d\d(?:-| to )(?:(?:19|20)\d\d|present)")
    assert positions.between(2, 3).all()


def test_skills_mostly_from_role(profiles):
    own = borrowed = total = 0
    for row in profiles.head(2000).itertuples():
        role = get_role(row.role)
        skills = row.Skills.split(", ")
        near = {s for nb in role.neighbours for s in get_role(nb).skills} - set(role.skills)
        assert sum(s in role.skills for s in skills) >= 3
        own += sum(s in role.skills for s in skills)
        borrowed += sum(s in near for s in skills)
        total += len(skills)
    # about a third of the skills come from neighbour roles; the role's own still lead
    assert 0.28 <= borrowed / total <= 0.42
    assert own > borrowed


def test_length(profiles):
    words = profiles["text"].str.split().str.len()
    assert 120 <= words.mean() <= 220
    assert words.quantile(0.05) >= 90 and words.max() <= 300


def test_buzzwords_span_families(profiles):
    lower = profiles["text"].str.lower()
    for word in BUZZWORDS:
        families = profiles.loc[lower.str.contains(word, regex=False), "family"].nunique()
        assert families >= 5, word
    # the title word alone is not a discriminator: most families say "cross-functional"
    assert profiles.loc[lower.str.contains("cross-functional"), "family"].nunique() == len(FAMILIES)


def test_neighbour_careers(profiles):
    def has_neighbour_job(row) -> bool:
        experience = row.Experience
        for variant in get_role(row.role).variants:  # "Software Engineer (Full Stack)"
            experience = experience.replace(variant, "")
        return any(f"{nb} " in experience or f"{nb}," in experience
                   for nb in get_role(row.role).neighbours if nb not in row.role)

    share = sum(map(has_neighbour_job, profiles.itertuples())) / len(profiles)
    assert 0.22 <= share <= 0.33


def test_neighbour_duties(profiles):
    def does_neighbour_work(row) -> bool:
        role = get_role(row.role)
        return any(past_tense(d) in row.Experience for nb in role.neighbours
                   for d in get_role(nb).duties)

    # a neighbour career or a duty borrowed from a neighbour in about half the profiles
    share = sum(map(does_neighbour_work, profiles.itertuples())) / len(profiles)
    assert 0.4 <= share <= 0.6


def test_some_about_sections_are_generic(profiles):
    def names_no_title(row) -> bool:
        role = get_role(row.role)
        return not any(t in row._4 for t in (role.title, *role.variants))

    share = sum(map(names_no_title, profiles.itertuples())) / len(profiles)
    assert 0.25 <= share <= 0.55


# ---------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("duty,expected", [
    ("lead go-to-market launches", "led go-to-market launches"),
    ("plan and run campaigns", "planned and ran campaigns"),
    ("grow the community and respond to comments", "grew the community and responded to comments"),
    ("query data in SQL", "queried data in SQL"),
    ("ship features with engineers and designers", "shipped features with engineers and designers"),
    ("write and update policies", "wrote and updated policies"),
])
def test_past_tense(duty, expected):
    assert past_tense(duty) == expected


def test_every_duty_has_a_past_tense():
    for role in ROLES.values():
        for duty in role.duties:
            first = past_tense(duty).split()[0]
            assert first.endswith("ed") or first in IRREGULAR_PAST, (duty, first)


def test_skill_phrase_and_article():
    assert skill_phrase("Product Positioning") == "product positioning"
    assert skill_phrase("A/B Testing") == "A/B testing"
    assert skill_phrase("Win/Loss Analysis") == "win/loss analysis"
    assert skill_phrase("CI/CD") == "CI/CD"
    assert skill_phrase("Go-to-Market Strategy") == "go-to-market strategy"
    assert skill_phrase("Google Analytics") == "Google Analytics"
    assert article("Account Executive") == "an Account Executive"
    assert article("UX Designer") == "a UX Designer"
    assert article("FP&A Manager") == "an FP&A Manager"


# ---------------------------------------------------------------------------- queries


def test_queries_shape(queries):
    assert list(queries.columns) == ["id", "natural_language", "role", "family",
                                     "neighbour_in_corpus"]
    assert 60 <= len(queries) <= 100
    assert queries["id"].tolist() == [f"q{i:03d}" for i in range(1, len(queries) + 1)]
    assert queries["natural_language"].is_unique
    assert queries["family"].tolist() == [ROLES[r].family for r in queries["role"]]
    words = queries["natural_language"].str.split().str.len()
    assert words.between(40, 120).all()


def test_queries_cover_roles(queries):
    assert set(queries["role"]) == set(ROLES)
    assert (queries["role"] == "Product Marketing Manager").sum() >= 3
    assert queries["role"].value_counts().gt(1).sum() >= 15


def test_queries_mostly_hide_title(queries):
    has_title = [r.lower() in t.lower() for r, t in zip(queries["role"], queries["natural_language"])]
    assert sum(has_title) / len(queries) <= 0.25
    assert any(has_title)  # a few ads do name the role, as real ones do


def test_queries_neighbour_flag(queries):
    flag = queries["neighbour_in_corpus"]
    assert flag.map(type).eq(bool).all()
    assert flag.sum() >= 15 and not flag.all()
    # True exactly for roles in one of the tight confusable groups
    assert flag.tolist() == [bool(confusable_group(r)) for r in queries["role"]]
    assert not queries.loc[queries["role"] == "Technical Writer", "neighbour_in_corpus"].any()
    assert queries.loc[queries["role"] == "Product Marketing Manager", "neighbour_in_corpus"].all()


def test_queries_deterministic(queries):
    assert _sha(queries) == _sha(generate_queries(42))
    assert _sha(queries) != _sha(generate_queries(43))


def test_queries_paraphrase_the_work(queries):
    every_duty = [d for role in ROLES.values() for d in role.duties]
    for row in queries.itertuples():
        role = get_role(row.role)
        # the ad's own wording of the work, never the duty phrases profiles use
        assert sum(d in row.natural_language for d in role.ad_duties) >= 3
        assert not any(d in row.natural_language for d in every_duty)
        assert not any(past_tense(d) in row.natural_language for d in role.duties)


def test_queries_mention_neighbour_colleagues(queries):
    def names_neighbour(row) -> bool:
        return any(get_role(nb).people in row.natural_language
                   for nb in get_role(row.role).neighbours)

    share = sum(map(names_neighbour, queries.itertuples())) / len(queries)
    assert 0.7 <= share <= 0.95


def test_demo_query():
    words = len(DEMO_QUERY.split())
    assert 60 <= words <= 100
    assert "product marketing manager" not in DEMO_QUERY.lower()
    for cue in ("messaging", "persona", "go-to-market", "competitive", "sales"):
        assert cue in DEMO_QUERY.lower()
    # like the generated ads: no duty phrase of the role, and a neighbour named as a colleague
    assert not any(d in DEMO_QUERY for d in get_role("Product Marketing Manager").duties)
    assert "product managers on the roadmap" in DEMO_QUERY
