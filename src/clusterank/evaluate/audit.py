"""Bias audit of a ranking: selection and scoring rates per group, impact ratios with bootstrap intervals, skew@k
and NDKL, as NYC Local Law 144 audits and LinkedIn's fairness work (Geyik et al., KDD 2019) measure them.

Definitions (one query = one job description; intervals resample queries):

- selected: a profile in the query's top k. A group's selection rate is the mean over queries of (members
  selected / members eligible), in two versions: eligible = every member of the corpus ("all"), and eligible =
  the members whose label is the query's label ("relevant"; a query with no relevant member of a group does not
  count for that group). The relevant version asks whether qualified members are found as often as others.
- scoring rate: the share of a group's members whose cosine to the query is above the median cosine over the
  whole corpus, averaged over queries (the model's score, so the same for each pipeline of a model).
- impact ratio: a group's rate / the highest group's rate; below 0.8 is flagged (EEOC four-fifths rule). Groups
  under 2% of the corpus are reported but not ratioed (and not the denominator), as the law's rules allow, and
  so is `(unknown)` (an empty group value). Intervals: percentile bootstrap over queries of the ratio itself.
- skew@k of a group: log(its share of the top k / its share of the corpus); a group absent from the top k counts
  as half a member (else the log is -inf). NDKL: sum over i = 1..k of KL(group shares of the top i || corpus
  shares) / log2(i + 1), divided by Z = sum of 1 / log2(i + 1); 0 when every prefix matches the corpus.
- two columns give their intersections, `a × b`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clusterank.errors import ClusterankError
from clusterank.evaluate.stats import Estimate, bootstrap_ci
from clusterank.tables import markdown_table

MIN_SHARE = 0.02
"""Groups below this share of the corpus are reported but not ratioed."""
FOUR_FIFTHS = 0.8
"""Impact ratios below this are flagged."""
UNKNOWN = "(unknown)"
"""The group of a profile whose group value is empty."""
_NAN = Estimate(float("nan"), float("nan"), float("nan"))


def group_values(frame: pd.DataFrame | None, columns: str | Sequence[str], source: str = "the corpus") -> list[str]:
    """Each row's group: the value of one column, or `a × b` for two (empty values: `(unknown)`).

    Raises:
        ClusterankError: no columns, more than two, or a column the corpus lacks (the line names those it has).
    """
    names = [c.strip() for c in (columns.split(",") if isinstance(columns, str) else columns) if c.strip()]
    if not 1 <= len(names) <= 2:
        raise ClusterankError(f"give one group column, or two for their intersections; got {len(names)}")
    have = [str(c) for c in frame.columns if not str(c).startswith("embeddings_")] if frame is not None else []
    for name in names:
        if name not in have:
            raise ClusterankError(f"{source}: no group column {name!r}; its columns are: {', '.join(have) or 'none'}")

    def text(v: object) -> str | None:
        return None if v is None or (isinstance(v, float) and v != v) or not str(v).strip() else str(v).strip()

    cols = [[text(v) for v in frame[name]] for name in names]
    return [UNKNOWN if any(v is None for v in vs) else " × ".join(vs) for vs in zip(*cols)]


def check_groups(values: Sequence[str], expected: Sequence[str], column: str = "the group column") -> None:
    """Every group the user expects has members.

    Raises:
        ClusterankError: the first expected group with no members, and the groups that are there.
    """
    present = set(values)
    for g in expected:
        if g.strip() and g.strip() not in present:
            raise ClusterankError(f"group {g.strip()!r} has no members in {column}; its groups are: "
                                  f"{', '.join(sorted(present))}")


def encode(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """(group names sorted, each row's group index)."""
    names = sorted(set(values))
    index = {g: i for i, g in enumerate(names)}
    return names, np.array([index[v] for v in values], dtype=np.int64)


def top_counts(rows: np.ndarray, codes: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    """(queries, groups) members of each group in each query's top k (-1 rows are no hit)."""
    top = np.asarray(rows)[:, :k]
    labelled = np.where(top >= 0, codes[np.maximum(top, 0)], n_groups)
    counts = np.zeros((len(top), n_groups + 1), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(top)), top.shape[1]), labelled.ravel()), 1)
    return counts[:, :n_groups]


def selection_rates(rows: np.ndarray, codes: np.ndarray, n_groups: int, k: int,
                    eligible: np.ndarray | None = None) -> np.ndarray:
    """(queries, groups) share of each group's eligible members in the query's top k.

    Args:
        rows: (queries, depth) ranked corpus rows, best first; -1 = no hit.
        codes: each corpus row's group index.
        eligible: (queries, rows) bool, who counts (None: every row); a group with no eligible member in a query
            gets NaN there.
    """
    rows = np.asarray(rows)
    if eligible is None:
        members = np.bincount(codes, minlength=n_groups).astype(float)
        return top_counts(rows, codes, n_groups, k) / np.where(members > 0, members, np.nan)
    onehot = np.eye(n_groups, dtype=float)[codes]
    members = eligible.astype(float) @ onehot
    top = rows[:, :k]
    picked = np.zeros_like(eligible, dtype=bool)
    q_idx = np.repeat(np.arange(len(top)), top.shape[1])
    valid = top.ravel() >= 0
    picked[q_idx[valid], top.ravel()[valid]] = True
    selected = (picked & eligible).astype(float) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(members > 0, selected / np.where(members > 0, members, 1), np.nan)


def scoring_rates(scores: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """(queries, groups) share of each group's members scoring above the query's median score over all rows."""
    scores = np.asarray(scores, dtype=float)
    above = (scores > np.median(scores, axis=1, keepdims=True)).astype(float)
    members = np.bincount(codes, minlength=n_groups).astype(float)
    return above @ np.eye(n_groups)[codes] / np.where(members > 0, members, np.nan)


def skew_at_k(rows: np.ndarray, codes: np.ndarray, desired: np.ndarray, k: int) -> np.ndarray:
    """(queries, groups) log(share in the top k / desired share); a group absent from the top k counts as half a
    member. A query with no hit gets NaN."""
    counts = top_counts(rows, codes, len(desired), k).astype(float)
    n = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.maximum(counts, 0.5) / np.where(n > 0, n, np.nan) / desired)


def ndkl(rows: np.ndarray, codes: np.ndarray, desired: np.ndarray, k: int) -> np.ndarray:
    """Per query, the normalised discounted KL divergence of the top-i group shares from `desired`, i = 1..k."""
    top = np.asarray(rows)[:, :k]
    n_groups = len(desired)
    onehot = np.eye(n_groups + 1)[np.where(top >= 0, codes[np.maximum(top, 0)], n_groups)][:, :, :n_groups]
    cum = onehot.cumsum(axis=1)
    size = cum.sum(axis=2, keepdims=True)
    p = np.divide(cum, size, out=np.zeros_like(cum), where=size > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        kl = np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / desired), 0.0).sum(axis=2)
    weights = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    return (kl * weights).sum(axis=1) / weights.sum()


def ratioed_groups(names: Sequence[str], counts: np.ndarray, min_share: float = MIN_SHARE) -> np.ndarray:
    """Which groups get an impact ratio: at least `min_share` of the rows, and not `(unknown)`."""
    share = np.asarray(counts, dtype=float) / max(int(np.sum(counts)), 1)
    return np.array([s >= min_share and g != UNKNOWN for g, s in zip(names, share)], dtype=bool)


def impact_ratios(rates: np.ndarray, ratioed: np.ndarray, n_boot: int = 2000, seed: int = 0,
                  level: float = 0.95) -> list[Estimate | None]:
    """Each ratioed group's mean rate over queries / the highest ratioed group's, with a percentile bootstrap
    interval over queries (the ratio recomputed in each resample); None for groups not ratioed.

    Args:
        rates: (queries, groups) per-query rates, NaN where a group does not count for a query.
        ratioed: which groups are ratioed (`ratioed_groups`).
    """
    rates = np.asarray(rates, dtype=float)
    valid = ~np.isnan(rates)
    filled = np.where(valid, rates, 0.0)

    def ratios(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
            top = np.nanmax(np.where(ratioed, means, np.nan), axis=-1, initial=-np.inf, keepdims=True)
            return np.where(top > 0, means / np.where(top > 0, top, 1), np.nan)

    point = ratios(filled.sum(axis=0), valid.sum(axis=0))
    idx = np.random.default_rng(seed).integers(0, len(rates), size=(n_boot, len(rates)))
    boot = ratios(filled[idx].sum(axis=1), valid[idx].sum(axis=1))
    alpha = (1 - level) / 2
    out: list[Estimate | None] = []
    for g in range(rates.shape[1]):
        if not ratioed[g]:
            out.append(None)
            continue
        col = boot[:, g][~np.isnan(boot[:, g])]
        low, high = np.quantile(col, [alpha, 1 - alpha]) if col.size else (np.nan, np.nan)
        out.append(Estimate(float(point[g]), float(low), float(high)))
    return out


def _mean(values: np.ndarray) -> Estimate:
    kept = values[~np.isnan(values)]
    return bootstrap_ci(kept) if kept.size else _NAN


@dataclass
class PipelineAudit:
    """One model and pipeline's audit: per group its size, rates and ratios; skew@k per query and group; NDKL."""

    model: str
    pipeline: str
    k: int
    groups: list[str]
    members: np.ndarray
    ratioed: np.ndarray
    rates: dict[str, np.ndarray]
    """`selection`, `selection_relevant` (absent without labels), `scoring`: (queries, groups) per-query rates."""
    ratios: dict[str, list[Estimate | None]]
    skew: np.ndarray
    ndkl: np.ndarray

    def lowest_ratio(self, rate: str = "selection") -> tuple[str, Estimate] | None:
        """(group, impact ratio) of the ratioed group with the lowest `rate` ratio; None when none is defined."""
        found = [(g, r) for g, r in zip(self.groups, self.ratios.get(rate, [])) if r is not None and r.mean == r.mean]
        return min(found, key=lambda x: x[1].mean) if found else None

    def records(self) -> list[dict]:
        """One dict per group: sizes, rates with intervals, impact ratios with intervals, mean skew@k, NDKL."""
        total = max(int(self.members.sum()), 1)
        nd = _mean(self.ndkl)
        out = []
        for g, name in enumerate(self.groups):
            row = {"model": self.model, "pipeline": self.pipeline, "k": self.k, "group": name,
                   "profiles": int(self.members[g]), "share": float(self.members[g] / total),
                   "ratioed": bool(self.ratioed[g])}
            for rate, values in self.rates.items():
                est, ratio = _mean(values[:, g]), self.ratios[rate][g]
                row.update({rate: est.mean, f"{rate}_low": est.low, f"{rate}_high": est.high,
                            f"{rate}_ratio": None if ratio is None else ratio.mean,
                            f"{rate}_ratio_low": None if ratio is None else ratio.low,
                            f"{rate}_ratio_high": None if ratio is None else ratio.high,
                            f"{rate}_flag": ratio is not None and ratio.mean < FOUR_FIFTHS})
            row.update({f"skew@{self.k}": float(np.nanmean(self.skew[:, g])), f"NDKL@{self.k}": nd.mean,
                        f"NDKL@{self.k}_low": nd.low, f"NDKL@{self.k}_high": nd.high})
            out.append(row)
        return out


def audit_arrays(model: str, pipeline: str, rows: np.ndarray, scores: np.ndarray | None, values: Sequence[str],
                 k: int = 30, relevant: np.ndarray | None = None, *, min_share: float = MIN_SHARE,
                 n_boot: int = 2000, seed: int = 0) -> PipelineAudit:
    """Audit one ranking: `rows` (queries, depth) best first, `scores` (queries, corpus rows) for scoring rates
    (None: left out), `values` each corpus row's group, `relevant` (queries, corpus rows) bool for the relevant
    selection rate (None: left out)."""
    groups, codes = encode(values)
    members = np.bincount(codes, minlength=len(groups))
    ratioed = ratioed_groups(groups, members, min_share)
    rates = {"selection": selection_rates(rows, codes, len(groups), k)}
    if relevant is not None:
        rates["selection_relevant"] = selection_rates(rows, codes, len(groups), k, relevant)
    if scores is not None:
        rates["scoring"] = scoring_rates(scores, codes, len(groups))
    ratios = {name: impact_ratios(r, ratioed, n_boot, seed) for name, r in rates.items()}
    desired = members / members.sum()
    return PipelineAudit(model, pipeline, k, groups, members, ratioed, rates, ratios,
                         skew_at_k(rows, codes, desired, k), ndkl(rows, codes, desired, k))


@dataclass
class Audit:
    """A finished audit: one `PipelineAudit` per model and pipeline, over the same queries and group column."""

    column: str
    k: int
    n_profiles: int
    n_queries: int
    pipelines: list[PipelineAudit] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per (model, pipeline, group): rates and impact ratios with their 95% intervals, skew, NDKL."""
        return pd.DataFrame([r for p in self.pipelines for r in p.records()])

    def to_json(self) -> dict:
        """The audit as plain data (NaN as None): column, k, sizes and the rows of `to_frame`."""
        rows = [{key: (None if isinstance(v, float) and v != v else v) for key, v in r.items()}
                for p in self.pipelines for r in p.records()]
        return {"group_column": self.column, "k": self.k, "profiles": self.n_profiles, "queries": self.n_queries,
                "min_share": MIN_SHARE, "flag_below": FOUR_FIFTHS, "rows": rows}

    def markdown(self) -> str:
        """The audit as a Markdown table, a line per (model, pipeline, group), then the lowest ratio per pipeline."""
        return "\n".join(audit_lines([self]))


def _ratio(est: Estimate | None, ratioed: bool) -> str:
    if not ratioed:
        return "not ratioed"
    if est is None or est.mean != est.mean:
        return "n/a"
    return f"{est.mean:.2f} [{est.low:.2f}, {est.high:.2f}]" + (" **<0.8**" if est.mean < FOUR_FIFTHS else "")


def audit_table(audits: Sequence[Audit | None]) -> tuple[str, list[str], list[list[str]], list[str]] | None:
    """(caption, header, rows, the lowest impact ratio of each pipeline) of one or more audits (a model each, in
    `compare`); None when there is nothing audited."""
    audits = [a for a in audits if a is not None and a.pipelines]
    if not audits:
        return None
    a, k = audits[0], audits[0].k
    header = ["model", "pipeline", "group", "profiles", f"selection@{k}", "impact ratio",
              f"selection@{k} (relevant)", "impact ratio (relevant)", "scoring rate", "impact ratio (scoring)",
              f"mean skew@{k}"]
    rows, lows = [], []
    for p in (p for audit in audits for p in audit.pipelines):
        share = p.members / max(int(p.members.sum()), 1)
        for g, name in enumerate(p.groups):
            cells = [p.model, p.pipeline, name, f"{p.members[g]:,} ({share[g]:.1%})"]
            for rate in ("selection", "selection_relevant", "scoring"):
                if rate in p.rates:
                    cells += [f"{_mean(p.rates[rate][:, g]).mean:.3f}", _ratio(p.ratios[rate][g], p.ratioed[g])]
                else:
                    cells += ["", ""]
            rows.append(cells + [f"{np.nanmean(p.skew[:, g]):+.2f}"])
        low = p.lowest_ratio()
        lows.append(f"{p.model}, {p.pipeline}: lowest impact ratio at top-{k}: "
                    + (f"{low[0]} {low[1]}" if low else "none") + f"; NDKL@{k} {_mean(p.ndkl)}")
    caption = (f"{a.n_profiles:,} profiles, {a.n_queries} queries. Selection rate: share of a group's profiles in a "
               f"query's top {k}, of all its profiles or of those whose role is the query's (relevant), mean over "
               f"queries; scoring rate: share above the query's median cosine. Impact ratio = rate / highest "
               f"group's, 95% bootstrap interval over queries; below 0.8 flagged (four-fifths rule); groups under "
               f"{MIN_SHARE:.0%} of the profiles and {UNKNOWN} are reported, not ratioed. skew@{k} = log(share of "
               f"the top {k} / share of the profiles); NDKL 0 = every prefix of the ranking matches the profiles.")
    return f"Bias audit by {a.column} (top {k})", header, rows, [caption, *lows]


def audit_lines(audits: Sequence[Audit | None]) -> list[str]:
    """Markdown lines of one or more audits (see `audit_table`): heading, caption, table, lowest ratios."""
    found = audit_table(audits)
    if found is None:
        return []
    title, header, rows, (caption, *lows) = found
    return [f"## {title}", "", caption, "", markdown_table(header, rows), "", *[f"- {x}" for x in lows], ""]


def relevance_mask(row_labels: Sequence[str] | None, query_labels: Sequence[str] | None) -> np.ndarray | None:
    """(queries, rows) True where a profile's label is the query's; None without labels on either side."""
    if row_labels is None or query_labels is None:
        return None
    rows = np.asarray([str(x) for x in row_labels])
    return np.stack([rows == str(q) for q in query_labels]) if len(query_labels) else None


def audit_pipelines(pipe, queries, group_columns: str | Sequence[str], pipelines: Sequence = ("exact",), k: int = 30,
                    *, expected: Sequence[str] = (), query_labels: Sequence[str] | None = None,
                    min_share: float = MIN_SHARE, n_boot: int = 2000, seed: int = 0) -> Audit:
    """Audit each pipeline of one model: run it (`SearchPipeline.run_many`, reranker included) and measure its top k.

    Args:
        pipe: a `SearchPipeline` (the corpus with the group column(s), and the model).
        queries: the job descriptions: a `Corpus` (its labels give the relevant selection rate) or texts.
        group_columns: one corpus column, or two (`a,b`) for their intersections.
        pipelines: retriever specs or `Pipeline`s (spec + reranker).
        k: the top k that counts as selected.
        expected: groups that must have members (`--groups`).
        query_labels: the queries' labels when `queries` are texts (None: no relevant selection rate).

    Raises:
        ClusterankError: a missing group column, an expected group with no members, a bad spec.
    """
    from clusterank.evaluate.evaluator import Pipeline

    corpus = pipe.corpus
    values = group_values(corpus.frame, group_columns, corpus.source)
    column = group_columns if isinstance(group_columns, str) else ",".join(group_columns)
    check_groups(values, expected, f"{corpus.source} ({column})")
    texts = list(getattr(queries, "texts", queries))
    labels = getattr(queries, "labels", None) if query_labels is None else query_labels
    qv = pipe.embed_queries(texts)
    scores = qv @ pipe.vectors.T
    relevant = relevance_mask(corpus.labels, labels)
    audit = Audit(column.replace(",", " × "), k, len(corpus), len(texts))
    for item in pipelines:
        p = Pipeline(item) if isinstance(item, str) else item
        found = pipe.run_many(texts, k, vectors=qv if p.reranker is None else None, retriever=p.retriever,
                              reranker=p.reranker, rerank_top=p.rerank_top)
        audit.pipelines.append(audit_arrays(pipe.embedder.name, p.name, found.rows, scores, values, k, relevant,
                                            min_share=min_share, n_boot=n_boot, seed=seed))
    return audit


def audit_scored(pipe, texts: Sequence[str], labels: Sequence[str] | None, group_columns: str | Sequence[str],
                 scored: Mapping[str, object], k: int = 30) -> Audit:
    """`compare`'s audit of one model: the rows each pipeline was scored with (`PipelineRun.rows`, tuned pipelines'
    cross-validated ones), not a second search."""
    corpus = pipe.corpus
    values = group_values(corpus.frame, group_columns, corpus.source)
    scores = pipe.embed_queries(list(texts)) @ pipe.vectors.T
    relevant = relevance_mask(corpus.labels, labels)
    column = group_columns if isinstance(group_columns, str) else ",".join(group_columns)
    audit = Audit(column.replace(",", " × "), k, len(corpus), len(texts))
    for name, run in scored.items():
        audit.pipelines.append(audit_arrays(pipe.embedder.name, name, run.rows, scores, values, k, relevant))
    return audit
