"""The web page in a real browser: Debian's Chromium driven by Playwright, against `clusterank serve` on loopback.

Type a job description and search, read the top result's role (and tick Name-blind: no names), switch retriever
and see the list change, hover a map point and read its label, open a profile, trigger an error and read it, reload
from the URL, reach every control with Tab, fit a phone's width, and never request anything beyond 127.0.0.1.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

pytest.importorskip("fastapi")
JD = ("We need someone to own positioning, messaging and go-to-market launches for our B2B analytics product: "
      "write the story for each buyer persona and arm the sales team with competitive insight.")


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.errors, page.hosts = [], set()
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.hosts.add(urlparse(r.url).hostname))
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    yield page
    assert page.errors == []
    assert page.hosts <= {"127.0.0.1"}  # every script, style and call is served by this machine
    page.close()


def search(page, retriever: str | None = None) -> list[str]:
    """Run a search and return the rows of the results, in order."""
    if retriever:
        page.select_option("#retriever", retriever)
    before = page.get_attribute("body", "data-searched")
    page.click("#search")
    page.wait_for_function(f"document.body.dataset.searched && document.body.dataset.searched !== {json.dumps(before)}",
                           timeout=30000)
    return page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.row)")


def test_type_search_and_read_the_top_role(page, server):
    page.fill("#query", JD)
    rows = search(page, "exact")
    assert len(rows) == 10
    import httpx

    expected = httpx.post(server.api + "/search", json={"query": JD, "retriever": "exact", "k": 10}).json()["hits"]
    assert rows == [str(h["row"]) for h in expected]
    assert page.inner_text("#results li:first-child .role") == expected[0]["role"]
    assert "round trip" in page.inner_text("#timings")
    names = page.eval_on_selector_all("#results li .name", "els => els.map(e => e.textContent)")
    before = page.get_attribute("body", "data-searched")
    page.click("#blind")  # the server offers --blind-toggle names: the list is searched again, name-blind
    page.wait_for_function(f"document.body.dataset.searched !== {json.dumps(before)}", timeout=30000)
    blind = page.eval_on_selector_all("#results li .name", "els => els.map(e => e.textContent)")
    assert all(n.startswith("profile ") for n in blind) and not any(n.startswith("profile ") for n in names)
    assert "blind=1" in page.url and "(blind: names)" in page.inner_text("#corpus-line")


def test_switching_the_retriever_changes_the_list(page):
    page.click("#example")
    exact = search(page, "exact")
    routed = search(page, "routed:nprobe=1")
    role = search(page, "role")
    assert exact != role or exact != routed
    assert page.inner_text("#timings").endswith("role")


def test_hover_a_map_point_and_read_its_label(page):
    page.click("#example")
    search(page, "exact")
    page.wait_for_function("document.getElementById('map')._fullData && "
                           "document.getElementById('map')._fullData.some(d => d.name.startsWith('search results'))",
                           timeout=60000)
    x, y, row = page.evaluate("""() => {
        const gd = document.getElementById('map'), L = gd._fullLayout, box = gd.getBoundingClientRect();
        const t = gd._fullData.find(d => d.name.startsWith('search results'));
        return [box.left + L._size.l + L.xaxis.l2p(t.x[0]), box.top + L._size.t + L.yaxis.l2p(t.y[0]), t.customdata[0]];
    }""")
    page.mouse.move(x, y)
    page.wait_for_selector(".hoverlayer .hovertext", timeout=10000)
    label = page.evaluate("""() => [...document.querySelectorAll('.hoverlayer .hovertext text')]
        .map(t => { const lines = t.querySelectorAll('tspan.line');
                    return lines.length ? [...lines].map(l => l.textContent).join('\\n') : t.textContent; })
        .join('\\n')""")
    assert "cluster" in label and len(label.splitlines()) >= 2
    page.mouse.click(x, y)  # clicking the point under the mouse opens that profile
    page.wait_for_selector("#profile:not([hidden])", timeout=10000)
    profile = page.inner_text("#profile")
    first_line = label.splitlines()[0].split(": ", 1)[-1].strip()  # "result 1: <name>"
    assert first_line and first_line in profile  # the label's name is the opened profile's
    assert str(row).isdigit()


def test_open_a_whole_profile(page):
    page.click("#example")
    search(page)
    page.click("#results li:first-child summary")
    page.wait_for_function("document.querySelector('#results li:first-child details').dataset.loaded === '1'")
    text = page.inner_text("#results li:first-child details pre")
    assert "Experience:" in text and page.inner_text("#results li:first-child .name") in text


def test_errors_from_the_server_are_shown_in_the_page(page):
    page.fill("#query", JD)
    page.fill("#k", "0")
    page.focus("#query")
    page.keyboard.press("Enter")  # Enter searches
    page.wait_for_selector("#error:not([hidden])", timeout=10000)
    assert "`k`" in page.inner_text("#error") and "greater than or equal to 1" in page.inner_text("#error")
    page.fill("#k", "10")
    page.fill("#query", "   ")
    page.click("#search")
    assert "Paste a job description" in page.inner_text("#error")
    page.fill("#query", JD)
    page.select_option("#f-role", "Recruiter")
    page.select_option("#f-family", "Engineering")  # each exists, together they match no one: the empty state
    page.click("#search")
    page.wait_for_selector("#empty:not([hidden])", timeout=10000)
    assert page.is_hidden("#error") and page.eval_on_selector_all("#results li", "els => els.length") == 0


def test_the_url_holds_the_query_state(page, server):
    page.click("#example")
    page.select_option("#f-family", "Marketing")
    rows = search(page, "role")
    url = page.url
    assert "retriever=role" in url and "family=Marketing" in url
    page.goto("about:blank")
    page.goto(url)
    page.wait_for_function("document.querySelectorAll('#results li').length > 0", timeout=30000)
    assert page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.row)") == rows
    assert page.input_value("#retriever") == "role"


def test_tab_reaches_every_control(page):
    controls = page.eval_on_selector_all("textarea, select, input, button:not([hidden])", "els => els.map(e => e.id)")
    reached = set()
    page.focus("#query")
    for _ in range(60):
        reached.add(page.evaluate("document.activeElement.id"))
        page.keyboard.press("Tab")
    missing = [c for c in controls if c and c not in reached]
    assert missing == []


def test_phone_width_has_no_sideways_scroll(browser, server):
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(server.url + "/")
    phone.wait_for_selector("body[data-ready='1']", timeout=30000)
    phone.click("#example")
    search(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()


def test_a_comparison_started_from_the_page_can_be_cancelled(page):
    page.click("#compare-start")
    page.wait_for_selector("#compare-cancel:not([hidden])", timeout=10000)
    page.click("#compare-cancel")
    page.wait_for_function("document.getElementById('compare-status').textContent.startsWith('cancelled')",
                           timeout=30000)
    assert not page.is_disabled("#compare-start")


def score_texts(page) -> list[list[str]]:
    """Each result's scores as shown, in order ("cosine 0.412", ...)."""
    return page.eval_on_selector_all(
        "#results li", "els => els.map(e => [...e.querySelectorAll('.hit-head .score')].map(s => s.textContent))")


def scores(page) -> list[list[tuple[str, float]]]:
    """Each result's score labels in the order shown: [(kind, value), ...] per row."""
    return [[(kind, float(value)) for kind, value in (s.split() for s in row)] for row in score_texts(page)]


def test_a_reranked_list_shows_first_the_score_that_orders_it(page):
    page.click("#example")
    page.select_option("#reranker", "rescore:paraphrase-MiniLM-L3-v2")
    search(page, "exact")
    shown = scores(page)
    assert len(shown) == 10 and all([kind for kind, _ in row] == ["reranker", "cosine"] for row in shown)
    reranker = [row[0][1] for row in shown]
    assert reranker == sorted(reranker, reverse=True)  # the first score shown is the one that orders the list
    note = page.inner_text("#order-note")
    assert "Ordered by the reranker's score (Re-score with paraphrase-MiniLM-L3-v2)" in note and "cosine" in note
    assert not any("%" in t for row in score_texts(page) for t in row)  # a cosine is no percentage
    page.select_option("#reranker", "none")
    search(page, "exact")
    cosines = [row[0][1] for row in scores(page)]
    assert all(len(row) == 1 and row[0][0] == "cosine" for row in scores(page))
    assert cosines == sorted(cosines, reverse=True) and "cosine" in page.inner_text("#order-note")


def test_the_reranker_menu_shows_readable_names_that_fit(page):
    options = page.eval_on_selector_all("#reranker option", "els => els.map(e => [e.value, e.textContent])")
    assert ["rescore:all-MiniLM-L6-v2", "Re-score with all-MiniLM-L6-v2"] in options  # the spec stays the value
    assert all(text != value for value, text in options)
    fits = page.evaluate("""() => {
        const select = document.getElementById('reranker'), style = getComputedStyle(select);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = `${style.fontSize} ${style.fontFamily}`;
        const widest = Math.max(...[...select.options].map(o => ctx.measureText(o.textContent).width));
        return [widest, select.clientWidth]; }""")
    assert fits[0] + 40 <= fits[1], f"the widest name needs {fits[0]:.0f} px + the arrow; the menu is {fits[1]} px"


def test_hits_the_legend_and_the_filter_name_clusters_alike(page):
    page.click("#example")
    search(page, "exact")
    page.wait_for_function("document.querySelectorAll('#map-legend-list li').length > 5", timeout=60000)
    legend = page.eval_on_selector_all("#map-legend-list li", "els => els.map(e => e.textContent)")
    tags = page.eval_on_selector_all("#results li .tag.cluster", "els => els.map(e => e.textContent)")
    filters = page.eval_on_selector_all("#f-cluster option", "els => els.map(e => e.textContent)")
    assert len(tags) == 10 and all(t in legend and t in filters for t in tags), (tags, legend)
    assert all(t.startswith("cluster ") and ": " in t for t in tags)


def test_an_unrelated_query_is_flagged_as_a_weak_match(page):
    page.fill("#query", "nurse")
    search(page, "exact")
    assert page.is_visible("#match-note")
    note = page.inner_text("#match-note")
    assert note.startswith("Weak match — nothing in this corpus is close to the query")
    best = scores(page)[0][0]
    assert best[0] == "cosine" and f"{best[1]:.3f}" in note
    assert not any("%" in t for row in score_texts(page) for t in row)
    page.click("#example")
    search(page, "exact")
    assert page.is_hidden("#match-note")  # a job advert like the corpus's profiles is no weak match


def test_job_progress_moves_within_a_model():
    from clusterank.server.jobs import job_progress

    steps = [job_progress(1, 2, step, 6) for step in range(1, 7)] + [job_progress(2, 2, step, 6) for step in (1, 6)]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) and steps[0] == 0 and steps[-1] < 1
    assert job_progress(1, 1, 2, 6, 50) == pytest.approx(1.5 / 6, abs=1e-3)  # half the embedding step's bar
    assert job_progress(1, 1) == 0 and job_progress(0, 0) == 0


def test_a_comparison_moves_its_progress_bar_before_it_ends(page):
    page.click("#compare-start")
    page.wait_for_selector("#compare-cancel:not([hidden])", timeout=10000)
    page.wait_for_function("""() => { const v = document.getElementById('compare-progress').value;
                                      return v > 0 && v < 1; }""", timeout=240000)
    assert "step" in page.inner_text("#compare-status")
    page.click("#compare-cancel")
    page.wait_for_function("document.getElementById('compare-status').textContent.startsWith('cancelled')",
                           timeout=30000)


def test_the_audit_panel_shows_each_name_groups_impact_ratio(page):
    assert page.eval_on_selector_all("#audit-group option", "os => os.map(o => o.value)")[:2] == ["name_gender",
                                                                                              "name_origin"]
    page.select_option("#audit-group", "name_gender")
    page.click("#audit-run")
    page.wait_for_selector("#audit-table:not([hidden]) tbody tr", timeout=120000)
    rows = page.eval_on_selector_all("#audit-table tbody tr",
                                     "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))")
    assert {r[0] for r in rows} == {"female", "male", "unisex"}
    for group, profiles, rate, ratio in rows:
        assert int(profiles.replace(",", "")) > 0 and 0 <= float(rate) <= 1
        assert ratio.startswith(("0.", "1.")) and "[" in ratio  # the point ratio and its 95% interval
    flagged = page.eval_on_selector_all("#audit-table tr.flag", "trs => trs.length")
    assert flagged == sum(float(r[3].split()[0]) < 0.8 for r in rows)  # the four-fifths flag, and only there
    assert "80 queries, top 30" in page.inner_text("#audit-status")
