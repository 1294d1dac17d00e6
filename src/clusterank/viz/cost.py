"""Charts of a cost plan: cost and time of embedding N texts, one line per option, on log-log axes.

`write_cost_html` writes one self-contained page (plotly.js inside, works offline) with both charts
and the plan's tables; `write_cost_png` draws the same two panels as a static image.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

from clusterank.cost.plan import CostPlan, format_count, format_duration, format_usd
from clusterank.errors import ClusterankError
from clusterank.viz.mpl import prepare, pyplot

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#222a2a", "#b68100", "#da16ff", "#1ca71c", "#e15f99", "#511cfb", "#eb663b", "#750d86",
           "#2e91e5", "#fb0d0d"]
"""One colour per option, in the plan's order (cycled past 20)."""
DASH = {"api": "solid", "api-batch": "dash", "self-hosted": "dot", "this machine": "dashdot"}
"""Plotly line dash per option kind."""
_MPL_DASH = {"api": "-", "api-batch": "--", "self-hosted": ":", "this machine": "-."}
UPPER_BOUND = "(provider's completion window, an upper bound)"
AXIS_TITLES = {"x": "number of texts (log scale)", "cost": "cost (USD, log scale)",
               "time": "wall-clock time (hours, log scale)"}


def hover_texts(plan: CostPlan, option_name: str) -> list[str]:
    """Hover label of each point of one option: name, texts, cost and duration (≤ where an upper bound)."""
    option = next(o for o in plan.options if o.name == option_name)
    bound = "≤ " if option.upper_bound_time else ""
    note = f" {UPPER_BOUND}" if option.upper_bound_time else ""
    return [f"<b>{html.escape(option.name, quote=False)}</b><br>{e.n_texts:,} texts<br>{format_usd(e.usd)}<br>"
            f"{bound}{format_duration(e.seconds)}{html.escape(note, quote=False)}" for e in plan.estimates[option.name]]


def cost_figures(plan: CostPlan) -> dict[str, object]:
    """The two plotly figures of the page, keyed by div id: 'cost-chart' (USD) and 'time-chart' (hours).

    Raises:
        ClusterankError: plotly is not installed.
    """
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ClusterankError("the cost charts need plotly: pip install 'clusterank[viz]'") from None
    ticks = {"type": "log", "tickvals": list(plan.sizes), "ticktext": [format_count(n) for n in plan.sizes],
             "title": {"text": AXIS_TITLES["x"]}}
    figures = {}
    for div, what, title in (("cost-chart", "cost", "Cost of embedding N texts"),
                             ("time-chart", "time", "Time to embed N texts (≤: batch window, an upper bound)")):
        fig = go.Figure()
        for i, o in enumerate(plan.options):
            ests = plan.estimates[o.name]
            fig.add_scatter(x=list(plan.sizes), y=[e.usd if what == "cost" else e.hours for e in ests],
                            name=o.name, mode="lines+markers", text=hover_texts(plan, o.name),
                            hovertemplate="%{text}<extra></extra>", marker={"size": 7},
                            line={"color": PALETTE[i % len(PALETTE)], "dash": DASH.get(o.kind, "solid"), "width": 2})
        fig.update_layout(title={"text": title}, xaxis=ticks, hovermode="closest", height=640,
                          yaxis={"type": "log", "dtick": 1, "title": {"text": AXIS_TITLES[what]},
                                 "exponentformat": "none", "separatethousands": True,
                                 "tickprefix": "$" if what == "cost" else ""},
                          legend={"orientation": "h", "y": -0.18, "font": {"size": 11}},
                          margin={"t": 50, "l": 70, "r": 20, "b": 40})
        figures[div] = fig
    return figures


def markdown_to_html(text: str) -> str:
    """The plan's markdown as HTML: `| a | b |` blocks become tables (first row the header), other lines paragraphs."""
    out, table = [], []

    def flush() -> None:
        if table:
            head, *body = table
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr></thead>"
                       "<tbody>" + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                                           for row in body) + "</tbody></table>")
            table.clear()

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|") and s.endswith("|") and len(s) > 1:
            cells = [c.strip() for c in s[1:-1].split("|")]
            if not all(set(c) <= set("-: ") and c for c in cells):  # skip the |---| separator
                table.append(cells)
            continue
        flush()
        if s:
            out.append(f"<p>{html.escape(s)}</p>")
    flush()
    return "\n".join(out)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem 2rem;max-width:1600px}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{flex:1 1 640px;min-width:0;height:640px}
table{border-collapse:collapse;font-size:0.85rem;margin:0.5rem 0 1rem}
td,th{border:1px solid #ccc;padding:0.2rem 0.45rem;text-align:left}th{background:#f4f4f4}</style>
<script>__PLOTLY__</script></head><body>
<h1>__TITLE__</h1>
<p id="header">Tokens per text: __TOKENS__. Page made __DATE__. Every price and throughput is dated in the
options table below; re-check them before a decision. Click a legend entry to hide its line.</p>
<div class="charts"><div id="cost-chart" class="chart"></div><div id="time-chart" class="chart"></div></div>
<script id="cost-figures" type="application/json">__DATA__</script>
<script>
const F = JSON.parse(document.getElementById("cost-figures").textContent);
for (const [id, f] of Object.entries(F)) Plotly.newPlot(id, f.data, f.layout, {responsive: true, displaylogo: false});
</script>
<h2>Tables</h2>
__TABLES__
</body></html>
"""


def render_cost_html(plan: CostPlan, title: str = "What embedding N texts costs") -> str:
    """The self-contained page as a string: both charts (figures as JSON), the plan's tables and dates.

    Raises:
        ClusterankError: plotly is not installed.
    """
    figures = cost_figures(plan)
    from plotly.offline import get_plotlyjs

    data = {div: json.loads(fig.to_json()) for div, fig in figures.items()}
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return (_PAGE.replace("__TITLE__", html.escape(title)).replace("__TOKENS__", html.escape(plan.token_source))
            .replace("__DATE__", dt.date.today().isoformat()).replace("__TABLES__", markdown_to_html(plan.markdown()))
            .replace("__DATA__", payload).replace("__PLOTLY__", get_plotlyjs()))


def write_cost_html(plan: CostPlan, path: str | Path) -> Path:
    """Write the self-contained cost page to `path` (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_cost_html(plan), encoding="utf-8")
    return path


def write_cost_png(plan: CostPlan, path: str | Path) -> Path:
    """Draw cost and time against number of texts (log-log, one line per option) as a PNG of about 1400x600.

    Raises:
        ClusterankError: matplotlib is not installed.
    """
    plt = pyplot("PNG cost chart")
    from matplotlib.ticker import FixedLocator, NullLocator

    path = prepare(path)
    fig, axes = plt.subplots(1, 2, figsize=(14, 6), dpi=100)
    for ax, what in zip(axes, ("cost", "time")):
        for i, o in enumerate(plan.options):
            ests = plan.estimates[o.name]
            ax.plot(plan.sizes, [e.usd if what == "cost" else e.hours for e in ests], marker="o", markersize=4,
                    linestyle=_MPL_DASH.get(o.kind, "-"), color=PALETTE[i % len(PALETTE)], linewidth=1.6,
                    label=o.name + (" (≤, upper bound)" if what == "time" and o.upper_bound_time else ""))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(plan.sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([format_count(n) for n in plan.sizes])
        ax.set_xlabel(AXIS_TITLES["x"])
        ax.set_ylabel(AXIS_TITLES[what])
        ax.grid(True, which="major", alpha=0.3)
        ax.set_title("Cost of embedding N texts" if what == "cost" else "Time to embed N texts")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    fig.suptitle(f"Tokens per text: {plan.token_source}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
