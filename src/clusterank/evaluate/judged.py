"""Comparing models without labels: pool the top k of every model x pipeline per query, grade each pooled (advert,
profile) pair once with an LLM judge (`rerank.grade`, 0-3, cached), and score nDCG@10 / P@10 over the judged pools.

Where labels exist, the judge's agreement with them is measured too (Cohen's kappa on the pooled pairs, Kendall's
tau between the system rankings), and optional bias checks regrade a sample with the profile padded or placed first.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from clusterank.data.loaders import Corpus
from clusterank.errors import ClusterankError
from clusterank.evaluate.agreement import cohen_kappa, kappa_by_queries, tau_by_queries
from clusterank.evaluate.compare import Comparison, compare_models
from clusterank.evaluate.evaluator import RECALL_DEPTH, score_rows
from clusterank.evaluate.ragas_check import MAX_DEPTH, RagasCheck, check_ragas, ragas_context_precision
from clusterank.evaluate.relevance import Relevance
from clusterank.evaluate.stats import Estimate, bootstrap_ci
from clusterank.evaluate.tune import is_tuned
from clusterank.rerank.grade import Grader
from clusterank.workspace import Workspace

log = logging.getLogger("clusterank.compare")
RELEVANT = 2
"""The smallest grade that counts as relevant for P@10, MRR and kappa (nDCG uses the grades 0-3 as gains)."""


@dataclass(frozen=True)
class JudgeSpec:
    """Which judge: `local` (the bundled model on a loopback llama.cpp server) or `llm:<model>@<base_url>`."""

    model: str | None = None
    base_url: str | None = None

    @property
    def local(self) -> bool:
        """True for the bundled offline model."""
        return self.base_url is None


def parse_judge(text: str) -> JudgeSpec:
    """`local` or `llm:<model>@<base_url>` (any OpenAI-compatible chat endpoint; the key from OPENAI_API_KEY).

    Raises:
        ClusterankError: another form, or a base URL that is not http(s) with a host.
    """
    from clusterank.errors import check_base_url

    text = (text or "").strip()
    if text.lower() == "local":
        return JudgeSpec()
    model, at, url = text[4:].partition("@") if text.lower().startswith("llm:") else ("", "", "")
    if not (model.strip() and at and url.strip()):
        raise ClusterankError(f"--judge {text!r}: give local (the bundled offline model) or llm:<model>@<base_url>, "
                              f"e.g. llm:gpt-4o-mini@https://api.openai.com/v1")
    return JudgeSpec(model.strip(), check_base_url(url.strip(), "--judge"))


@contextmanager
def open_grader(judge: JudgeSpec | str, workspace: Workspace | None = None, *, concurrency: int | None = None,
                api_key_env: str = "OPENAI_API_KEY") -> Iterator[Grader]:
    """A `Grader` for the judge, its loopback server started (the local one) and everything closed after.

    Args:
        concurrency: requests in flight (default: 1 for the local model, which answers one at a time; 4 for APIs).
    """
    from clusterank.rerank.llm import ChatClient

    spec = parse_judge(judge) if isinstance(judge, str) else judge
    workspace = workspace or Workspace.default()
    cache = workspace.llm_cache_path.with_name("llm-grades.sqlite")
    server = None
    if spec.local:
        from clusterank.rerank.local_llm import LocalLLMServer

        server = LocalLLMServer(workspace=workspace)
        client = ChatClient(server.base_url, server.model, timeout=300.0)
    else:
        from urllib.parse import urlsplit

        from clusterank.httpclient import is_loopback

        # a judge on loopback is mostly a CPU server answering one request at a time: give queued requests time
        loopback = is_loopback(urlsplit(spec.base_url).hostname or "")
        client = ChatClient(spec.base_url, spec.model, api_key_env=api_key_env, timeout=300.0 if loopback else 60.0)
    grader = Grader(client, cache, concurrency=concurrency or (1 if spec.local else 4))
    try:
        yield grader
    finally:
        grader.close()
        if server is not None:
            server.stop()


@dataclass
class JudgedComparison:
    """A comparison scored against an LLM judge's grades, with what judging cost and how far to trust it."""

    comparison: Comparison
    """The same runs with every metric recomputed on the judged grades (only the fully judged queries)."""
    judge: str
    version: str
    pool_depth: int
    grades: dict[tuple[int, int], int]
    """(query index in `labelled`/the compared queries, corpus row) -> grade 0-3."""
    left_out: list[str] = field(default_factory=list)
    """Ids of the queries not fully judged within `--max-judgments` (not scored)."""
    unjudged_pairs: int = 0
    calls: int = 0
    cached: int = 0
    tokens: int = 0
    prompt_tokens: int = 0
    """Of `tokens`, those of the prompts (the rest: completions); priced apart by an API."""
    seconds: float = 0.0
    kappa: Estimate | None = None
    tau: Estimate | None = None
    n_systems: int = 0
    checks: dict[str, object] = field(default_factory=dict)
    ragas: RagasCheck | None = None
    """Ragas' context precision beside the judged nDCG (`judged_compare(..., ragas=True)`)."""
    local: bool = False
    """The judge ran on loopback (the bundled model, or one the user runs here): its time is priced as this machine."""

    @property
    def per_second(self) -> float | None:
        """Judgments per second of judge time (None when every grade came from the cache)."""
        return self.calls / self.seconds if self.calls and self.seconds > 0 else None

    def _price(self) -> str:
        """A judge on loopback priced as this machine's time, an API judge's tokens at its list price: the figures
        `clusterank cost --judge` uses."""
        from clusterank.cost.judging import judging_price

        return judging_price(self.judge, self.prompt_tokens, self.tokens - self.prompt_tokens, self.seconds, self.local)

    def lines(self) -> list[str]:
        """The report's header notes: where relevance came from, what judging cost, how far it agrees with labels."""
        cmp = self.comparison
        out = [f"Relevance is LLM-judged, not labelled: judge {self.judge}, prompt {self.version} (UMBRELA-style, "
               f"grades 0-3), over the pooled top {self.pool_depth} of {self.n_systems} model x pipeline systems for "
               f"{len(cmp.query_ids)} queries ({len(self.grades):,} graded pairs). nDCG@10 uses the grades as gains "
               f"with the ideal ranking from the judged pool; P@10 and MRR count grade >= {RELEVANT} as relevant; "
               f"rows outside every pool count as not relevant; recall and near-miss are not measured."]
        rate = f", {self.per_second:.2f} judgments/s" if self.per_second else ""
        per_pair = f" ({self.tokens / self.calls:,.0f} per pair)" if self.calls else ""
        out.append(f"Judging cost: {self.calls:,} judge calls ({self.cached:,} grades from the cache), "
                   f"{self.tokens:,} tokens{per_pair}, {self.seconds:.0f} s{rate}{self._price()}.")
        if self.left_out:
            shown = ", ".join(self.left_out[:10]) + (", ..." if len(self.left_out) > 10 else "")
            out.append(f"--max-judgments left {len(self.left_out)} queries not fully judged ({self.unjudged_pairs:,} "
                       f"pairs), and they are not scored: {shown}.")
        if self.kappa is not None:
            out.append(f"Agreement with the labels on the graded pairs (grade >= {RELEVANT} vs the same role label): "
                       f"Cohen's kappa {self.kappa} (95% bootstrap interval over queries).")
        if self.tau is not None:
            out.append(f"Ranking of the {self.n_systems} systems by judged nDCG@10 vs by labelled nDCG@10 on the same "
                       f"queries: Kendall's tau {self.tau}.")
        for line in self.checks.get("lines", []):
            out.append(line)
        return out + (self.ragas.lines() if self.ragas else [])


def pools(cmp: Comparison, depth: int) -> list[list[int]]:
    """Per compared query, the rows any model x pipeline ranked in its top `depth`, best ranks first."""
    runs = [p.rows for r in cmp.runs for p in r.pipelines.values()]
    out = []
    for q in range(len(cmp.query_ids)):
        seen: dict[int, None] = {}
        for rank in range(depth):
            for rows in runs:
                if rank < rows.shape[1] and rows[q, rank] >= 0:
                    seen.setdefault(int(rows[q, rank]), None)
        out.append(list(seen))
    return out


def check_judging(pool_depth: int, max_judgments: int | None, judge_checks: int, ragas: bool = False,
                  ragas_depth: int = 3) -> None:
    """The numbers of a judged comparison, checked before anything is embedded or judged (`judged_compare` and the
    CLI call it).

    Raises:
        ClusterankError: a pool depth outside 1-50, a budget below 1, negative bias checks; with `ragas`, the package
            missing, a depth outside 1-10 or deeper than the pool.
    """
    if isinstance(pool_depth, bool) or not isinstance(pool_depth, int) or not 1 <= pool_depth <= RECALL_DEPTH:
        raise ClusterankError(f"--pool-depth {pool_depth}: give a whole number from 1 to {RECALL_DEPTH}")
    if max_judgments is not None and max_judgments < 1:
        raise ClusterankError(f"--max-judgments {max_judgments}: give a positive number (omit it for no limit)")
    if judge_checks < 0:
        raise ClusterankError(f"--judge-checks {judge_checks}: give 0 (off) or a number of pairs")
    if ragas:
        check_ragas()
        if isinstance(ragas_depth, bool) or not isinstance(ragas_depth, int) or not 1 <= ragas_depth <= MAX_DEPTH:
            raise ClusterankError(f"--ragas-depth {ragas_depth}: give a whole number from 1 to {MAX_DEPTH}")
        if ragas_depth > pool_depth:
            raise ClusterankError(f"--ragas-depth {ragas_depth} is deeper than --pool-depth {pool_depth}: ragas "
                                  f"scores the judged pools, so give at most {pool_depth}")


def judged_compare(models: Sequence[str], corpus: Corpus, queries: Corpus, judge: JudgeSpec | str | Grader, *,
                   pool_depth: int = 10, max_judgments: int | None = None, judge_checks: int = 0,
                   concurrency: int | None = None, workspace: Workspace | None = None, ragas: bool = False,
                   ragas_depth: int = 3, **compare: object) -> JudgedComparison:
    """Compare models on LLM-judged relevance (`compare_models` underneath; the same report machinery).

    Args:
        models, corpus, queries: as for `compare_models`; the queries need no labels.
        judge: `local`, `llm:<model>@<base_url>`, or a ready `Grader` (kept open).
        pool_depth: how deep each model x pipeline's list is pooled and graded.
        max_judgments: at most this many judge calls (cached grades are free); queries are judged whole, in order,
            and those that do not fit are left out of the scores (a warning names them).
        judge_checks: regrade this many pooled pairs with the profile padded and with the profile first (bias).
        concurrency: judge requests in flight (see `open_grader`).
        ragas: also score the top `ragas_depth` of every list with ragas' reference-free context precision through
            the same judge, shown beside the judged nDCG@10 (`evaluate.ragas_check`; the `ragas` extra).
        **compare: passed to `compare_models` (pipelines, n_clusters, with_maps, ...).

    Raises:
        ClusterankError: a bad judge spec, depth or budget; a tuned pipeline without labels; a judge that does not
            answer or answers without a grade 0-3; a prompt edited under its version; no query fits the budget.
    """
    check_judging(pool_depth, max_judgments, judge_checks, ragas, ragas_depth)
    spec = judge if isinstance(judge, (JudgeSpec, Grader)) else parse_judge(judge)  # a bad spec fails before embedding
    labelled = corpus.labels is not None and (queries.labels is not None or compare.get("relevant_ids") is not None)
    if not labelled:
        for p in compare.get("pipelines") or ():
            name = p if isinstance(p, str) else p.retriever
            if is_tuned(name):
                raise ClusterankError(f"pipeline {name!r} tunes alpha on labels; without labels give a fixed one "
                                      f"(e.g. {name.split(':')[0]}:alpha=0.5)")
        compare["relevance"] = Relevance([{} for _ in queries.texts], len(corpus))
    cmp = compare_models(models, corpus, queries, workspace=workspace, **compare)
    by_id = {qid: i for i, qid in reversed(list(enumerate(queries.ids)))}
    texts = [queries.texts[by_id[qid]] for qid in cmp.query_ids]
    with nullcontext(spec) if isinstance(spec, Grader) else open_grader(spec, workspace, concurrency=concurrency) \
            as grader:
        result = _recorded(_judge(cmp, corpus, texts, grader, pool_depth, max_judgments, judge_checks, labelled),
                           workspace)
        if ragas:
            _second_opinion(result, grader, [texts[q] for q in sorted({q for q, _ in result.grades})], corpus,
                            ragas_depth)
        return result


def _second_opinion(result: JudgedComparison, grader: Grader, texts: list[str], corpus: Corpus, depth: int) -> None:
    """Ragas' context precision over the judged lists through the grader's endpoint, its lines after the judge's."""
    client = grader.client
    result.ragas = ragas_context_precision(result.comparison, texts, corpus.texts, client.base_url, client.model,
                                           judge=grader.judge, depth=depth, concurrency=4 if client.remote else 1,
                                           timeout=120.0 if client.remote else 900.0)
    notes = result.comparison.notes
    at = len(result.lines()) - len(result.ragas.lines())
    result.comparison.notes = notes[:at] + result.ragas.lines() + notes[at:]


def _recorded(result: JudgedComparison, workspace: Workspace | None) -> JudgedComparison:
    """Keep a judge's judgments/s on this machine (loopback) for `clusterank cost --judge`'s row of it."""
    if result.local and result.calls >= 2 and result.seconds > 0:
        from clusterank.cost.judge_run import JudgeRate, record_judge_rate
        from clusterank.cost.machine import machine_description

        record_judge_rate(JudgeRate(result.judge, result.calls / result.seconds, result.prompt_tokens / result.calls,
                                    result.calls, time.strftime("%Y-%m-%d"), machine_description(),
                                    "measured in a judged compare"), workspace)
    return result


def _judge(cmp: Comparison, corpus: Corpus, texts: list[str], grader: Grader, depth: int, budget: int | None,
           checks: int, labelled: bool) -> JudgedComparison:
    pooled = pools(cmp, depth)
    calls0, cached0, seconds0 = grader.stats.calls, grader.stats.cached, grader.seconds
    tokens0, prompt0 = grader.stats.prompt_tokens + grader.stats.completion_tokens, grader.stats.prompt_tokens
    grades: dict[tuple[int, int], int] = {}
    judged, left_out, unjudged, spent = [], [], 0, 0
    total = sum(len(p) for p in pooled)
    log.info("judging %d pooled pairs of %d queries with %s (prompt %s)", total, len(pooled), grader.judge,
             grader.version)
    started = time.perf_counter()
    for q, rows in enumerate(pooled):
        pairs = [(texts[q], corpus.texts[r]) for r in rows]
        missing = sum(grader.lookup(*pair) is None for pair in pairs)
        if budget is not None and spent + missing > budget:
            left_out.append(cmp.query_ids[q])
            unjudged += missing
            continue
        found = grader.grade_many(pairs)
        spent += missing
        grades.update({(q, r): g.grade for r, g in zip(rows, found)})
        judged.append(q)
        if missing and (q + 1) % max(1, len(pooled) // 10) == 0:
            rate = spent / max(time.perf_counter() - started, 1e-9)
            log.info("judged %d of %d queries (%d calls, %.2f/s)", q + 1, len(pooled), spent, rate)
    if not judged:
        raise ClusterankError(f"--max-judgments {budget} is smaller than the first query's pool ({len(pooled[0])} "
                              f"pairs at --pool-depth {depth}); raise it or lower --pool-depth")
    if left_out:
        log.warning("--max-judgments %s: %d of %d queries are not fully judged (%d pairs left) and are not scored: "
                    "%s", budget, len(left_out), len(pooled), unjudged, ", ".join(left_out[:10]))
    result = JudgedComparison(_rescored(cmp, judged, grades, corpus), grader.judge, grader.version, depth, grades,
                              left_out, unjudged, n_systems=sum(len(r.pipelines) for r in cmp.runs))
    if labelled:
        _agreement(result, cmp, judged, pooled, corpus)
    if checks:
        result.checks = bias_checks(grader, [(texts[q], corpus.texts[r]) for (q, r) in grades], grades, checks)
    result.calls, result.cached = grader.stats.calls - calls0, grader.stats.cached - cached0
    result.tokens = grader.stats.prompt_tokens + grader.stats.completion_tokens - tokens0
    result.prompt_tokens = grader.stats.prompt_tokens - prompt0
    result.seconds = grader.seconds - seconds0
    result.local = not grader.client.remote
    result.comparison.notes = result.lines() + list(result.comparison.notes)
    return result


def _rescored(cmp: Comparison, judged: list[int], grades: dict[tuple[int, int], int], corpus: Corpus) -> Comparison:
    """The comparison restricted to the judged queries, every metric scored on the grades."""
    gains = [{r: g for (q2, r), g in grades.items() if q2 == q and g > 0} for q in judged]
    rel = Relevance(gains, len(corpus))
    runs = []
    for run in cmp.runs:
        scored = {}
        for name, p in run.pipelines.items():
            rows = p.rows[judged]
            per_query = score_rows(rows, rel, None, None, 10)
            per_query = {m: (np.full(len(judged), np.nan) if m.startswith("recall@") and m != "recall@10 vs exact"
                             else v) for m, v in per_query.items()}
            if "recall@10 vs exact" in p.per_query:
                per_query["recall@10 vs exact"] = p.per_query["recall@10 vs exact"][judged]
            scored[name] = dataclasses.replace(p, per_query=per_query, rows=rows, near_miss=None)
        runs.append(dataclasses.replace(run, pipelines=scored, confusion=None, holdout=[]))
    pick = lambda xs: [xs[q] for q in judged] if xs else list(xs)  # noqa: E731
    return dataclasses.replace(cmp, runs=runs, query_ids=pick(cmp.query_ids), query_labels=pick(cmp.query_labels),
                               query_langs=pick(cmp.query_langs), notes=list(cmp.notes))


def _agreement(result: JudgedComparison, labelled: Comparison, judged: list[int], pooled: list[list[int]],
               corpus: Corpus) -> None:
    """Kappa of the judge's verdicts against the role labels, tau of the system rankings (judged vs labelled)."""
    by_judge = [np.array([result.grades[(q, r)] >= RELEVANT for r in pooled[q]]) for q in judged]
    by_label = [np.array([corpus.labels[r] == labelled.query_labels[q] for r in pooled[q]]) for q in judged]
    result.kappa = kappa_by_queries(by_judge, by_label)
    systems = [(run, name) for run in result.comparison.runs for name in run.pipelines]
    base = {run.model: run for run in labelled.runs}
    judged_ndcg = np.array([run.pipelines[name].per_query["nDCG@10"] for run, name in systems])
    label_ndcg = np.array([base[run.model].pipelines[name].per_query["nDCG@10"][judged] for run, name in systems])
    if len(systems) >= 3:
        result.tau = tau_by_queries(judged_ndcg, label_ndcg)


def bias_checks(grader: Grader, pairs: list[tuple[str, str]], grades: dict[tuple[int, int], int],
                n: int) -> dict[str, object]:
    """Regrade `n` pooled pairs (evenly spread) with neutral filler added to the profile and with the profile before
    the advert: the mean grade change from padding and the agreement when swapped, each with a bootstrap interval."""
    plain_all = list(grades.values())
    picks = np.unique(np.linspace(0, len(pairs) - 1, min(n, len(pairs))).astype(int))
    sample = [pairs[i] for i in picks]
    plain = np.array([plain_all[i] for i in picks], dtype=float)
    padded = np.array([g.grade for g in grader.grade_many(sample, variant="padded")], dtype=float)
    swapped = np.array([g.grade for g in grader.grade_many(sample, variant="swapped")], dtype=float)
    change = bootstrap_ci(padded - plain)
    same = bootstrap_ci((swapped == plain).astype(float))
    kappa = cohen_kappa(plain >= RELEVANT, swapped >= RELEVANT)
    lines = [f"Bias checks on {len(sample)} pooled pairs: padding the profile with neutral filler changes the grade "
             f"by {change.mean:+.2f} [{change.low:+.2f}, {change.high:+.2f}] on average (0: no length bias); with "
             f"the profile before the advert the grade stays the same for {same.mean:.0%} [{same.low:.0%}, "
             f"{same.high:.0%}] of pairs (kappa on grade >= {RELEVANT}: {kappa:.2f}; 100%: no position bias)."]
    return {"n": len(sample), "length_change": change, "position_same": same, "position_kappa": kappa,
            "lines": lines}
