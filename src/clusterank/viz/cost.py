"""Charts of a cost plan: cost and time of embedding N texts, one line per option, on log-log axes.

`write_cost_html` writes one self-contained page (plotly.js inside, works offline) with both charts
and the plan's tables; `write_cost_png` draws the same two panels as a static image.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from clusterank.cost.plan import CostPlan, format_count, format_duration
from clusterank.errors import require
from clusterank.tables import format_usd
from clusterank.viz.mpl import pyplot, save_figure
from clusterank.viz.page import PAGE_STYLE, TABLE_STYLE, figure_html, render_page, write_page

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
    go = require("plotly.graph_objects", "viz", "the cost page")
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


COST_STYLE = ".charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{flex:1 1 640px;min-width:0;height:640px}"
"""The two charts side by side where the window is wide enough."""


def cost_body(plan: CostPlan, title: str) -> str:
    """The page's HTML: heading, dated header, both charts and the plan's tables (from `CostPlan.tables()`)."""
    charts = "\n".join(figure_html(div, fig) for div, fig in cost_figures(plan).items())
    tables = "\n".join([f"<p>{html.escape(plan.intro)}</p>", *(t.html() for t in plan.tables()),
                        *(f"<p>{html.escape('Note: ' + n)}</p>" for n in plan.notes)])
    return (f"<h1>{html.escape(title)}</h1>\n<p id=\"header\">Tokens per text: {html.escape(plan.token_source)}. "
            f"Page made {dt.date.today().isoformat()}. Every price and throughput is dated in the\noptions table "
            "below; re-check them before a decision. Click a legend entry to hide its line.</p>\n"
            f'<div class="charts">\n{charts}\n</div>\n<h2>Tables</h2>\n{tables}')


def render_cost_html(plan: CostPlan, title: str = "What embedding N texts costs") -> str:
    """The self-contained page as a string: both charts (figures as JSON), the plan's tables and dates.

    Raises:
        ClusterankError: plotly is not installed.
    """
    return render_page(title, cost_body(plan, title), style=PAGE_STYLE + "body{max-width:1600px}" + COST_STYLE
                       + TABLE_STYLE, what="the cost page")


def write_cost_html(plan: CostPlan, path: str | Path) -> Path:
    """Write the self-contained cost page to `path` (atomically, folders created) and return the path."""
    return write_page(render_cost_html(plan), path)


def write_cost_png(plan: CostPlan, path: str | Path) -> Path:
    """Draw cost and time against number of texts (log-log, one line per option) as a PNG of about 1400x600.

    Raises:
        ClusterankError: matplotlib is not installed.
    """
    plt = pyplot("PNG cost chart")
    from matplotlib.ticker import FixedLocator, NullLocator

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
    return save_figure(fig, path)
