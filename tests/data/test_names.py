"""Name groups of the bundled set (names.toml), name-blind texts, and name swaps."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from clusterank import ClusterankError, EmbeddingStore, bundled_profiles, load_profiles, parse_blind, swap_names
from clusterank.data.names import (FIRST_NAME_GENDER, FIRST_NAME_GROUPS, LAST_NAME_GROUPS, LAST_NAME_ORIGIN,
                                   load_name_groups)
from clusterank.data.schema import profile_text
from clusterank.data.synthetic import generate_profiles
from clusterank.data.words import FIRST_NAMES, LAST_NAMES
from clusterank.embed.store import text_hash
from clusterank.tomlfile import TomlError

BASE = ["FirstName", "LastName", "Headline", "About Me", "Experience", "Education", "Skills", "Certifications",
        "text", "role", "family"]
PINNED = "360d206445d69787d91e365f64445c0c00653dd78a59979f405f542e3489e854"  # as tests/data/test_synthetic.py


@pytest.fixture(scope="module")
def profiles() -> pd.DataFrame:
    return generate_profiles()


def test_bundled_columns_unchanged_and_groups_appended(profiles):
    assert list(profiles.columns) == BASE + ["name_gender", "name_origin"]
    assert hashlib.sha256(profiles[BASE].to_csv().encode("utf-8")).hexdigest() == PINNED
    assert set(profiles["name_gender"]) == set(FIRST_NAME_GROUPS)
    assert set(profiles["name_origin"]) == set(LAST_NAME_GROUPS)
    assert (profiles["name_gender"] == profiles["FirstName"].map(FIRST_NAME_GENDER)).all()
    assert (profiles["name_origin"] == profiles["LastName"].map(LAST_NAME_ORIGIN)).all()
    assert profiles["name_gender"].value_counts(normalize=True)[["female", "male"]].min() > 0.4


def test_every_bundled_name_is_in_exactly_one_group():
    assert sorted(FIRST_NAME_GENDER) == sorted(FIRST_NAMES) and len(FIRST_NAMES) == len(set(FIRST_NAMES))
    assert sorted(LAST_NAME_ORIGIN) == sorted(LAST_NAMES)
    assert FIRST_NAME_GENDER["Emily"] == "female" and FIRST_NAME_GENDER["James"] == "male"
    assert LAST_NAME_ORIGIN["Nakamura"] == "east_asian" and LAST_NAME_ORIGIN["Okafor"] == "african"


def test_name_groups_file_is_checked():
    good = '[first_name_gender]\nfemale = ["Ann"]\nmale = ["Bob"]\nunisex = []\n[last_name_origin]\n' + "".join(
        f'{g} = []\n' for g in LAST_NAME_GROUPS)
    assert load_name_groups(good)["first_name_gender"]["male"] == ("Bob",)
    with pytest.raises(TomlError, match="'Ann' is in both"):
        load_name_groups(good.replace('male = ["Bob"]', 'male = ["Ann"]'))
    with pytest.raises(TomlError, match="exactly the groups"):
        load_name_groups(good.replace("unisex = []\n", ""))


def test_parse_blind():
    assert parse_blind("names, email,names") == ("names", "email")
    assert parse_blind("all") == ("names", "photo", "email", "phone", "age", "address")
    assert parse_blind("Nickname") == ("Nickname",)
    assert parse_blind(None) == () == parse_blind("")


def test_bundled_blind_text_drops_the_name_line_only():
    plain, blind = bundled_profiles(n=60), bundled_profiles(n=60, blind="all")
    frame = plain.frame
    for i, (a, b) in enumerate(zip(plain.texts, blind.texts)):
        row = frame.iloc[i]
        assert a.splitlines()[0] == f"{row['FirstName']} {row['LastName']}"
        assert b == "\n".join(a.splitlines()[1:])  # nothing else matched a pattern
        assert row["FirstName"] not in b.splitlines()[0]
    assert "blind: names, photo" in blind.source and blind.blind == parse_blind("all")
    assert {text_hash(t) for t in plain.texts}.isdisjoint(text_hash(t) for t in blind.texts)
    card = blind.card(3)  # what the page and the CLI show of a hit: no name either
    assert card["name"] == f"profile {blind.ids[3]}" and frame.iloc[3]["LastName"] not in card["name"]
    assert plain.card(3)["name"] == f"{frame.iloc[3]['FirstName']} {frame.iloc[3]['LastName']}"


def test_free_text_blind_removes_names_email_phone_age_photo():
    text = ("Ada Lovelace | ada.lovelace@example.com | +44 20 7946 0958 | 36 years old\n"
            "Photo: https://cdn.example.com/p/ada.jpg\nHeadline: Data Scientist (2015-2021), 5 years in fintech; "
            "Lovelace led the analytics team")
    frame = pd.DataFrame({"text": [text], "FirstName": ["Ada"], "LastName": ["Lovelace"], "role": ["DS"]})
    blind = load_profiles(frame, blind="names,email,phone,age,photo").texts[0]
    for gone in ("Ada", "Lovelace", "@", "7946", "36 years old", ".jpg"):
        assert gone not in blind, gone
    for kept in ("Headline: Data Scientist (2015-2021), 5 years in fintech", "led the analytics team"):
        assert kept in blind, kept
    assert load_profiles(frame).texts[0] == text


def test_blind_names_without_name_fields_is_one_error():
    frame = pd.DataFrame({"text": ["a data scientist"], "role": ["DS"]})
    with pytest.raises(ClusterankError, match="no name fields .*columns are: text, role"):
        load_profiles(frame, blind="names")
    with pytest.raises(ClusterankError, match="--blind Nickname: no such column"):
        load_profiles(frame, blind="Nickname")
    assert load_profiles(frame, blind="email").texts == ["a data scientist"]


def test_blind_and_plain_vectors_are_stored_under_different_hashes(workspace, static_embedder):
    store = EmbeddingStore(workspace.store_path)
    plain, blind = bundled_profiles(n=40), bundled_profiles(n=40, blind="names")
    a = store.embed(static_embedder, plain.texts)
    b = store.embed(static_embedder, blind.texts)
    assert store.count(static_embedder.name) == 80  # nothing shared: a blind search never reads a named vector
    assert (abs(a - b).sum(axis=1) > 0).all()


def test_swap_names_gender_and_origin(profiles):
    frame = profiles.head(200)
    swapped, changed = swap_names(frame, "gender", seed=3)
    for (_, old), (_, new), moved in zip(frame.iterrows(), swapped.iterrows(), changed):
        group = FIRST_NAME_GENDER[old["FirstName"]]
        want = {"female": "male", "male": "female", "unisex": "unisex"}[group]
        assert FIRST_NAME_GENDER[new["FirstName"]] == want and moved == (group != "unisex")
        assert new["LastName"] == old["LastName"] and new["text"] == profile_text(new.to_dict())
    assert swap_names(frame, "gender", seed=3)[0].equals(swapped)
    swapped, _ = swap_names(frame, "origin", seed=1)
    origin = frame["LastName"].map(LAST_NAME_ORIGIN)
    after = swapped["LastName"].map(LAST_NAME_ORIGIN)
    assert ((origin != after) | (origin == "ambiguous")).all()


def test_swap_names_in_free_text_and_missing_fields():
    frame = pd.DataFrame({"text": ["Emily Smith: Emily runs the data team (Emilyville office)"],
                          "FirstName": ["Emily"], "LastName": ["Smith"]})
    swapped, changed = swap_names(frame, "gender")
    new = swapped["FirstName"][0]
    assert changed == [True] and FIRST_NAME_GENDER[new] == "male"
    assert swapped["text"][0] == f"{new} Smith: {new} runs the data team (Emilyville office)"
    with pytest.raises(ClusterankError, match="no name field LastName to swap"):
        swap_names(frame.drop(columns="LastName"), "origin")
