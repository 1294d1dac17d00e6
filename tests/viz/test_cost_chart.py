"""The cost page and PNG drawn from a real plan (the bundled price table, a measured-style machine row).

The browser test opens the page in headless Chromium (Debian's), driven by Playwright, and hovers a point;
it is skipped, saying how to enable it, where no Chromium is installed.
"""

import html
import json
import re
import shutil
import sys

import pytest

from clusterank.cost import Throughput, load_prices, plan_costs
from clusterank.errors import ClusterankError
from clusterank.viz.cost import cost_figures, write_cost_html, write_cost_png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
L4 = "~335M model on 1x L4"


@pytest.fixture(scope="module")
def plan():
    machine = {"minilm-static": Throughput("minilm-static", 2000.0, 150.0, 64, "2026-11-27", "test cpu")}
    return plan_costs(load_prices(), machine=machine)


@pytest.fixture(scope="module")
def page_file(plan, tmp_path_factory):
    path = write_cost_html(plan, tmp_path_factory.mktemp("cost") / "sub" / "cost.html")
    return path, path.read_text(encoding="utf-8")


def embedded_figures(text):
    """The figures' JSON the page draws from, by div id (each figure sits beside its div as `<id>-figure`)."""
    found = re.findall(r'<script id="([^"]+)-figure" type="application/json">(.*?)</script>', text, re.S)
    assert found, "no figure data in the page"
    for div, _ in found:
        assert f'<div id="{div}" class="chart"></div>' in text and f'Plotly.newPlot("{div}",' in text
    return {div: json.loads(data) for div, data in found}


def test_page_has_plotly_once_both_charts_and_the_plan_numbers(plan, page_file):
    from plotly.offline import get_plotlyjs

    path, text = page_file
    assert path.exists() and path.name == "cost.html"
    assert text.count(get_plotlyjs()) == 1
    assert 'id="cost-chart"' in text and 'id="time-chart"' in text
    figs = embedded_figures(text)
    assert set(figs) == {"cost-chart", "time-chart"}
    for div, value in (("cost-chart", lambda e: e.usd), ("time-chart", lambda e: e.hours)):
        data, layout = figs[div]["data"], figs[div]["layout"]
        assert [t["name"] for t in data] == [o.name for o in plan.options]
        for trace, option in zip(data, plan.options):
            assert trace["x"] == plan.sizes
            assert trace["y"] == pytest.approx([value(e) for e in plan.estimates[option.name]])
        assert layout["xaxis"]["type"] == "log" and layout["yaxis"]["type"] == "log"
        assert "number of texts" in layout["xaxis"]["title"]["text"]
    assert "USD" in figs["cost-chart"]["layout"]["yaxis"]["title"]["text"]
    assert "hours" in figs["time-chart"]["layout"]["yaxis"]["title"]["text"]
    names = [t["name"] for t in figs["cost-chart"]["data"]]
    large = figs["cost-chart"]["data"][names.index("text-embedding-3-large")]
    assert large["y"][plan.sizes.index(2_500_000)] == pytest.approx(130.0)
    l4 = figs["time-chart"]["data"][names.index(L4)]
    assert l4["y"][-1] == pytest.approx(2_500_000 / 103.0 / 3600 + 10 / 60, rel=1e-9)  # 6.74 h + 10 min
    assert l4["y"][-1] == pytest.approx(6.909, abs=1e-3)


def test_line_style_and_hover_follow_the_kind(plan):
    figs = cost_figures(plan)
    by_kind = {}
    for o, t in zip(plan.options, figs["time-chart"].data):
        by_kind.setdefault(o.kind, t)  # the first option of each kind
    assert {k: t.line.dash for k, t in by_kind.items()} == {"api": "solid", "api-batch": "dash",
                                                            "self-hosted": "dot", "this machine": "dashdot"}
    colours = [t.line.color for t in figs["cost-chart"].data]
    assert len(set(colours)) == len(colours) == len(plan.options)
    batch = by_kind["api-batch"].text[0]
    assert "≤ 48.00 h" in batch and "(provider's completion window, an upper bound)" in batch and "10,000 texts" in batch
    api = by_kind["api"].text[-1]
    assert "$130" in api and "16.67 h" in api and "≤" not in api and "2,500,000 texts" in api


def test_page_carries_dated_options_savings_and_header(plan, page_file):
    _, text = page_file
    for option in plan.options:
        assert html.escape(option.basis) in text, option.name
    assert "<th>priced at (date)</th>" in text
    assert "Savings of self-hosting against each API" in text
    assert "<th>self-hosted \\ API</th>" in text
    assert re.search(r"<td>~335M model on 1x L4</td><td>96%</td>", text)
    assert html.escape(plan.token_source) in text
    assert re.search(r"Page made \d{4}-\d{2}-\d{2}", text)
    assert "|---|" not in text


def test_page_tables_are_the_plans_tables_in_html(plan, page_file):
    _, text = page_file
    tables = plan.tables()
    assert text.count("<table>") == len(tables) == 4  # options, cost, time, savings
    for table in tables:
        assert table.html() in text  # drawn from the same cells as the markdown, not parsed back from it
    assert "<p>Cost (USD):</p>\n<table><thead><tr><th>option</th><th>10k</th>" in text
    assert "<td>text-embedding-3-large</td><td>$0.52</td><td>$5.20</td><td>$52.00</td><td>$130</td>" in text


def test_notes_and_escaping_on_the_page(tmp_path):
    plan = plan_costs(load_prices(), tokens_per_text=600, models=["nv-embedqa-e5-v5"])
    text = write_cost_html(plan, tmp_path / "c.html").read_text(encoding="utf-8")
    assert plan.notes and all("'" in n and f"<p>Note: {html.escape(n)}</p>" in text for n in plan.notes)


def test_png_is_written(plan, tmp_path):
    path = write_cost_png(plan, tmp_path / "out" / "cost.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    from PIL import Image

    with Image.open(path) as im:
        assert im.size == (1400, 600)


@pytest.mark.parametrize("module, draw", [("plotly.graph_objects", write_cost_html), ("matplotlib", write_cost_png)])
def test_missing_plotting_library_says_how_to_install(plan, tmp_path, monkeypatch, module, draw):
    monkeypatch.setitem(sys.modules, module, None)  # import of it raises ImportError
    with pytest.raises(ClusterankError, match=r"the (cost page|PNG cost chart) needs the Python package .*"
                                              r"pip install 'clusterank\[viz\]'"):
        draw(plan, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium: install it with `apt-get install chromium` and `pip install playwright` "
                    "to run the browser test")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def pixel_of(page, div, name, n_texts):
    """Page coordinates of one option's point at `n_texts` on a chart (log axes: data -> linear -> pixel)."""
    return page.evaluate("""([div, name, n]) => {
        const gd = document.getElementById(div), L = gd._fullLayout, box = gd.getBoundingClientRect();
        const d = gd._fullData.find(t => t.name === name), i = d.x.indexOf(n);
        return [box.left + L._size.l + L.xaxis.l2p(L.xaxis.d2l(d.x[i])),
                box.top + L._size.t + L.yaxis.l2p(L.yaxis.d2l(d.y[i]))];
    }""", [div, name, n_texts])


def hover_label(page, x, y):
    page.mouse.move(2, 2)  # off the plot: wait until any earlier label is gone, so the next one is fresh
    page.wait_for_function("!document.querySelector('.hoverlayer .hovertext')", timeout=5000)
    page.mouse.move(x, y)
    page.wait_for_selector(".hoverlayer .hovertext", timeout=5000)
    page.wait_for_timeout(200)
    return page.evaluate("""() => [...document.querySelectorAll('.hoverlayer .hovertext text')]
        .map(t => { const lines = t.querySelectorAll('tspan.line');
                    return lines.length ? [...lines].map(l => l.textContent).join('\\n') : t.textContent; })
        .join('\\n')""")


@pytest.mark.slow
def test_charts_render_and_hover_in_a_browser(browser, plan, page_file):
    path, _ = page_file
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("['cost-chart', 'time-chart'].every(id => "
                           "document.getElementById(id)._fullLayout !== undefined)", timeout=30000)
    assert errors == []
    for div in ("cost-chart", "time-chart"):
        assert page.evaluate(f"document.getElementById('{div}').data.length") == len(plan.options)
        assert page.evaluate(f"document.querySelectorAll('#{div} .scatterlayer .trace').length") == len(plan.options)
        assert page.evaluate(f"document.getElementById('{div}')._fullLayout.yaxis.type") == "log"

    page.locator("#cost-chart").scroll_into_view_if_needed()
    text = hover_label(page, *pixel_of(page, "cost-chart", L4, 2_500_000))
    assert L4 in text and "$4.91" in text and "2,500,000 texts" in text and "6.91 h" in text

    page.locator("#time-chart").scroll_into_view_if_needed()
    text = hover_label(page, *pixel_of(page, "time-chart", "voyage-3 (batch)", 10_000))
    assert "voyage-3 (batch)" in text and "≤ 12.00 h (provider's completion window, an upper bound)" in text and "$" in text
    page.close()
