"""The map file, parsed: every point, the X, hover text, plotly.js inside, and the PNG."""

import html
import json
import re

import numpy as np
import pytest

from clusterank import ClusterankError, SearchPipeline, bundled_profiles
from clusterank.cluster.map import build_map, hover_text
from clusterank.viz.map import write_map_html, write_map_png


def embedded_data(page: str) -> dict:
    match = re.search(r'<script id="map-data" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no map data in the page"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def pipe(session_home):
    from clusterank import get_embedder

    return SearchPipeline(bundled_profiles(n=300), get_embedder("minilm-static", session_home), workspace=session_home)


def test_map_html_holds_every_point_the_x_and_hover_text(pipe, tmp_path):
    queries = ["Own positioning, messaging and launches", "Run Kubernetes clusters and on-call"]
    data = build_map(pipe, n_clusters=4, queries=queries)
    page = write_map_html(data, tmp_path / "map.html").read_text()
    assert "<script src=" not in page and "Plotly" in page and len(page) > 3_000_000  # plotly.js is inside
    d = embedded_data(page)
    assert len(d["x"]) == len(d["y"]) == len(d["hover"]) == len(d["cluster"]) == 300
    frame = pipe.corpus.frame
    for i in (0, 57, 299):
        assert html.escape(frame["Headline"][i]) in re.sub(r"</?[bi]>", "", d["hover"][i].replace("<br>", " "))
        assert max(len(re.sub(r"<[^>]+>", "", line)) for line in d["hover"][i].split("<br>")) <= 60  # narrow
        assert d["role"][i] == pipe.corpus.labels[i]
        assert f"cluster {d['cluster'][i]}" in d["hover"][i]
    assert set(d["cluster"]) == {0, 1, 2, 3} and set(d["cluster_names"]) == {"0", "1", "2", "3"}
    assert [q["text"].replace("<br>", " ") for q in d["queries"]] == queries
    qxy = np.array([[q["x"], q["y"]] for q in d["queries"]])
    assert np.isfinite(qxy).all() and not np.allclose(qxy[0], qxy[1])
    assert '"symbol": "x"' in page or "symbol: \"x\"" in page  # the X marker
    assert 'type: "scattergl"' in page  # WebGL points


def test_hover_text_escapes_html():
    text = hover_text("R&D <Lead> | x", "Built <script> things " * 3, "Role", 2)
    assert "<script>" not in text and "&lt;script&gt;" in text and text.startswith("<b>R&amp;D &lt;Lead&gt;")


def test_png_is_written(pipe, tmp_path):
    data = build_map(pipe, n_clusters=4, queries=["Own positioning and launches"])
    path = write_map_png(data, tmp_path / "map.png")
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 20_000
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    assert (width, height) == (1210, 880)


def test_map_is_deterministic(pipe):
    a, b = build_map(pipe, n_clusters=4), build_map(pipe, n_clusters=4)
    assert a.to_json() == b.to_json()


def test_too_few_points(session_home):
    from clusterank import get_embedder

    tiny = SearchPipeline(bundled_profiles(n=2), get_embedder("minilm-static", session_home), workspace=session_home)
    with pytest.raises(ClusterankError, match="k = 10 is larger than the corpus \\(2 rows\\)"):
        build_map(tiny)


def test_several_maps_fit_on_one_page(pipe):
    from clusterank.viz.map import MAP_SCRIPT, map_html
    from clusterank.viz.page import render_page

    data = build_map(pipe, n_clusters=4)
    page = render_page("two maps", map_html(data, "map-a", "-a") + map_html(data, "map-b", "-b"), script=MAP_SCRIPT)
    assert page.count("function mapTraces(D, by)") == 1  # the trace builder once, both maps call it
    for key in ("a", "b"):
        assert f'<div id="map-{key}" class="map"></div>' in page and f'<select id="colour-by-{key}">' in page
        assert embedded_data(page.replace(f'id="map-data-{key}"', 'id="map-data"', 1)) == data.to_json()
        assert f'Plotly.newPlot("map-{key}", mapTraces(D, ' in page
