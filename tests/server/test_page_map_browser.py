"""The page's map in a real browser (Debian's Chromium, Playwright), against `clusterank serve` on loopback.

Every result ring opens its own profile and its hover label stays inside the plot; results have a colour no
cluster or role has; the toolbar covers no legend; colour by role gives each role its own colour; a phone keeps a
usable map; a shared link opened on a fresh server shows the job description's X.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlparse

import pytest

pytest.importorskip("fastapi")
JD = ("We need someone to own positioning, messaging and go-to-market launches for our B2B analytics product: "
      "write the story for each buyer persona and arm the sales team with competitive insight.")
RESULTS = "d => d.name.startsWith('search results')"
LABEL_TEXT = """() => [...document.querySelectorAll('.hoverlayer .hovertext text')]
    .map(t => { const lines = t.querySelectorAll('tspan.line');
                return lines.length ? [...lines].map(l => l.textContent).join('\\n') : t.textContent; })
    .join('\\n')"""


def open_page(browser, url: str, width: int = 1400, height: int = 900, **kwargs):
    page = browser.new_page(viewport={"width": width, "height": height}, **kwargs)
    page.errors, page.hosts = [], set()
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.hosts.add(urlparse(r.url).hostname))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server.url + "/")
    yield page
    assert page.errors == []
    assert page.hosts <= {"127.0.0.1"}
    page.close()


def search_and_map(page, retriever: str = "exact") -> None:
    """Search for the example and wait until the map shows the results."""
    page.click("#example")
    page.select_option("#retriever", retriever)
    before = page.get_attribute("body", "data-searched")
    page.click("#search")
    page.wait_for_function(f"document.body.dataset.searched && document.body.dataset.searched !== {json.dumps(before)}",
                           timeout=30000)
    page.wait_for_function(f"document.getElementById('map')._fullData && "
                           f"document.getElementById('map')._fullData.some({RESULTS})", timeout=60000)


def ring_centres(page) -> list[list[float]]:
    """[x, y, row] on the page of every result ring, from plotly's axes (relative to its plot area's own box)."""
    return page.evaluate(f"""() => {{
        const gd = document.getElementById('map'), L = gd._fullLayout;
        const area = gd.querySelector('.nsewdrag').getBoundingClientRect();
        const t = gd._fullData.find({RESULTS});
        return t.x.map((x, i) => [area.left + L.xaxis.l2p(x), area.top + L.yaxis.l2p(t.y[i]), t.customdata[i]]);
    }}""")


def red_pixels(page) -> list[int]:
    """Pixels of the results' red in a 20 x 20 px square around each ring (no cluster or role is drawn in red)."""
    import io

    from PIL import Image  # matplotlib's dependency

    page.evaluate("document.getElementById('map').scrollIntoView()")
    counts = []
    for x, y, _ in ring_centres(page):
        shot = Image.open(io.BytesIO(page.screenshot(clip={"x": x - 10, "y": y - 10, "width": 20, "height": 20})))
        rgb = shot.convert("RGB").tobytes()
        counts.append(sum(rgb[i] > 170 and rgb[i + 1] < 90 and rgb[i + 2] < 90 for i in range(0, len(rgb), 3)))
    return counts


def hover(page, x: float, y: float) -> str:
    page.mouse.move(2, 2)  # off the plot: wait until any earlier label is gone, so the next one is fresh
    page.wait_for_function("!document.querySelector('.hoverlayer .hovertext')", timeout=5000)
    page.mouse.move(x, y)
    page.wait_for_selector(".hoverlayer .hovertext", timeout=5000)
    return page.evaluate(LABEL_TEXT)


def inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["left"] >= outer["left"] - slack and inner["top"] >= outer["top"] - slack
            and inner["right"] <= outer["right"] + slack and inner["bottom"] <= outer["bottom"] + slack)


def rect(page, selector: str) -> dict:
    return page.evaluate("s => { const r = document.querySelector(s).getBoundingClientRect(); "
                         "return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; }", selector)


def test_every_result_ring_opens_its_own_profile_and_its_label_stays_inside(page, server):
    search_and_map(page)
    hits = [(li["row"], li["name"]) for li in page.eval_on_selector_all(
        "#results li", "els => els.map(e => ({row: Number(e.dataset.row), "
                       "name: e.querySelector('.name').textContent}))")]
    assert [int(c[2]) for c in ring_centres(page)] == [row for row, _ in hits] and len(hits) == 10
    assert all(n >= 60 for n in red_pixels(page)), "a ring is hidden under the points"  # a whole ring is ~110 px
    for rank, (row, name) in enumerate(hits, start=1):
        page.evaluate("document.getElementById('map').scrollIntoView()")  # the opened profile scrolled the page
        x, y, _ = ring_centres(page)[rank - 1]
        plot = rect(page, "#map")
        label = hover(page, x, y)
        if not label.startswith("result "):  # the page hands a ring's hover to its result: plotly drew another first
            page.wait_for_function(f"({LABEL_TEXT})().startsWith('result ')", timeout=3000)
            label = page.evaluate(LABEL_TEXT)
        assert label.splitlines()[0] == f"result {rank}: {name}", (rank, label)
        assert inside(rect(page, ".hoverlayer .hovertext"), plot), f"result {rank}'s label runs off the plot"
        page.mouse.click(x, y)
        page.wait_for_selector(f"#profile[data-row='{row}']", timeout=10000)
        assert name in page.inner_text("#profile h3")


def test_results_have_a_colour_no_cluster_or_role_has(page):
    search_and_map(page)
    for by in ("cluster", "role"):
        page.select_option("#colour-by", by)
        page.wait_for_function(f"document.getElementById('map')._fullData.some(d => d.name.includes('no {by} is'))",
                               timeout=30000)
        ring, points = page.evaluate(f"""() => {{
            const data = document.getElementById('map')._fullData;
            return [data.find({RESULTS}).marker.line.color,
                    data.filter(d => d.type === 'scattergl' && !({RESULTS})(d)).map(d => d.marker.color)]; }}""")
        assert points and ring not in points
        swatches = page.eval_on_selector_all("#map-legend-list li[data-trace] .swatch",
                                             "els => els.map(e => getComputedStyle(e).backgroundColor)")
        assert "rgb(214, 39, 40)" not in swatches  # the results' red (#d62728) is no group's
        assert page.locator("#map-legend-list li", has_text=f"search results (red rings; no {by} is drawn in red)"
                            ).count() == 1


def test_colour_by_role_gives_every_role_its_own_colour(page):
    search_and_map(page)
    page.select_option("#colour-by", "role")
    page.wait_for_function("document.getElementById('map')._fullData.some(d => d.name === 'Product Manager')",
                           timeout=30000)
    roles = page.evaluate("document.getElementById('map')._fullData.filter(d => d.type === 'scattergl' && "
                          "!d.name.startsWith('search results')).length")
    swatches = page.eval_on_selector_all("#map-legend-list li[data-trace] .swatch:not(.ring):not(.x)",
                                         "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert roles > 40 and len(swatches) == roles and len(set(swatches)) == roles  # no two entries alike


def test_the_toolbar_covers_no_legend_entry(page):
    search_and_map(page)
    box = rect(page, "#map")
    page.mouse.move((box["left"] + box["right"]) / 2, (box["top"] + box["bottom"]) / 2)  # shows the toolbar
    page.wait_for_selector(".modebar", state="attached", timeout=5000)
    bar = rect(page, ".modebar")
    entries = page.eval_on_selector_all("#map-legend-list li", """els => els.map(e => {
        const r = e.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; })""")
    assert entries and bar["right"] > bar["left"]
    for e in entries:
        assert (e["right"] <= bar["left"] or e["left"] >= bar["right"] or e["bottom"] <= bar["top"]
                or e["top"] >= bar["bottom"]), (e, bar)
    area = rect(page, ".nsewdrag")
    assert bar["bottom"] <= area["top"] + 1  # above the plot: it hides no point either


def test_a_phone_keeps_a_usable_map_with_the_legend_below(browser, server):
    phone = open_page(browser, server.url + "/", 390, 844, is_mobile=True)
    search_and_map(phone)
    width, height = phone.evaluate("[document.getElementById('map')._fullLayout._size.w, "
                                   "document.getElementById('map')._fullLayout._size.h]")
    assert width >= 300 and height >= 300
    assert rect(phone, "#map-legend")["top"] >= rect(phone, "#map")["bottom"]
    phone.evaluate("document.getElementById('map').scrollIntoView()")
    x, y, _ = ring_centres(phone)[0]
    hover(phone, x, y)
    assert inside(rect(phone, ".hoverlayer .hovertext"), rect(phone, "#map")), "the label runs off a phone's map"
    assert phone.evaluate("document.getElementById('map-legend').open") is False  # collapsed until asked for
    phone.click("#map-legend summary")
    assert phone.locator("#map-legend-list li", has_text="search results").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.errors == []
    phone.close()


@pytest.fixture(scope="module")
def fresh_server(session_home, tmp_path_factory):
    """A second server on the same workspace, started for this module: nothing has asked it for its map."""
    from conftest import start_server

    srv = start_server(session_home.root, tmp_path_factory.mktemp("fresh") / "serve.log")
    yield srv
    srv.stop()


def test_a_shared_link_on_a_fresh_server_shows_the_x(browser, fresh_server):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    with page.expect_response(lambda r: r.url.endswith("/v1/search"), timeout=60000) as searched:
        page.goto(fresh_server.url + "/?" + urlencode({"q": JD, "retriever": "exact"}))
    assert searched.value.json()["map_xy"] is not None  # the first search places the query before any /v1/map
    page.wait_for_function("document.getElementById('map')._fullData && "
                           "document.getElementById('map')._fullData.some(d => d.name === 'job description')",
                           timeout=60000)
    assert page.locator("#map-legend-list li", has_text="job description").count() == 1
    page.close()
