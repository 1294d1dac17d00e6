"""The one page builder: a self-contained HTML file with plotly.js inlined once, for every page clusterank draws.

The map, the comparison report and the cost page are a title, a style and a body built from the
pieces here: `json_script` (data the page reads), `figure_html` (a plotly figure drawn from its JSON).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from clusterank.errors import require
from clusterank.workspace import atomic_path

PAGE_STYLE = "body{font-family:system-ui,sans-serif;margin:1rem 2rem}"
"""The style every page starts from; each page adds its own."""
TABLE_STYLE = ("table{border-collapse:collapse;font-size:0.85rem;margin:0.5rem 0 1rem}"
               "td,th{border:1px solid #ccc;padding:0.2rem 0.45rem;text-align:left}th{background:#f4f4f4}")
"""The style of the tables on the report and cost pages."""
PLOT_CONFIG = {"responsive": True, "displaylogo": False}
"""plotly's config for every chart: resize with the window, no plotly logo."""

def plotly_js(what: str) -> str:
    """plotly.js itself, to inline in a page that must work offline.

    Args:
        what: the page that needs it, for the error message.

    Raises:
        ClusterankError: plotly is not installed (says how to install it).
    """
    return require("plotly.offline", "viz", what).get_plotlyjs()


def json_script(element_id: str, data: Any) -> str:
    """`data` as JSON in a `<script type="application/json">` the page reads with `JSON.parse` (`</` escaped)."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return f'<script id="{html.escape(element_id)}" type="application/json">{payload}</script>'


def figure_json(figure: Any) -> dict:
    """A plotly figure as the plain {"data": [...], "layout": {...}} object plotly.js draws."""
    return json.loads(figure.to_json())


def on_load(js: str) -> str:
    """`js` run once the whole page is parsed: a chart drawn earlier would be sized before its neighbours exist."""
    return f'addEventListener("DOMContentLoaded", () => {{\n{js}\n}});'


def figure_html(div_id: str, figure: Any, css_class: str = "chart") -> str:
    """One plotly figure on a page: its div, its JSON (id `<div_id>-figure`) and the call that draws it."""
    data_id = f"{div_id}-figure"
    draw = (f"const f = JSON.parse(document.getElementById({json.dumps(data_id)}).textContent);\n"
            f"Plotly.newPlot({json.dumps(div_id)}, f.data, f.layout, PLOT_CONFIG);")
    return (f'<div id="{html.escape(div_id)}" class="{css_class}"></div>\n{json_script(data_id, figure_json(figure))}\n'
            f"<script>{on_load(draw)}</script>")


def render_page(title: str, body: str, *, style: str = PAGE_STYLE, script: str = "", what: str = "the page") -> str:
    """A whole self-contained page: plotly.js once in the head, `PLOT_CONFIG` and `script` after it, then `body`.

    Args:
        title: the window title (escaped here).
        body: the page's HTML, already escaped where needed.
        style: the page's CSS.
        script: JavaScript the body's scripts call (functions defined once per page).
        what: the page, named in the error when plotly is missing.

    Raises:
        ClusterankError: plotly is not installed.
    """
    plotly = plotly_js(what)  # first: no page without it
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>\n<style>{style}</style>\n<script>{plotly}</script>\n"
            f"<script>const PLOT_CONFIG = {json.dumps(PLOT_CONFIG)};\n{script}</script></head><body>\n"
            f"{body}\n</body></html>\n")


def write_page(text: str, path: str | Path) -> Path:
    """Write a rendered page to `path` atomically (folders created) and return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
