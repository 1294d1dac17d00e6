"""The report's numbers (tables, recommendation, report.md) and its page (drawn by viz.report), on a real comparison."""

import re

import pytest

from clusterank import bundled_profiles, bundled_queries
from clusterank.evaluate.compare import METRICS, compare_models
from clusterank.evaluate.report import (SEED_PIPELINE, facts_rows, markdown_tables, quality_rows, recommend,
                                        search_rows, write_report_text)
from clusterank.tables import Table, markdown_table


def test_markdown_table_is_the_one_format():
    assert markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n|---|---|\n| 1 | 2 |"
    assert markdown_table(("x",), []) == "| x |\n|---|"
    assert Table(("a",), (("1",),), "Title:").markdown() == "Title:\n\n| a |\n|---|\n| 1 |"


@pytest.fixture(scope="module")
def comparison(session_home):
    return compare_models(["minilm-static"], bundled_profiles(n=400), bundled_queries(), workspace=session_home)


def test_tables_and_markdown_come_from_the_same_rows(comparison):
    header, rows = quality_rows(comparison)
    assert header[:2] == ["model", "pipeline"] and len(rows) == len(comparison.runs[0].pipelines)
    text = markdown_tables(comparison)
    assert text == "\n\n".join([markdown_table(header, rows), markdown_table(*search_rows(comparison)),
                                  markdown_table(*facts_rows(comparison))])
    assert re.search(r"\| minilm-static \| exact \| 0\.\d{3} ±0\.\d{3} \|", text)


def test_recommendation_states_what_the_seeds_routing_changes(comparison):
    assert SEED_PIPELINE in comparison.runs[0].pipelines
    text = recommend(comparison)
    assert "**minilm-static**" in text and "routing to one cluster (the seed's method) changes nDCG@10 by" in text


def test_report_files_and_page(comparison, tmp_path):
    from clusterank.viz.report import write_report

    rec = recommend(comparison)
    text_only = write_report_text(comparison, tmp_path / "md", rec)
    assert set(text_only) == {"md", "csv"} and not (tmp_path / "md" / "report.html").exists()
    paths = write_report(comparison, tmp_path / "all", rec)
    assert set(paths) == {"md", "html", "csv"} and all(p.exists() for p in paths.values())
    assert paths["md"].read_text() == text_only["md"].read_text()
    page = paths["html"].read_text()
    from plotly.offline import get_plotlyjs

    assert page.count(get_plotlyjs()) == 1
    for metric in METRICS:
        assert f'<div id="chart-bar-{metric}" class="chart"></div>' in page
    # the same interactive map as `clusterank map`: its data script, selector and the shared trace builder
    assert '<div id="chart-map-minilm-static" class="map"></div>' in page
    assert '<script id="map-data-minilm-static" type="application/json">' in page
    assert '<select id="colour-by-minilm-static">' in page and page.count("function mapTraces(D, by)") == 1
    assert "<th>model</th><th>pipeline</th>" in page and "**" not in page.split('id="recommendation">')[1][:2000]
