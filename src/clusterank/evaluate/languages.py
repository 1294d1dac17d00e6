"""Quality by query language: where a model fails (an English-only model on Chinese job descriptions, say).

Each scored query has a language (`Comparison.query_langs`: the queries' `lang` column, else detected by
`clusterank.data.languages`; `mixed` for a text split between scripts). For every model x pipeline and language this
gives the mean of a metric over that language's queries with its 95% bootstrap interval over those queries, and
their count: the overall mean restricted to one language.
"""

from __future__ import annotations

import pandas as pd

from clusterank.data.languages import MIXED, UNDETERMINED
from clusterank.evaluate.stats import bootstrap_ci

LANGUAGE_COLUMNS = ("model", "pipeline", "lang", "queries")
LANGUAGE_CAPTION = ("nDCG@10 by query language (in brackets: how many queries; mixed: scripts mixed in one "
                    "query):")


def languages_of(cmp) -> list[str]:
    """The languages of a comparison's scored queries, most queries first (`mixed` and `und` last); empty when
    unknown."""
    counts = pd.Series(cmp.query_langs, dtype=object).value_counts()
    return sorted(counts.index, key=lambda lang: (lang in (MIXED, UNDETERMINED), -counts[lang], lang))


def language_frame(cmp, metric: str = "nDCG@10") -> pd.DataFrame:
    """One row per (model, pipeline, lang): `queries` (how many), `metric` (their mean), `<metric>_low` and
    `<metric>_high` (95% bootstrap interval over those queries). No rows when the languages are unknown."""
    rows = []
    langs = pd.Series(cmp.query_langs, dtype=object)
    for run in cmp.runs:
        for name, p in run.pipelines.items():
            values = pd.Series(p.per_query[metric])
            for lang in languages_of(cmp):
                picked = values[(langs == lang).to_numpy()].to_numpy()
                est = bootstrap_ci(picked)
                rows.append({"model": run.model, "pipeline": name, "lang": lang, "queries": len(picked),
                             metric: est.mean, f"{metric}_low": est.low, f"{metric}_high": est.high})
    return pd.DataFrame(rows, columns=[*LANGUAGE_COLUMNS, metric, f"{metric}_low", f"{metric}_high"])


def language_rows(cmp, metric: str = "nDCG@10") -> tuple[list[str], list[list[str]]]:
    """Header and cells of the per-language table: a row per model x pipeline, a column per language with the mean
    `metric` ± half its 95% interval; the header says each language's query count."""
    langs = languages_of(cmp)
    frame = language_frame(cmp, metric)
    counts = dict(zip(frame["lang"], frame["queries"]))
    header = ["model", "pipeline", *[f"{lang} ({counts[lang]})" for lang in langs]]
    cells = {(r["model"], r["pipeline"], r["lang"]):
             f"{r[metric]:.3f} ±{(r[f'{metric}_high'] - r[f'{metric}_low']) / 2:.3f}" for r in frame.to_dict("records")}
    rows = [[run.model, name, *[cells[(run.model, name, lang)] for lang in langs]]
            for run in cmp.runs for name in run.pipelines]
    return header, rows


def has_languages(cmp) -> bool:
    """Whether the comparison's queries are in more than one language (then the per-language table is shown)."""
    return len(languages_of(cmp)) > 1
