"""The web page in a real browser: Debian's Chromium driven by Playwright, against `clusterank serve` on loopback.

Type a job description and search, read the top result's role, switch retriever and see the list change,
hover a map point and read its label, open a profile, trigger an error and read it, reload from the URL,
reach every control with Tab, fit a phone's width, and never request anything beyond 127.0.0.1.
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
                           "document.getElementById('map')._fullData.some(d => d.name === 'results')", timeout=60000)
    x, y, row = page.evaluate("""() => {
        const gd = document.getElementById('map'), L = gd._fullLayout, box = gd.getBoundingClientRect();
        const t = gd._fullData.find(d => d.name === 'results');
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
    first_line = label.splitlines()[0].removeprefix("result").strip()
    assert first_line and first_line in profile  # the label's headline is the opened profile's
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
