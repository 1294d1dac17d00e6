"""The bundled job descriptions in Chinese, Spanish, German and Ukrainian: one per role in each language, in that
language's script, labelled with bundled roles; usable as --queries, in compare, and in `clusterank demo --lang`."""

import re
import unicodedata

import pandas as pd
import pytest

from clusterank import (QUERY_LANGUAGES, ClusterankError, DEMO_QUERY, bundled_queries, demo_query, load_queries,
                        neighbour_map)
from clusterank.cli import main
from clusterank.data.roles import ROLES

TRANSLATED = ("zh", "es", "de", "uk")
ES_WORDS = {"el", "la", "los", "las", "y", "con", "para", "que", "del", "en", "de", "una", "un"}
DE_WORDS = {"der", "die", "das", "und", "mit", "für", "du", "ein", "eine", "wir", "dass", "von", "im"}


def letters(text: str, script: str) -> int:
    """How many letters of `text` belong to `script` (a word of their Unicode names: CJK, CYRILLIC, LATIN)."""
    return sum(1 for ch in text if ch.isalpha() and script in unicodedata.name(ch, ""))


def words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", text.lower())


def test_languages_are_the_four_and_english():
    assert set(QUERY_LANGUAGES) == {"en", *TRANSLATED}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_bundled_role_has_one_advert_in_each_language(lang):
    queries = bundled_queries(lang=lang)
    assert sorted(queries.labels) == sorted(ROLES) and len(queries) == len(ROLES)
    assert set(queries.frame["lang"]) == {lang}
    assert queries.families == [ROLES[r].family for r in queries.labels]
    assert len(set(queries.texts)) == len(queries.texts) and len(set(queries.ids)) == len(queries.ids)
    for text in queries.texts:
        sentences = [s for s in re.split(r"[.。;；!?！？]", text) if s.strip()]
        assert 2 <= len(sentences) <= 5, text


@pytest.mark.parametrize("lang", TRANSLATED)
def test_each_advert_is_written_in_its_language(lang):
    for role, text in zip(bundled_queries(lang=lang).labels, [*bundled_queries(lang=lang).texts]):
        alpha = sum(ch.isalpha() for ch in text)
        if lang == "zh":  # mostly Chinese characters (a character is a word: tool names like Kotlin weigh more)
            assert letters(text, "CJK") >= 0.5 * alpha and letters(text, "CYRILLIC") == 0, role
        elif lang == "uk":  # Cyrillic, with the letters Ukrainian has and Russian has not
            assert letters(text, "CYRILLIC") >= 0.75 * alpha and letters(text, "CJK") == 0, role
            assert not set(text) & set("ыэъё"), role
        else:
            assert letters(text, "LATIN") == alpha, role
            ws = words(text)
            own, other = (ES_WORDS, DE_WORDS) if lang == "es" else (DE_WORDS, ES_WORDS)
            assert sum(w in own for w in ws) >= 4 and sum(w in own for w in ws) > 3 * sum(w in other for w in ws), role
    joined = " ".join(bundled_queries(lang=lang).texts)
    marks = {"uk": "ї", "es": "ñ", "de": "ß"}  # a letter of each alphabet somewhere in the set
    assert lang not in marks or marks[lang] in joined


def test_english_is_unchanged_and_all_stacks_every_language():
    assert bundled_queries().texts == bundled_queries(lang="en").texts and "lang" not in bundled_queries().frame
    everything = bundled_queries(lang="all")
    assert len(everything) == 80 + 4 * len(ROLES)
    assert everything.frame["lang"].value_counts().to_dict() == {"en": 80, **{c: len(ROLES) for c in TRANSLATED}}


def test_labels_name_bundled_roles_and_their_neighbours_exist():
    neighbours = neighbour_map()
    for lang in TRANSLATED:
        assert all(role in ROLES and role in neighbours for role in bundled_queries(lang=lang).labels)


@pytest.mark.parametrize("lang", ["fr", "", "  ", "zh-CN"])
def test_unknown_language_is_one_error_naming_the_known(lang):
    with pytest.raises(ClusterankError) as err:
        bundled_queries(lang=lang)
    assert "zh (Chinese (Simplified))" in str(err.value) and "uk (Ukrainian)" in str(err.value)
    assert len(str(err.value).splitlines()) == 1


def test_demo_query_is_the_pmm_advert_in_each_language():
    assert demo_query("en") == DEMO_QUERY and demo_query(" ZH ") == demo_query("zh")
    assert "B2B" in demo_query("zh") and letters(demo_query("zh"), "CJK") > 100
    assert all(demo_query(lang) not in bundled_queries(lang=lang).texts for lang in TRANSLATED)
    with pytest.raises(ClusterankError):
        demo_query("all")


def test_written_file_reads_back_as_queries(workspace, tmp_path, capsys):
    profiles, path = tmp_path / "p.csv", tmp_path / "q.csv"
    assert main(["data", "synth", "-o", str(profiles), "--n", "50", "--queries", str(path), "--lang", "uk"]) == 0
    assert "wrote 53 job descriptions" in capsys.readouterr().out
    queries = load_queries(path)
    assert queries.texts == bundled_queries(lang="uk").texts and queries.labels == bundled_queries(lang="uk").labels
    assert pd.read_csv(path)["lang"].eq("uk").all()


def test_demo_in_chinese_shows_the_chinese_advert_and_the_english_only_note(workspace, capsys):
    code = main(["demo", "--lang", "zh", "--n", "300", "-k", "10"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = " ".join(captured.out.split())  # rich wraps long lines
    assert demo_query("zh")[:20] in out and "in Chinese (Simplified)" in out
    assert "minilm-static is an English-only model" in out and "--model multilingual-e5-small" in out
    assert len([line for line in captured.out.splitlines() if line.startswith("Text ")]) == 10


@pytest.mark.parametrize("args", [["demo", "--lang", "fr", "--n", "50"],
                                  ["compare", "--lang", "xx", "--n", "50", "--no-maps"],
                                  ["data", "synth", "-o", "unused.csv", "--n", "5", "--lang", "klingon"]])
def test_unknown_lang_on_the_command_line_exits_2_with_one_line(workspace, tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: unknown language")
    assert not (tmp_path / "unused.csv").exists()


def test_lang_with_a_queries_file_is_refused(workspace, tmp_path, capsys):
    path = tmp_path / "q.csv"
    bundled_queries(lang="de").frame.to_csv(path, index=False)
    code = main(["compare", "--queries", str(path), "--lang", "de", "--n", "50", "--no-maps"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--lang de picks the bundled job descriptions" in err
