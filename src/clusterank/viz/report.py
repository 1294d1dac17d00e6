"""The comparison report drawn: report.html, one self-contained page built by `viz.page`.

The numbers come from `clusterank.evaluate.report`; here they become the tables, a bar chart per metric
with 95% intervals, quality against speed, each model's cluster map (the same interactive map as
`clusterank map`), a role-confusion matrix per model and the showcase query's top 10 per pipeline.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterank.errors import require
from clusterank.evaluate.audit import audit_table
from clusterank.evaluate.compare import HIGHER_IS_BETTER, METRICS
from clusterank.evaluate.languages import LANGUAGE_CAPTION, has_languages, language_rows
from clusterank.evaluate.report import (facts_rows, finetuned_section, holdout_section, method_notes, quality_rows,
                                        report_title, search_rows, write_report_text)
from clusterank.tables import html_table
from clusterank.viz.map import MAP_SCRIPT, MAP_STYLE, map_html
from clusterank.viz.page import PAGE_STYLE, TABLE_STYLE, figure_html, render_page, write_page

if TYPE_CHECKING:
    from clusterank.evaluate.compare import Comparison, ModelRun

REPORT_STYLE = ("body{max-width:1500px}td,th{text-align:right}td:first-child,td:nth-child(2),th{text-align:left}"
                ".pair{display:flex;gap:2rem}.hits{font-size:0.8rem}.map{height:560px}")
"""The report's own CSS, after the shared page, table and map styles."""



def section_html(lines: list[str]) -> str:
    """A markdown section of the text report (a `## ` heading, paragraphs, `- ` items) as HTML, escaped."""
    if not lines:
        return ""
    head, *rest = lines
    items = "".join(f"<li>{html.escape(x[2:])}</li>" for x in rest if x.startswith("- "))
    paragraphs = "".join(f"<p class='note'>{html.escape(x)}</p>" for x in rest if x and not x.startswith("- "))
    return f"<h3>{html.escape(head.removeprefix('## '))}</h3>{paragraphs}<ul>{items}</ul>"

def audit_html(cmp: Comparison) -> str:
    """The bias audit's section (`compare --audit-group`): its caption, the table, each pipeline's lowest ratio."""
    found = audit_table([r.audit for r in cmp.runs])
    if found is None:
        return ""
    title, header, rows, (caption, *lows) = found
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lows)
    cells = [[str(c).replace(" **<0.8**", " <0.8") for c in row] for row in rows]
    return (f"<h2 id='audit'>{html.escape(title)}</h2><p class='note'>{html.escape(caption)}</p>"
            + html_table(header, cells) + f"<ul>{items}</ul>")


def _go() -> Any:
    return require("plotly.graph_objects", "viz", "the HTML report")


def report_charts(cmp: Comparison) -> list[tuple[str, Any]]:
    """(div id, plotly figure) of the charts over all models: a bar chart per metric, quality vs speed.

    Raises:
        ClusterankError: plotly is not installed.
    """
    go = _go()
    charts = []
    for metric in METRICS:
        fig = go.Figure()
        for pipe in cmp.runs[0].pipelines:
            ests = [r.pipelines[pipe].estimate(metric) for r in cmp.runs]
            fig.add_bar(name=pipe, x=[r.model for r in cmp.runs], y=[e.mean for e in ests],
                        error_y={"type": "data", "symmetric": False, "array": [e.high - e.mean for e in ests],
                                 "arrayminus": [e.mean - e.low for e in ests]})
        better = "higher is better" if HIGHER_IS_BETTER[metric] else "lower is better"
        fig.update_layout(barmode="group", title=f"{metric} ({better}), mean and 95% interval", height=420)
        charts.append((f"chart-bar-{metric}", fig))
    fig = go.Figure()
    for r in cmp.runs:
        if r.texts_per_s:
            est = r.pipelines["exact"].estimate("nDCG@10")
            fig.add_scatter(x=[r.texts_per_s], y=[est.mean], mode="markers+text", text=[r.model], name=r.model,
                            textposition="top center", marker={"size": 14},
                            error_y={"type": "data", "array": [est.high - est.mean],
                                     "arrayminus": [est.mean - est.low]})
    fig.update_layout(title="Quality against speed: nDCG@10 (exact) vs embedding texts/s on this machine",
                      xaxis={"type": "log", "title": "texts/s (log)"}, yaxis={"title": "nDCG@10"}, height=460)
    charts.append(("chart-quality-speed", fig))
    return charts


def confusion_figure(run: ModelRun) -> Any:
    """The heatmap of one model's confusion (roles of the wrong profiles in each query's top 10), or None."""
    c = run.confusion
    if c is None or c.empty:
        return None
    go = _go()
    fig = go.Figure(go.Heatmap(z=c.values, x=list(c.columns), y=list(c.index), colorscale="Reds",
                               hovertemplate="target %{y}<br>got %{x}: %{z}<extra></extra>"))
    fig.update_layout(title=f"{run.model}: roles of the wrong profiles in each query's top 10 (exact)",
                      height=max(360, 22 * len(c.index) + 160), xaxis={"tickangle": -45})
    return fig


def model_sections(run: ModelRun) -> list[str]:
    """The per-model blocks of the charts: its cluster map (the same interactive map as `clusterank map`)
    and its confusion heatmap, where the run has them."""
    blocks = []
    if run.map_data is not None:
        blocks.append(map_html(run.map_data, f"chart-map-{run.model}", f"-{run.model}"))
    fig = confusion_figure(run)
    if fig is not None:
        blocks.append(figure_html(f"chart-confusion-{run.model}", fig))
    return blocks


def showcase_html(cmp: Comparison) -> str:
    """The showcase query and each model's top 10 per pipeline, side by side."""
    parts = [f"<p><b>Query:</b> {html.escape(cmp.showcase_query)}</p>"]
    for r in cmp.runs:
        parts.append(f"<h3>{html.escape(r.model)}</h3><div class='pair'>")
        for name, hits in r.showcase.items():
            items = "".join(f"<li>{html.escape(h.format())}</li>" for h in hits)
            parts.append(f"<div><h4>{html.escape(name)}</h4><ol class='hits'>{items}</ol></div>")
        parts.append("</div>")
    return "\n".join(parts)


def render_html(cmp: Comparison, recommendation: str) -> str:
    """The self-contained report page.

    Args:
        cmp: the comparison (`compare_models`).
        recommendation: the paragraph `recommend` wrote (its **bold** marks are dropped).

    Raises:
        ClusterankError: plotly is not installed.
    """
    by_lang = (f"<h3>By query language</h3><p>{html.escape(LANGUAGE_CAPTION)}</p>" + html_table(*language_rows(cmp))
               if has_languages(cmp) else "")
    table = ("<h3>Quality</h3>" + html_table(*quality_rows(cmp)) + by_lang + "<h3>Search cost per pipeline</h3>"
             + html_table(*search_rows(cmp)) + "<h3>Per model</h3>" + html_table(*facts_rows(cmp)))
    blocks = [figure_html(div, fig) for div, fig in report_charts(cmp)]
    blocks += [block for r in cmp.runs for block in model_sections(r)]
    charts = "\n".join(f"<section class='chart'>{b}</section>" for b in blocks)
    rec = html.escape(recommendation).replace("**", "")
    body = f"""<h1>{html.escape(report_title(cmp))}</h1>
<p>Corpus: {html.escape(cmp.corpus_source)}; queries: {html.escape(cmp.queries_source)}; machine: {cmp.machine}.
Metric values are means over queries ± half the 95% bootstrap interval; "≈best" marks nDCG@10 not significantly
different from the best model on that pipeline (paired bootstrap).</p>
{"".join(f"<p class='note'>{html.escape(note)}</p>" for note in method_notes(cmp))}
<h2>Recommendation</h2><p id="recommendation">{rec}</p>
<h2>All numbers</h2>{table}
{section_html(finetuned_section(cmp))}{section_html(holdout_section(cmp))}{audit_html(cmp)}
<h2>Charts</h2>{charts}
<h2>Showcase: top 10 with exact search, the seed's routing and role-aware search</h2>{showcase_html(cmp)}"""
    return render_page("clusterank model comparison", body, style=PAGE_STYLE + TABLE_STYLE + MAP_STYLE + REPORT_STYLE,
                       script=MAP_SCRIPT, what="the HTML report")


def write_report(cmp: Comparison, out_dir: str | Path, recommendation: str) -> dict[str, Path]:
    """Write report.md, per_query.csv and report.html into `out_dir` (each atomically); returns their paths.

    Args:
        cmp: the comparison (`compare_models`).
        out_dir: the folder (created).
        recommendation: the paragraph `recommend` wrote.

    Returns:
        {"md": ..., "html": ..., "csv": ...}.

    Raises:
        ClusterankError: plotly is not installed (report.md and per_query.csv are written first).
    """
    paths = write_report_text(cmp, out_dir, recommendation)
    paths["html"] = write_page(render_html(cmp, recommendation), Path(out_dir) / "report.html")
    return {k: paths[k] for k in ("md", "html", "csv")}
