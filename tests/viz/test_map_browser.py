"""The cluster map in a real browser: headless Chromium (Debian's), driven by Playwright.

Hover a profile point and read its tooltip; hover the job description's X and read the query.
Skipped, saying how to enable it, where no Chromium is installed.
"""

import json
import re

import pytest


def pixel_of(page, trace_name_start, index):
    """Page coordinates of point `index` of the first trace whose name starts with the given text."""
    return page.evaluate("""([prefix, i]) => {
        const gd = document.getElementById('map');
        const t = gd._fullData.findIndex(d => d.name.startsWith(prefix));
        const d = gd._fullData[t], L = gd._fullLayout, box = gd.getBoundingClientRect();
        return [box.left + L._size.l + L.xaxis.l2p(d.x[i]), box.top + L._size.t + L.yaxis.l2p(d.y[i]), t];
    }""", [trace_name_start, index])


def hover_label(page, x, y):
    page.mouse.move(2, 2)  # off the plot: wait until any earlier label is gone, so the next one is fresh
    page.wait_for_function("!document.querySelector('.hoverlayer .hovertext')", timeout=5000)
    page.mouse.move(x, y)  # one jump: no labels of points passed on the way
    page.wait_for_selector(".hoverlayer .hovertext", timeout=5000)
    page.wait_for_timeout(300)  # let plotly settle on the final position
    return page.evaluate("""() => [...document.querySelectorAll('.hoverlayer .hovertext text')]
        .map(t => { const lines = t.querySelectorAll('tspan.line');
                    return lines.length ? [...lines].map(l => l.textContent).join('\\n') : t.textContent; })
        .join('\\n')""")


def test_hover_a_profile_and_the_query_x(browser, map_file):
    path, data = map_file
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function("document.getElementById('map')._fullData !== undefined", timeout=30000)
    assert errors == []

    # an isolated profile: the point farthest from the centre of the map, so nothing else is under the mouse
    xs, ys = data["x"], data["y"]
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    row = max(range(len(xs)), key=lambda i: (xs[i] - cx) ** 2 + (ys[i] - cy) ** 2)
    cluster = data["cluster"][row]
    in_trace = [i for i in range(len(xs)) if data["cluster"][i] == cluster].index(row)
    x, y, _ = pixel_of(page, f"cluster {cluster}:", in_trace)
    text = hover_label(page, x, y)
    headline = re.sub(r"<[^>]+>", "", data["hover"][row].split("<br>")[0])
    assert headline.split(" | ")[0] in text
    assert f"cluster {cluster}" in text

    # the X: hover shows the job description. Plotly gives the hover to the closest marker, so aim at a
    # spot inside the X (radius 11 px) that is at least 6 px from every profile point, as a user would.
    qx, qy, _ = pixel_of(page, "job description", 0)
    spot = page.evaluate("""([qx, qy]) => {
        const gd = document.getElementById('map'), L = gd._fullLayout, box = gd.getBoundingClientRect();
        const pts = [];
        gd._fullData.filter(d => d.type === 'scattergl').forEach(d => d.x.forEach((x, i) =>
            pts.push([box.left + L._size.l + L.xaxis.l2p(x), box.top + L._size.t + L.yaxis.l2p(d.y[i])])));
        for (let r = 0; r <= 9; r++) for (let a = 0; a < 16; a++) {
            const x = qx + r * Math.cos(a * Math.PI / 8), y = qy + r * Math.sin(a * Math.PI / 8);
            if (pts.every(([px, py]) => Math.hypot(px - x, py - y) >= 6)) return [x, y];
        }
        return null; }""", [qx, qy])
    assert spot is not None, "profiles cover the whole X"
    text = hover_label(page, *spot)
    assert "Job description" in text and "positioned" in text.replace("\n", " ")

    # colour by role: the legend switches to role names
    page.select_option("#colour-by", "role")
    page.wait_for_function("document.getElementById('map')._fullData.some(d => d.name === 'Product Manager')")
    assert page.evaluate("document.getElementById('map')._fullData.every(d => d.type === 'scattergl' || "
                         "d.name.startsWith('job description'))")
    page.close()


@pytest.fixture(scope="module")
def map_file(tmp_path_factory, session_home):
    from clusterank import SearchPipeline, bundled_profiles, get_embedder
    from clusterank.cluster.map import build_map
    from clusterank.viz.map import write_map_html

    pipe = SearchPipeline(bundled_profiles(n=400), get_embedder("minilm-static", session_home),
                          workspace=session_home)
    query = "Own how our product is positioned and sold: messaging, launches and sales enablement."
    data = build_map(pipe, n_clusters=5, queries=[query])
    path = write_map_html(data, tmp_path_factory.mktemp("map") / "map.html")
    return path, json.loads(json.dumps(data.to_json()))
