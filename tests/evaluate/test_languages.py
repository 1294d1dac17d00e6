"""Quality by query language: the detector, the `lang` column and its bad values, the per-language numbers, and
`clusterank compare` on a small Chinese + English queries file."""

import numpy as np
import pandas as pd
import pytest

from clusterank import ClusterankError, bundled_profiles, detect_language, load_queries, query_languages
from clusterank.cli import main
from clusterank.data.languages import MIXED, script_shares
from clusterank.evaluate.compare import compare_models
from clusterank.evaluate.languages import has_languages, language_rows
from clusterank.evaluate.report import markdown_tables

SAMPLES = {
    "zh": ["我们正在寻找一名产品营销经理，负责产品定位和新版本发布。", "招聘数据工程师，负责用 Spark 构建和维护数据管道。",
           "你将决定团队下一步构建什么，并与工程师一起把想法变成清晰的需求。"],
    "uk": ["Шукаємо менеджера з маркетингу продукту, який відповідатиме за позиціонування та запуски.",
           "Потрібен інженер даних для побудови конвеєрів даних.", "Ви вирішуватимете, що команда створює далі."],
    "es": ["Buscamos un gerente de marketing de producto que se encargue del posicionamiento y los lanzamientos.",
           "Necesitamos un ingeniero de datos para construir canalizaciones."],
    "de": ["Wir suchen einen Produktmarketing-Manager, der für Positionierung und Markteinführungen verantwortlich ist.",
           "Wir suchen eine Dateningenieurin für den Aufbau von Datenpipelines."],
    "en": ["We need someone to own positioning and launches for our product.",
           "Senior data engineer to build pipelines in Spark and Airflow."],
}

# Job descriptions for bundled roles, Chinese and English; each Chinese one holds a few characters or Latin words the
# English-only static model has tokens for, so it embeds (badly) rather than failing
QUERIES = pd.DataFrame({
    "natural_language": [
        "我们是一家B2B SaaS公司，正在寻找产品营销经理：负责产品定位、上市发布和销售赋能。",
        "招聘数据工程师：用 Spark 和 Airflow 构建数据管道，维护数据仓库和 SQL 模型。",
        "招聘后端工程师：用 Go 或 Java 开发 API 和分布式服务，负责系统的可靠性。",
        "Own positioning, messaging and launches; give sales the story and competitive insight to win deals.",
        "Build and run batch and streaming data pipelines with Spark, Airflow and dbt on our warehouse.",
        "Design, build and operate backend services and APIs in Go and Java; own their reliability on call.",
    ],
    "role": ["Product Marketing Manager", "Data Engineer", "Backend Engineer"] * 2,
})


@pytest.mark.parametrize("lang", SAMPLES)
def test_the_detector_names_each_samples_language(lang):
    assert [detect_language(t) for t in SAMPLES[lang]] == [lang] * len(SAMPLES[lang])


def test_mixed_scripts_and_texts_without_letters():
    assert detect_language("我们需要一名产品营销经理 Senior Product Marketing Manager") == MIXED
    assert detect_language("招聘数据工程师，负责用 Spark 构建和维护数据管道。") == "zh"  # a few Latin words: still zh
    assert detect_language("🚀 2024 !!!") == "und"
    shares = script_shares("数据 data")
    assert list(shares) == ["Han", "Latin"] and shares["Han"] == pytest.approx(6 / 10)


def test_the_lang_column_is_read_and_checked(tmp_path):
    path = tmp_path / "q.csv"
    QUERIES.assign(lang=["zh_CN", "zh", "ZH", "en", " en ", "mixed"]).to_csv(path, index=False)
    assert query_languages(load_queries(path)) == ["zh-cn", "zh", "zh", "en", "en", "mixed"]
    assert query_languages(load_queries(QUERIES)) == ["zh"] * 3 + ["en"] * 3  # no column: detected


@pytest.mark.parametrize(("value", "message"), [
    ("", "row 2: the language is empty"),
    ("   ", "row 2: the language is empty"),
    ("english!", "row 2: 'english!' is not a language code"),
    ("de", r"row 2: says 'de', but the text is \d+% Han script"),
])
def test_a_bad_lang_names_the_file_column_and_row(tmp_path, value, message):
    path = tmp_path / "q.csv"
    QUERIES.assign(lang=["zh", "zh", value, "en", "en", "en"]).to_csv(path, index=False)
    with pytest.raises(ClusterankError, match=rf"q\.csv, column 'lang', {message}"):
        query_languages(load_queries(path))


def test_a_lang_that_shares_the_texts_script_is_taken_as_written():
    frame = QUERIES.assign(lang=["zh", "zh", "zh", "de", "es", "en"])  # Latin text said to be German: not refused
    assert query_languages(load_queries(frame))[3:] == ["de", "es", "en"]


@pytest.fixture(scope="module")
def comparison(session_home):
    return compare_models(["minilm-static"], bundled_profiles(n=500), load_queries(QUERIES), workspace=session_home,
                          pipelines=["exact", "routed:nprobe=1"], n_clusters=8, with_maps=False, hide_labels=0)


def test_by_language_is_the_mean_over_each_languages_queries(comparison):
    cmp = comparison
    assert cmp.query_langs == ["zh"] * 3 + ["en"] * 3 and has_languages(cmp)
    per_query = cmp.per_query_frame()
    assert per_query["lang"].tolist()[:6] == cmp.query_langs
    table = cmp.by_language()
    assert len(table) == 2 * 2 and set(table["queries"]) == {3}
    for row in table.to_dict("records"):
        picked = per_query[(per_query.pipeline == row["pipeline"]) & (per_query.lang == row["lang"])]
        assert row["nDCG@10"] == pytest.approx(picked["nDCG@10"].mean())
        assert row["nDCG@10_low"] <= row["nDCG@10"] <= row["nDCG@10_high"]
    overall = cmp.runs[0].pipelines["exact"].per_query["nDCG@10"].mean()
    exact = table[table.pipeline == "exact"]
    assert overall == pytest.approx(np.average(exact["nDCG@10"], weights=exact["queries"]))
    header, rows = language_rows(cmp)
    assert header == ["model", "pipeline", "en (3)", "zh (3)"] and len(rows) == 2
    assert "nDCG@10 by query language" in markdown_tables(cmp)


def test_one_language_shows_no_language_table(comparison):
    cmp = comparison
    english = type(cmp)(**{**cmp.__dict__, "query_langs": ["en"] * 6})
    assert not has_languages(english) and "by query language" not in markdown_tables(english)
    assert len(english.by_language()) == 2 and english.per_query_frame()["lang"].eq("en").all()


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


COMPARE = ("compare", "--models", "minilm-static", "--n", "500", "--pipelines", "exact", "--clusters", "8",
           "--no-maps", "--hide-labels", "0")


def test_compare_prints_quality_by_language(workspace, tmp_path, capsys):
    path = tmp_path / "multilingual.jsonl"
    QUERIES.to_json(path, orient="records", lines=True, force_ascii=False)
    code, out, err = run(capsys, *COMPARE, "--queries", str(path), "--out", str(tmp_path / "report"))
    assert code == 0, err
    assert "nDCG@10 by query language" in out and "| en (3) | zh (3) |" in out
    assert "By query language" in (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    per_query = pd.read_csv(tmp_path / "report" / "per_query.csv")
    assert per_query["lang"].tolist() == ["zh"] * 3 + ["en"] * 3


@pytest.mark.parametrize(("lang", "message"), [
    (["zh", "", "zh", "en", "en", "en"], "column 'lang', row 1: the language is empty"),
    (["zh", "zh", "zh", "en", "zh", "en"], "column 'lang', row 4: says 'zh', but the text is 100% Latin script"),
])
def test_compare_refuses_a_bad_lang_in_one_line_before_embedding(workspace, tmp_path, capsys, lang, message):
    path = tmp_path / "q.csv"
    QUERIES.assign(lang=lang).to_csv(path, index=False)
    code, out, err = run(capsys, *COMPARE, "--queries", str(path), "--out", str(tmp_path / "report"))
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not (tmp_path / "report").exists()
