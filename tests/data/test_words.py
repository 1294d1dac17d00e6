"""Tests for the generator's word lists and templates (`words.toml`, `clusterank.data.words`)."""

from __future__ import annotations

import re
import string
from importlib.resources import files

import pytest

from clusterank.data import words
from clusterank.data.roles import FAMILIES, ROLES
from clusterank.data.words import load_words

BUNDLED = files("clusterank.data").joinpath("words.toml")


@pytest.fixture(scope="module")
def text() -> str:
    return BUNDLED.read_text(encoding="utf-8")


def test_bundled_file_is_read_once_into_the_constants():
    data = load_words(BUNDLED)
    assert words.FIRST_NAMES == data["first_names"] and len(words.FIRST_NAMES) >= 50
    assert isinstance(words.COMPANIES, tuple)  # lists become tuples: nothing can append to them
    assert set(words.DEGREES) == set(words.CERTIFICATIONS) == set(words.TEAMS) == set(FAMILIES)
    assert set(words.ROLE_WEIGHTS) <= set(ROLES)
    assert words.IRREGULAR_PAST["lead"] == "led" and words.DOUBLED_PAST["plan"] == "planned"
    assert {"Python", "Salesforce"} <= words.KEEP_CASE
    assert "product managers on the roadmap" in words.DEMO_QUERY


def test_every_template_fills_with_the_slots_the_generator_gives():
    # the placeholders named in _SLOTS are the ones the generator fills: format with all of them
    for (table, field), slots in words._SLOTS.items():
        value = words._WORDS[table][field]
        for template in words._templates(value):
            names = {n for _, n, _, _ in string.Formatter().parse(template) if n is not None}
            assert names <= (set(slots.split()) or {""}), (table, field, template)
            filled = template.format("x", **dict.fromkeys(slots.split(), "x"))
            assert "{" not in filled and "}" not in filled


@pytest.mark.parametrize("old, new, expected", [
    ('demo_query = """', 'demo_qery = """', "demo_qery is not a known field (known: demo_query,"),
    ('collab_also = " You', 'collab_also = 3\nx = " You', "ads.x is not a known field"),
    ('collab_also = " You will also work with {p}."', "collab_also = 3",
     "ads.collab_also must be a non-empty string, got 3"),
    ('collab_also = " You will also work with {p}."', "", ": ads lacks collab_also"),
    ('Legal = "legal"', "", "teams must have exactly one entry per family; 'Legal' is missing"),
    ('"Mobile Developer" = 0.9', '"Astronaut" = 0.9', "role_weights names an unknown role 'Astronaut'"),
    ('"Mobile Developer" = 0.9', '"Mobile Developer" = -1',
     'role_weights."Mobile Developer" must be > 0, got -1'),
    ('"break broke"', '"break"', "past_tense.irregular must be 'verb past' pairs, got 'break'"),
    ("Nice to have: {extra}.", "Nice to have: {salary}.",
     "ads.styles: \"We're {company}"),
    ("{adj} professional with", "{adj} professional {with", "about.generic"),
    ("[experience]", "[experiense]", "experiense is not a known field"),
])
def test_malformed_files_are_rejected_naming_the_field(text, old, new, expected):
    assert old in text
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_words(text.replace(old, new, 1))


def test_an_unknown_placeholder_is_named_with_the_allowed_ones(text):
    bad = text.replace("Nice to have: {extra}.", "Nice to have: {salary}.", 1)
    with pytest.raises(ValueError, match=re.escape("uses {salary}; it may use {collab}, {company}")):
        load_words(bad)


def test_a_missing_file_section_names_the_file(tmp_path, text):
    path = tmp_path / "words.toml"
    path.write_text(text.replace("[skill_phrase]", "[skill_phrases]"), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{path}: skill_phrases is not a known field")):
        load_words(path)
    path.write_text('first_names = ["A"', encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_words(path)
