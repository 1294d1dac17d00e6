"""The comparison in numbers: its tables, a recommendation computed from them, report.md and per_query.csv.

`clusterank.viz.report` draws the same numbers as report.html (and `write_report` there writes all three).
"""

from __future__ import annotations

import math
from pathlib import Path

from clusterank.prices import default_prices
from clusterank.defaults import SEED_PIPELINE
from clusterank.evaluate.audit import audit_lines
from clusterank.evaluate.compare import METRICS, Comparison, ModelRun
from clusterank.evaluate.languages import LANGUAGE_CAPTION, has_languages, language_rows
from clusterank.evaluate.stats import Estimate, paired_difference
from clusterank.tables import format_usd, markdown_table
from clusterank.workspace import atomic_path

QUALITY = ("model", "pipeline", *METRICS, "routing acc.")
FACTS = ("model", "dims", "params (M)", "texts/s", "query ms", "peak MB", "cluster NMI", "$ per 1M texts",
         "price date")


def _fmt(value: object) -> str:
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
            cells.append(_fmt(run.routing_accuracy) if p.clusters_probed is not None else "-")  # routing pipelines
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


SEARCH = ("model", "pipeline", "index MB", "ms / query", "nDCG@10 kept", "recall@10 vs exact")


def search_rows(cmp: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the search-cost table: each pipeline's index memory, time per query, and what it keeps
    of exact search (its nDCG@10 over exact's, and the overlap of its top 10 with exact's)."""
    rows = []
    for run in cmp.runs:
        exact = run.pipelines.get("exact")
        for name, p in run.pipelines.items():
            kept = p.mean("nDCG@10") / exact.mean("nDCG@10") if exact is not None and exact.mean("nDCG@10") else None
            rows.append([run.model, name, "-" if p.index_bytes is None else f"{p.index_bytes / 1e6:,.2f}",
                         f"{p.ms_per_query:.3f}", "-" if kept is None else f"{kept:.3f}",
                         _fmt(p.mean("recall@10 vs exact"))])
    return list(SEARCH), rows


def markdown_tables(cmp: Comparison) -> str:
    """The tables in Markdown: quality, nDCG@10 by query language (when the queries are in more than one), search
    cost per pipeline, then the per-model facts."""
    tables = [markdown_table(*rows(cmp)) for rows in (quality_rows, search_rows, facts_rows)]
    if has_languages(cmp):
        tables.insert(1, f"{LANGUAGE_CAPTION}\n\n{markdown_table(*language_rows(cmp))}")
    return "\n\n".join(tables)


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
    skipped = f"; {cmp.skipped} with no relevant profile left out" if cmp.skipped else ""
    out = [f"Best overall on {metric} ({pipeline} search, {len(cmp.query_ids)} queries{skipped}): **{best.model}** "
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
    routed = best.pipelines.get(SEED_PIPELINE)
    if routed is not None:
        d_metric, sig = paired_difference(routed.per_query[metric], best.pipelines[pipeline].per_query[metric])
        d_near = (routed.per_query["near-miss@10"].mean() - best.pipelines[pipeline].per_query["near-miss@10"].mean())
        near = "" if math.isnan(d_near) else f" and the near-miss rate by {d_near:+.3f}"
        out.append(f"For {best.model}, routing to one cluster (the seed's method) changes {metric} by "
                   f"{d_metric.mean:+.3f} ({'significant' if sig else 'within noise'}){near}.")
    machine = default_prices().machine
    out.append(f"Costs: API models at list price; models run here at their measured throughput on this machine "
               f"priced as {machine.instance} at ${machine.hourly_usd:g}/h ({machine.date}); `clusterank cost` "
               "prices GPU hosting.")
    return " ".join(out)


def report_title(cmp: Comparison) -> str:
    """The report's heading: how many models, profiles and queries were compared."""
    models = f"{len(cmp.runs)} model{'s' if len(cmp.runs) != 1 else ''}"
    return f"Which embedding model? {models} on {cmp.n_profiles:,} profiles, {len(cmp.query_ids)} queries"


def method_notes(cmp: Comparison) -> list[str]:
    """How the numbers were made, for the report: the near-miss definition, nested CV of tuned pipelines."""
    runs = cmp.runs[0].pipelines.values() if cmp.runs else []
    notes = list(cmp.notes)
    near = next((r.near_miss for r in runs if r.near_miss is not None), None)
    if near is not None:
        notes.append(f"Near misses (near-miss@10 and the confusion matrices): {near.definition}.")
    first = cmp.runs[0] if cmp.runs else None
    tuned = [r for r in (first.pipelines.values() if first else []) if r.fold_alphas is not None]
    if tuned:
        listed = "; ".join(f"{r.pipeline}: {', '.join(f'{a:g}' for a in r.fold_alphas)}" for r in tuned)
        notes.append(f"Tuned pipelines (alpha=auto) are scored with nested {len(tuned[0].fold_alphas)}-fold "
                     f"cross-validation: each query with the alpha chosen on the other folds, never with one tuned "
                     f"on it (alpha per fold for {first.model}: {listed}).")
    plain = {r.model: r for r in cmp.runs if not r.blind}
    for run in (r for r in cmp.runs if r.blind):  # name-blind runs: what leaving the fields out changed
        base = plain.get(run.model.rsplit(" (blind:", 1)[0])
        if base is not None and "exact" in run.pipelines and "exact" in base.pipelines:
            d, sig = paired_difference(run.pipelines["exact"].per_query["nDCG@10"],
                                       base.pipelines["exact"].per_query["nDCG@10"])
            notes.append(f"{run.model} embeds the same profiles without {', '.join(run.blind)}: nDCG@10 (exact) "
                         f"{d.mean:+.3f} (95% interval {d.low:+.3f} to {d.high:+.3f}, "
                         f"{'significant' if sig else 'within noise'}) against {base.model}.")
    for run in cmp.runs:  # fused models: the weights of their parts, chosen the same way
        fused = [(name, r.fold_weights) for name, r in run.pipelines.items() if r.fold_weights]
        if fused:
            listed = "; ".join(f"{name}: {', '.join('+'.join(f'{w:g}' for w in ws) for ws in weights)}"
                               for name, weights in fused)
            notes.append(f"{run.model} fuses its parts' rankings with weights chosen per fold by the same nested "
                         f"cross-validation, never on the fold it scores (weights per fold: {listed}).")
    return notes


def holdout_section(cmp: Comparison) -> list[str]:
    """The leave-labels-out lines of every model (none when no pipeline learns from labels)."""
    found = [(r.model, h) for r in cmp.runs for h in r.holdout]
    if not found:
        return []
    return ["## Leave-labels-out: learned a metric, or memorised labels?", "",
            "A seeded share of the queries' labels (`--hide-labels`, 20%) is hidden: their profiles lose the label, "
            "and so does the same share of the other profiles (untagged profiles are a mix). The method is built on "
            "the rest with alpha chosen on the other labels' queries and scored on the hidden labels' queries "
            "against exact search (paired, 95% bootstrap interval). Below exact means it buried roles nobody had "
            "labelled.", "",
            *[f"- {model}: {h.line()}" for model, h in found], ""]


def finetuned_section(cmp: Comparison, metric: str = "nDCG@10") -> list[str]:
    """Each fine-tuned model against its base on every pipeline both ran (paired over the same queries); none when
    no compared model was fine-tuned from another compared model."""
    by_name = {r.model: r for r in cmp.runs}
    lines = []
    for run in cmp.runs:
        base = by_name.get(run.base or "")
        if base is None:
            continue
        for spec in (s for s in run.pipelines if s in base.pipelines):
            d, significant = paired_difference(run.pipelines[spec].per_query[metric],
                                               base.pipelines[spec].per_query[metric])
            ratio = run.pipelines[spec].per_query[metric].mean() / max(base.pipelines[spec].per_query[metric].mean(),
                                                                        1e-12)
            lines.append(f"- {run.model} − {base.model}, {spec}: {metric} {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
                         f" ({ratio:.2f}×){', significant' if significant else ''}")
    if not lines:
        return []
    return ["## Fine-tuned models against their base", "",
            "The fine-tune saw corpus rows and their labels (and `--train-queries`, never a scored query: compare "
            "refuses those). Paired differences over the same queries, 95% bootstrap interval.", "", *lines, ""]


def render_markdown(cmp: Comparison, recommendation: str) -> str:
    """report.md: the recommendation, the table and the showcase."""
    lines = [f"# {report_title(cmp)}", "",
             f"Corpus: {cmp.corpus_source}; queries: {cmp.queries_source}; machine: {cmp.machine}.", "",
             "## Recommendation", "", recommendation, "", "## All numbers", "",
             "Means over queries ± half the 95% bootstrap interval; ≈best: nDCG@10 within noise of the best.", "",
             *[line for note in method_notes(cmp) for line in (note, "")],
             markdown_tables(cmp), "", *finetuned_section(cmp), *holdout_section(cmp),
             *audit_lines([r.audit for r in cmp.runs]),
             "## Showcase: top 10 with exact search, the seed's routing and the label-aware retrievers", "",
             f"Query: {cmp.showcase_query}", ""]
    for r in cmp.runs:
        lines.append(f"### {r.model}")
        for name, hits in r.showcase.items():
            lines += ["", f"{name}:", ""] + [f"{h.rank}. {h.format()}" for h in hits]
        lines.append("")
    return "\n".join(lines)


def write_report_text(cmp: Comparison, out_dir: str | Path, recommendation: str) -> dict[str, Path]:
    """Write report.md and per_query.csv into `out_dir` (each atomically); returns their paths.

    `clusterank.viz.report.write_report` adds report.html.
    """
    out = Path(out_dir)
    paths = {"md": out / "report.md", "csv": out / "per_query.csv"}
    with atomic_path(paths["md"]) as tmp:
        tmp.write_text(render_markdown(cmp, recommendation), encoding="utf-8")
    with atomic_path(paths["csv"]) as tmp:
        cmp.per_query_frame().to_csv(tmp, index=False)
    return paths
