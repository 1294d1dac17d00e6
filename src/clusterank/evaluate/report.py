"""The comparison as a table, a recommendation computed from the numbers, and report.md / report.html.

The HTML report is one self-contained file (plotly.js inside once): the table, a bar chart per
metric with 95% intervals, quality against speed, each model's cluster map, a role-confusion matrix
per model and the showcase query's top 10 before and after routing.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from clusterank.cost.plan import format_usd
from clusterank.cost.prices import default_prices
from clusterank.evaluate.compare import HIGHER_IS_BETTER, METRICS, Comparison, ModelRun
from clusterank.evaluate.stats import Estimate, paired_difference

QUALITY = ("model", "pipeline", *METRICS, "routing acc.")
FACTS = ("model", "dims", "params (M)", "texts/s", "query ms", "peak MB", "cluster NMI", "$ per 1M texts",
         "price date")


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, Estimate):
        if math.isnan(value.mean):
            return "-"
        return f"{value.mean:.3f} ±{(value.high - value.low) / 2:.3f}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def quality_rows(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the quality table, one row per model x pipeline.

    nDCG@10 carries "best" for the pipeline's best model and "≈best" for models within noise of it.
    """
    rows = []
    for run in cmp.runs:
        for name, p in run.pipelines.items():
            cells = [run.model, name] + [_fmt(p.estimate(m)) for m in METRICS]
            cells.append(_fmt(run.routing_accuracy) if name != "exact" else "-")
            if len(cmp.runs) > 1:
                if cmp.best("nDCG@10", name) is run:
                    cells[3] += " best"
                elif cmp.within_noise_of_best(run, "nDCG@10", name):
                    cells[3] += " ≈best"
            rows.append(cells)
    return list(QUALITY), rows


def facts_rows(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the per-model table: size, speed and memory measured here, dated cost per 1M texts."""
    rows = [[r.model, str(r.dims), _fmt(r.params_m), _fmt(r.texts_per_s), _fmt(r.query_ms), _fmt(r.peak_mb),
             _fmt(r.cluster_nmi), "-" if r.cost_per_1m_texts is None else format_usd(r.cost_per_1m_texts),
             r.price_date or "-"] for r in cmp.runs]
    return list(FACTS), rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (pastes into issues, docs and spreadsheets)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def markdown_tables(cmp: Comparison) -> str:
    """Both tables in Markdown, quality first."""
    return markdown(*quality_rows(cmp)) + "\n\n" + markdown(*facts_rows(cmp))


def _cost(run: ModelRun) -> float:
    return run.cost_per_1m_texts or 0.0


def recommend(cmp: Comparison, *, metric: str = "nDCG@10", pipeline: str = "exact",
              max_cost_per_1m: float | None = None, max_latency_ms: float | None = None) -> str:
    """A paragraph computed from the numbers: the best model, the best within budgets, the cheapest acceptable.

    "Acceptable" means not significantly worse than the best on `metric` (paired bootstrap over queries).
    `$ per 1M texts` is the API list price for API models and, for models run here, the measured
    throughput priced as this machine's VM (see `clusterank cost` for GPUs).
    """
    def score(r: ModelRun) -> float:
        return float(r.pipelines[pipeline].per_query[metric].mean())

    best = cmp.best(metric, pipeline)
    est = best.pipelines[pipeline].estimate(metric)
    out = [f"Best overall on {metric} ({pipeline} search, {len(cmp.query_ids)} queries): **{best.model}** "
           f"({est})."]
    tied = [r.model for r in cmp.runs if r is not best and cmp.within_noise_of_best(r, metric, pipeline)]
    if tied:
        out.append(f"Within noise of it: {', '.join(tied)}.")
    for label, limit, value in (("cost", max_cost_per_1m, _cost), ("latency", max_latency_ms,
                                                                    lambda r: r.query_ms if r.query_ms else 0.0)):
        if limit is None:
            continue
        ok = [r for r in cmp.runs if value(r) <= limit]
        unit = f"${limit:g} per 1M texts" if label == "cost" else f"{limit:g} ms per query"
        if ok:
            pick = max(ok, key=score)
            out.append(f"Best at or under {unit}: **{pick.model}** ({pick.pipelines[pipeline].estimate(metric)}).")
        else:
            out.append(f"No model is at or under {unit}.")
    acceptable = [r for r in cmp.runs if cmp.within_noise_of_best(r, metric, pipeline)]
    cheapest = min(acceptable, key=lambda r: (_cost(r), -(r.texts_per_s or 0)))
    if cheapest is not best:
        diff, _ = paired_difference(cheapest.pipelines[pipeline].per_query[metric],
                                    best.pipelines[pipeline].per_query[metric])
        speed = (f", {cheapest.texts_per_s / best.texts_per_s:.0f}x its embedding throughput"
                 if cheapest.texts_per_s and best.texts_per_s else "")
        out.append(f"Cheapest acceptable: **{cheapest.model}**, {diff.mean:+.3f} {metric} from the best "
                   f"(95% interval {diff.low:+.3f} to {diff.high:+.3f}){speed}.")
    else:
        out.append("The best is also the cheapest acceptable model.")
    routed = best.pipelines.get("routed nprobe=1")
    if routed is not None:
        d_metric, sig = paired_difference(routed.per_query[metric], best.pipelines[pipeline].per_query[metric])
        d_near = (routed.per_query["near-miss@10"].mean() - best.pipelines[pipeline].per_query["near-miss@10"].mean())
        out.append(f"For {best.model}, routing to one cluster (the seed's method) changes {metric} by "
                   f"{d_metric.mean:+.3f} ({'significant' if sig else 'within noise'}) and the near-miss rate "
                   f"by {d_near:+.3f}.")
    machine = default_prices().machine
    out.append(f"Costs: API models at list price; models run here at their measured throughput on this machine "
               f"priced as {machine.instance} at ${machine.hourly_usd:g}/h ({machine.date}); `clusterank cost` "
               "prices GPU hosting.")
    return " ".join(out)


def _plotly():
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    return go, get_plotlyjs


def _charts(cmp: Comparison) -> list[tuple[str, str, object]]:
    """(div id, title, plotly figure) for every chart of the report."""
    go, _ = _plotly()
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
        charts.append((f"chart-bar-{metric}", metric, fig))
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
    charts.append(("chart-quality-speed", "quality vs speed", fig))
    for r in cmp.runs:
        if r.map_data is not None:
            charts.append((f"chart-map-{r.model}", f"cluster map: {r.model}", _map_figure(r.map_data)))
        if r.confusion is not None and not r.confusion.empty:
            c = r.confusion
            fig = go.Figure(go.Heatmap(z=c.values, x=list(c.columns), y=list(c.index), colorscale="Reds",
                                       hovertemplate="target %{y}<br>got %{x}: %{z}<extra></extra>"))
            fig.update_layout(title=f"{r.model}: roles of the wrong profiles in each query's top 10 (exact)",
                              height=max(360, 22 * len(c.index) + 160), xaxis={"tickangle": -45})
            charts.append((f"chart-confusion-{r.model}", f"confusion: {r.model}", fig))
    return charts


def _map_figure(data):
    go, _ = _plotly()
    fig = go.Figure()
    for c in sorted(set(int(x) for x in data.clusters)):
        sel = data.clusters == c
        fig.add_scattergl(x=data.xy[sel, 0], y=data.xy[sel, 1], mode="markers", marker={"size": 4, "opacity": 0.7},
                          name=f"{c}: {data.cluster_names.get(c, '')}",
                          text=[h for h, s in zip(data.hover, sel) if s], hovertemplate="%{text}<extra></extra>")
    for x, y, text in data.queries:
        fig.add_scatter(x=[x], y=[y], mode="markers", name="job description", text=[text],
                        marker={"symbol": "x", "size": 20, "color": "black"},
                        hovertemplate="<b>Job description</b><br>%{text}<extra></extra>")
    fig.update_layout(title=data.title, height=560, hovermode="closest")
    return fig


def _showcase_html(cmp: Comparison) -> str:
    parts = [f"<p><b>Query:</b> {html.escape(cmp.showcase_query)}</p>"]
    for r in cmp.runs:
        parts.append(f"<h3>{html.escape(r.model)}</h3><div class='pair'>")
        for name, hits in r.showcase.items():
            items = "".join(f"<li>{html.escape(h.format())}</li>" for h in hits)
            parts.append(f"<div><h4>{html.escape(name)}</h4><ol class='hits'>{items}</ol></div>")
        parts.append("</div>")
    return "\n".join(parts)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    return ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
            + "</tbody></table>")


def render_html(cmp: Comparison, recommendation: str) -> str:
    """The self-contained report page."""
    _, get_plotlyjs = _plotly()
    table = "<h3>Quality</h3>" + _html_table(*quality_rows(cmp)) + "<h3>Per model</h3>" + _html_table(*facts_rows(cmp))
    charts = _charts(cmp)
    blocks = "\n".join(f"<section class='chart'>{fig.to_html(full_html=False, include_plotlyjs=False, div_id=div)}"
                       f"</section>" for div, _, fig in charts)
    rec = html.escape(recommendation).replace("**", "")
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>clusterank model comparison</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem 2rem;max-width:1500px}}
table{{border-collapse:collapse;font-size:0.85rem}}td,th{{border:1px solid #ccc;padding:0.2rem 0.4rem;text-align:right}}
td:first-child,td:nth-child(2),th{{text-align:left}}.pair{{display:flex;gap:2rem}}.hits{{font-size:0.8rem}}
</style><script>{get_plotlyjs()}</script></head><body>
<h1>Which embedding model? {len(cmp.runs)} models on {cmp.n_profiles:,} profiles, {len(cmp.query_ids)} queries</h1>
<p>Corpus: {html.escape(cmp.corpus_source)}; queries: {html.escape(cmp.queries_source)}; machine: {cmp.machine}.
Metric values are means over queries ± half the 95% bootstrap interval; "≈best" marks nDCG@10 not significantly
different from the best model on that pipeline (paired bootstrap).</p>
<h2>Recommendation</h2><p id="recommendation">{rec}</p>
<h2>All numbers</h2>{table}
<h2>Charts</h2>{blocks}
<h2>Showcase: top 10 before and after routing</h2>{_showcase_html(cmp)}
</body></html>"""


def render_markdown(cmp: Comparison, recommendation: str) -> str:
    """report.md: the recommendation, the table and the showcase."""
    lines = [f"# Which embedding model? {len(cmp.runs)} models on {cmp.n_profiles:,} profiles, "
             f"{len(cmp.query_ids)} queries", "",
             f"Corpus: {cmp.corpus_source}; queries: {cmp.queries_source}; machine: {cmp.machine}.", "",
             "## Recommendation", "", recommendation, "", "## All numbers", "",
             "Means over queries ± half the 95% bootstrap interval; ≈best: nDCG@10 within noise of the best.", "",
             markdown_tables(cmp), "", "## Showcase: top 10 before and after routing", "",
             f"Query: {cmp.showcase_query}", ""]
    for r in cmp.runs:
        lines.append(f"### {r.model}")
        for name, hits in r.showcase.items():
            lines += ["", f"{name}:", ""] + [f"{h.rank}. {h.format()}" for h in hits]
        lines.append("")
    return "\n".join(lines)


def write_report(cmp: Comparison, out_dir: str | Path, recommendation: str) -> dict[str, Path]:
    """Write report.md, report.html and per_query.csv into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "report.md", "html": out / "report.html", "csv": out / "per_query.csv"}
    paths["md"].write_text(render_markdown(cmp, recommendation), encoding="utf-8")
    paths["html"].write_text(render_html(cmp, recommendation), encoding="utf-8")
    cmp.per_query_frame().to_csv(paths["csv"], index=False)
    return paths
