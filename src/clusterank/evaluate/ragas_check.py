"""RAGAS as a second opinion beside the judged nDCG: ragas' reference-free context precision over the same ranked
lists, through the same judge endpoint.

The metric is ragas' `ContextPrecisionWithoutReference` (ragas 0.4 `metrics.collections`, its LLM made by
`llm_factory` over an `openai.AsyncOpenAI` client pointed at the judge's base URL: the bundled model's loopback
server or the user's `llm:<model>@<base_url>`). It asks, for each retrieved context, whether it "was useful in
arriving at the given answer" (verdict 0/1, JSON) and scores a list by average precision over its verdicts.

What goes in, for a search that returns a ranked list and generates no answer:
- user_input: the job advert (the query);
- retrieved_contexts: the top `depth` profiles of one model x pipeline's list, best first;
- response: `RESPONSE`, one fixed sentence stating what the search is for (the candidates whose profiles fit the
  advert). ragas has no reference-free *context precision* without a response; its response-free metric
  (`ContextRelevance`) rates the contexts as a whole, not rank by rank, so it could not sit beside nDCG@10.

Each distinct (advert, profile) pair is one ragas call with that single context (the metric then scores 1.0 or 0.0,
which is the verdict), made once per run and shared by the systems that ranked the pair; a list's score is ragas'
average precision over its `depth` verdicts (`average_precision`, the formula of `ContextPrecisionWithoutReference`),
and only lists whose verdicts all parsed are scored. A verdict that does not parse (bad JSON, a cut-off answer, a
verdict other than 0/1: a 0.5B judge does this) is counted, not guessed; a judge that does not answer is an error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from clusterank.errors import ClusterankError, public_url, require
from clusterank.evaluate.compare import Comparison
from clusterank.evaluate.stats import Estimate, bootstrap_ci

RESPONSE = "The candidates whose profiles show they fit this job advert."
"""The `response` given to ragas for every query: what a job search is meant to arrive at (see the module doc)."""
MAX_DEPTH = 10
log = logging.getLogger("clusterank.compare")
_WHAT = "--ragas (ragas' context precision)"


@dataclass
class RagasCheck:
    """Ragas' context precision per model x pipeline beside its judged nDCG@10, with what the check cost."""

    depth: int
    judge: str
    precision: dict[str, Estimate | None]
    """System (`model / pipeline`) -> mean context precision over its scored lists with a bootstrap interval."""
    ndcg: dict[str, Estimate]
    """System -> judged nDCG@10 over the same queries as its context precision."""
    scored: dict[str, int]
    """System -> lists (queries) whose verdicts all parsed."""
    n_queries: int = 0
    parsed: int = 0
    failed: int = 0
    failures: Counter = field(default_factory=Counter)
    """Why verdicts failed (the exception's class name, or `verdict outside 0/1`) -> count."""
    calls: int = 0
    """HTTP requests sent to the judge (retries included)."""
    tokens: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """Report notes: what was run, parsed vs failed verdicts and cost, then one line per system side by side."""
        pairs = self.parsed + self.failed
        out = [f"RAGAS second opinion: ragas' context precision without reference (ContextPrecisionWithoutReference, "
               f"verdict 0/1 per profile, average precision over the list) on the top {self.depth} of each list for "
               f"{self.n_queries} queries, judge {self.judge}, the advert as user_input and the fixed response "
               f"{RESPONSE!r}. {self.parsed:,} of {pairs:,} verdicts parsed, {self.failed:,} failed"
               + (f" ({', '.join(f'{k} {v}' for k, v in self.failures.most_common())})" if self.failed else "")
               + f"; {self.calls:,} judge calls, {self.tokens:,} tokens, {self.seconds:.0f} s."]
        for name, est in self.precision.items():
            if est is None:
                out.append(f"RAGAS {name}: no list had all {self.depth} verdicts parsed; no context precision.")
            else:
                out.append(f"RAGAS {name}: context precision@{self.depth} {est} over {self.scored[name]} fully parsed "
                           f"lists; judged nDCG@10 on the same queries {self.ndcg[name]}.")
        return out


def average_precision(verdicts: Sequence[int]) -> float:
    """Ragas' context precision of one list from its 0/1 verdicts, best rank first (0.0 when none is useful)."""
    v = np.asarray(verdicts, dtype=float)
    hits = np.cumsum(v) / np.arange(1, len(v) + 1)
    return float((hits * v).sum() / (v.sum() + 1e-10))


def check_ragas() -> None:
    """Fail in one line, before anything is embedded or judged, when ragas or its OpenAI client is missing."""
    require("openai", "ragas", _WHAT)
    require("ragas.metrics.collections", "ragas", _WHAT)


def ragas_context_precision(cmp: Comparison, queries: Sequence[str], profiles: Sequence[str], base_url: str,
                            model: str, *, judge: str | None = None, depth: int = 3, concurrency: int = 1,
                            timeout: float = 120.0, api_key_env: str = "OPENAI_API_KEY") -> RagasCheck:
    """Score the top `depth` of every model x pipeline list in `cmp` with ragas' context precision via the judge.

    Args:
        cmp: a (judged) comparison; its per-query `nDCG@10` is shown beside the ragas score.
        queries: the advert text of each query of `cmp`, in its order.
        profiles: the corpus texts (`rows` index them).
        base_url, model: the judge's OpenAI-compatible endpoint and model name.
        depth: how many top profiles of each list get a verdict (1 to 10); calls = distinct (query, profile) pairs.
        concurrency: requests in flight (1 for the bundled model, which answers one at a time).
        timeout: seconds per request.

    Raises:
        ClusterankError: ragas missing (naming the extra), a depth out of range, or a judge that does not answer.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ClusterankError(f"--ragas-depth {depth}: give a whole number from 1 to {MAX_DEPTH}")
    if len(queries) != len(cmp.query_ids):
        raise ClusterankError(f"ragas: {len(queries)} advert texts for the comparison's {len(cmp.query_ids)} queries")
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas posts usage events otherwise; nothing leaves here
    check_ragas()
    systems = {f"{run.model} / {name}": p for run in cmp.runs for name, p in run.pipelines.items()}
    lists = {name: [[int(r) for r in p.rows[q, :depth] if r >= 0] for q in range(len(queries))]
             for name, p in systems.items()}
    pairs = sorted({(q, r) for rows in lists.values() for q, row in enumerate(rows) for r in row})
    check = RagasCheck(depth, judge or model, {}, {}, {}, n_queries=len(queries))
    started = time.perf_counter()
    log.info("ragas: %d verdicts (distinct advert-profile pairs in the top %d of %d lists) from %s", len(pairs), depth,
             len(systems) * len(queries), judge or model)
    verdicts = asyncio.run(_verdicts([(queries[q], profiles[r]) for q, r in pairs], base_url, model, concurrency,
                                     timeout, api_key_env, check))
    check.seconds = time.perf_counter() - started
    by_pair = dict(zip(pairs, verdicts))
    for name, rows in lists.items():
        scores = [(q, average_precision([by_pair[(q, r)] for r in row])) for q, row in enumerate(rows)
                  if row and all(by_pair[(q, r)] is not None for r in row)]
        check.scored[name] = len(scores)
        check.precision[name] = bootstrap_ci([s for _, s in scores]) if scores else None
        if scores:
            check.ndcg[name] = bootstrap_ci(systems[name].per_query["nDCG@10"][[q for q, _ in scores]])
    return check


async def _verdicts(pairs: list[tuple[str, str]], base_url: str, model: str, concurrency: int, timeout: float,
                    api_key_env: str, check: RagasCheck) -> list[int | None]:
    """One ragas verdict per (advert, profile): 1, 0, or None where it did not parse (counted in `check`)."""
    import httpx
    import openai
    from ragas.llms.base import llm_factory
    from ragas.metrics.collections import ContextPrecisionWithoutReference

    async def on_request(request):
        check.calls += 1

    async def on_response(response):
        if response.status_code == 200:
            await response.aread()
            try:
                check.tokens += int(response.json().get("usage", {}).get("total_tokens") or 0)
            except ValueError:
                pass

    http = httpx.AsyncClient(timeout=timeout, event_hooks={"request": [on_request], "response": [on_response]})
    client = openai.AsyncOpenAI(base_url=base_url, api_key=os.environ.get(api_key_env) or "none", http_client=http,
                                max_retries=2, timeout=timeout)
    # max_retries=0: a verdict that does not parse is one failed call, not up to four (instructor's default)
    metric = ContextPrecisionWithoutReference(llm=llm_factory(model, client=client, max_tokens=200, max_retries=0))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(advert: str, profile: str) -> int | None:
        async with gate:
            try:
                value = (await metric.ascore(user_input=advert, response=RESPONSE, retrieved_contexts=[profile])).value
            except Exception as exc:  # noqa: BLE001 - sorted below: the judge not answering is fatal, a bad verdict counted
                cause = _api_error(exc, openai.APIError)
                if cause is not None:
                    raise ClusterankError(f"{_WHAT}: the judge {model} at {public_url(base_url)} did not answer: "
                                          f"{type(cause).__name__}: {' '.join(str(cause).split())[:300]}") from None
                if not isinstance(exc, (ValueError, ArithmeticError)) and "instructor" not in type(exc).__module__:
                    raise
                check.failed += 1
                check.failures[type(exc).__name__] += 1
                return None
        verdict = round(float(value)) if value is not None and np.isfinite(value) else None
        if verdict not in (0, 1):
            check.failed += 1
            check.failures["verdict outside 0/1"] += 1
            return None
        check.parsed += 1
        return verdict

    def logged(task: asyncio.Task) -> None:
        done = check.parsed + check.failed
        if done % max(1, len(pairs) // 10) == 0:
            log.info("ragas: %d of %d verdicts (%d failed)", done, len(pairs), check.failed)

    quiet = logging.getLogger("instructor")  # it logs each unparsed answer as an ERROR; they are counted instead
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        tasks = [asyncio.ensure_future(one(a, p)) for a, p in pairs]
        for task in tasks:
            task.add_done_callback(logged)
        return list(await asyncio.gather(*tasks))
    finally:
        quiet.setLevel(level)
        await http.aclose()


def _api_error(exc: BaseException, kind: type) -> BaseException | None:
    """The first exception of `kind` in `exc`'s cause/context chain (instructor wraps what the client raised)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
