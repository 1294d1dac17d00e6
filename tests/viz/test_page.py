"""The one page builder: plotly.js inlined once, figures drawn from their JSON, data scripts that cannot break out."""

import json
import re
import sys

import pytest

from clusterank.errors import ClusterankError
from clusterank.tables import html_table
from clusterank.viz.page import figure_html, json_script, render_page, write_page


def test_page_inlines_plotly_once_and_escapes_the_title():
    from plotly.offline import get_plotlyjs

    page = render_page("Costs <&> more", "<p>body</p>", style="p{color:red}", script="function f() {}")
    assert page.count(get_plotlyjs()) == 1 and "<script src=" not in page
    assert "<title>Costs &lt;&amp;&gt; more</title>" in page and "<style>p{color:red}</style>" in page
    assert page.index("function f() {}") < page.index("<p>body</p>")  # functions are defined before the body
    assert 'const PLOT_CONFIG = {"responsive": true, "displaylogo": false};' in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</body></html>")


def test_json_script_round_trips_and_cannot_close_its_tag():
    data = {"text": "</script><script>alert(1)</script>", "n": [1, 2.5], "é": "ü"}
    out = json_script("d", data)
    assert out.count("</script>") == 1 and out.endswith("</script>")
    payload = re.fullmatch(r'<script id="d" type="application/json">(.*)</script>', out, re.S).group(1)
    assert json.loads(payload) == data


def test_figure_html_draws_the_figure_from_its_json():
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    out = figure_html("chart-x", fig)
    assert out.startswith('<div id="chart-x" class="chart"></div>')
    payload = re.search(r'<script id="chart-x-figure" type="application/json">(.*?)</script>', out, re.S).group(1)
    assert json.loads(payload)["data"][0]["y"] == [1, 2]
    assert 'Plotly.newPlot("chart-x", f.data, f.layout, PLOT_CONFIG);' in out


def test_write_page_is_atomic(tmp_path):
    path = write_page("<p>old</p>", tmp_path / "sub" / "p.html")
    assert path.read_text() == "<p>old</p>"
    with pytest.raises(UnicodeEncodeError):
        write_page("<p>new \ud800</p>", path)  # a lone surrogate cannot be written as UTF-8: fails mid-write
    assert path.read_text() == "<p>old</p>" and [p.name for p in path.parent.iterdir()] == ["p.html"]


def test_missing_plotly_names_the_page_and_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    with pytest.raises(ClusterankError, match=r"^the map needs the Python package .*pip install 'clusterank\[viz\]'$"):
        render_page("t", "", what="the map")


def test_html_table_escapes_every_cell():
    assert html_table(["a<", "b"], [["x&y", 1]]) == ("<table><thead><tr><th>a&lt;</th><th>b</th></tr></thead>"
                                                    "<tbody><tr><td>x&amp;y</td><td>1</td></tr></tbody></table>")
