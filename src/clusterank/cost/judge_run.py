"""What `clusterank cost --judge` does, as one call: count the grade prompt's tokens per judge tokenizer on real
prompts, time the bundled local judge on this machine (cached), and price the workload (`cost.judging`).

The prompts are the grader's own (`rerank.grade.GRADE_PROMPT`, version `PROMPT_VERSION`, advert and profile each cut
to the grader's `max_chars`) over pairs of the user's queries and profiles, or the bundled ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from clusterank.cost.judging import (DEFAULT_OVERLAP, JudgeEstimate, JudgePlan, JudgeRate, Workload, judge_api_estimate,
                                     judge_gpu_estimate, judge_machine_estimate, pairs_per_query)
from clusterank.cost.machine import _load_cache, _save_cache, machine_description
from clusterank.cost.throughput import check_count
from clusterank.errors import ClusterankError
from clusterank.prices import PriceTable, load_prices
from clusterank.rerank.grade import ADVERT, GRADE_PROMPT, PROFILE, PROMPT_VERSION, Grader
from clusterank.rerank.local_llm import LOCAL_MODEL
from clusterank.workspace import Workspace

log = logging.getLogger(__name__)

PROMPT_SAMPLE = 200
"""Pairs whose prompts are counted: queries in turn, each with a profile drawn at random (seed 0)."""
MEASURE_GRADES = 4
"""Grades timed on this machine for the local judge (after one warm-up): each takes seconds on a CPU."""
BUNDLED_CHAT_OVERHEAD = 29.0
"""Tokens the bundled judge's chat template adds to one user message (its default system message, turn markers);
used only where its tokenizer cannot be loaded and cl100k_base stands in."""
MAX_CHARS = next(f.default for f in dataclasses.fields(Grader) if f.name == "max_chars")
"""The grader's cut of each text (characters), read from `Grader` so the prompts counted are the ones sent."""


def grade_prompt(query: str, profile: str, max_chars: int = MAX_CHARS) -> str:
    """The grader's prompt for one (advert, profile) pair, exactly as `Grader.prompt` builds it."""
    return GRADE_PROMPT.format(first=ADVERT.format(query=query[:max_chars]),
                               second=PROFILE.format(profile=profile[:max_chars]))


def sample_pairs(queries: Sequence[str], profiles: Sequence[str], n: int = PROMPT_SAMPLE) -> list[tuple[str, str]]:
    """`n` (advert, profile) pairs: the queries in turn, each with a profile drawn at random (fixed seed).

    Raises:
        ClusterankError: no queries or no profiles.
    """
    queries = [q for q in queries if isinstance(q, str) and q.strip()]
    profiles = [p for p in profiles if isinstance(p, str) and p.strip()]
    if not queries or not profiles:
        raise ClusterankError("no query or profile texts to build judge prompts from")
    picks = np.random.default_rng(0).integers(0, len(profiles), n)
    return [(queries[i % len(queries)], profiles[int(p)]) for i, p in enumerate(picks)]


def _bundled_counter(workspace: Workspace | None):
    """Token count of one user message under the bundled judge's tokenizer and chat template (as its server sends)."""
    try:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    except ImportError:
        raise ClusterankError("counting the bundled judge's tokens needs llama-cpp-python") from None
    from clusterank.rerank.local_llm import bundled_gguf

    path = str(bundled_gguf(workspace))
    try:  # llama.cpp writes a context warning to the C stderr even with verbose=False
        from llama_cpp._utils import suppress_stdout_stderr

        quiet = suppress_stdout_stderr(disable=False)
    except ImportError:
        from contextlib import nullcontext

        quiet = nullcontext()
    with quiet:
        llm = Llama(model_path=path, vocab_only=True, verbose=False)
    token_text = lambda t: llm.detokenize([t], special=True).decode("utf-8", "ignore")  # noqa: E731
    fmt = Jinja2ChatFormatter(template=llm.metadata["tokenizer.chat_template"], eos_token=token_text(llm.token_eos()),
                              bos_token=token_text(llm.token_bos()))
    return lambda text: len(llm.tokenize(fmt(messages=[{"role": "user", "content": text}]).prompt.encode("utf-8"),
                                         add_bos=False, special=True))


def prompt_tokens(tokenizer: str, prompts: Sequence[str], chat_overhead: float = 0.0,
                  workspace: Workspace | None = None) -> tuple[float, str, bool]:
    """Mean prompt tokens per grade under a judge tokenizer: (mean, tokenizer shown, exact).

    Args:
        tokenizer: "o200k_base", "cl100k_base" (plus `chat_overhead` tokens of chat format) or "bundled" (the bundled
            judge's GGUF tokenizer with its chat template applied; where llama-cpp-python or the weights are missing,
            cl100k_base + `chat_overhead` stands in and exact is False).
        prompts: the grade prompts.

    Raises:
        ClusterankError: no prompts, an unknown tokenizer, or bpe-openai missing.
    """
    from clusterank.cost.tokens import count_encoding

    if not prompts:
        raise ClusterankError("no prompts to count")
    if tokenizer == "bundled":
        try:
            count = _bundled_counter(workspace)
            return float(np.mean([count(p) for p in prompts])), f"{LOCAL_MODEL} (GGUF, chat template)", True
        except ClusterankError as e:
            log.warning("%s; cl100k_base stands in", e)
            return (float(count_encoding("cl100k_base", prompts).mean()) + chat_overhead,
                    f"cl100k_base (stand-in for {LOCAL_MODEL})", False)
    return float(count_encoding(tokenizer, prompts).mean()) + chat_overhead, tokenizer, True


def _key(judge: str) -> str:
    return f"judge:{judge}"


def cached_judge_rate(judge: str, workspace: Workspace | None = None) -> JudgeRate | None:
    """The judgments/s recorded for `judge` on this machine (by `cost --judge` or a judged compare), or None."""
    entry = _load_cache(workspace or Workspace.default()).get(_key(judge))
    if not entry or entry.get("machine") != machine_description():
        return None
    try:
        return JudgeRate(**entry)
    except TypeError:
        return None


def record_judge_rate(rate: JudgeRate, workspace: Workspace | None = None) -> None:
    """Keep a judge's judgments/s on this machine in the workspace's throughput cache (`throughput.json`)."""
    workspace = workspace or Workspace.default()
    cache = _load_cache(workspace)
    cache[_key(rate.judge)] = dataclasses.asdict(rate)
    _save_cache(workspace, cache)


def measure_local_judge(pairs: Sequence[tuple[str, str]], *, workspace: Workspace | None = None,
                        grades: int = MEASURE_GRADES, remeasure: bool = False, progress: bool = False) -> JudgeRate:
    """Judgments/s of the bundled judge on this machine: `grades` real grades (after one warm-up) of `pairs` through
    its loopback server, bypassing the grade cache; recorded in the workspace and reused unless `remeasure`.

    Raises:
        ClusterankError: llama-cpp-python or the weights missing, or the server failing to start or answer.
    """
    from clusterank.rerank.llm import ChatClient
    from clusterank.rerank.local_llm import LocalLLMServer

    workspace = workspace or Workspace.default()
    cached = None if remeasure else cached_judge_rate(LOCAL_MODEL, workspace)
    if cached is not None:
        return cached
    if progress:
        log.info("timing the local judge %s on %d grades on this machine ...", LOCAL_MODEL, grades)
    with tempfile.TemporaryDirectory() as tmp, LocalLLMServer(workspace=workspace) as server:
        grader = Grader(ChatClient(server.base_url, server.model, timeout=300.0), Path(tmp) / "grades.sqlite")
        try:
            grader.grade_many(list(pairs[:1]))  # warm-up: the first evaluation pays for loading
            calls, seconds, tokens = grader.stats.calls, grader.seconds, grader.stats.prompt_tokens
            grader.grade_many(list(pairs[1:1 + grades]))
            calls, seconds = grader.stats.calls - calls, grader.seconds - seconds
            tokens = grader.stats.prompt_tokens - tokens
        finally:
            grader.close()
    rate = JudgeRate(LOCAL_MODEL, calls / seconds, tokens / calls, calls, dt.date.today().isoformat(),
                     machine_description())
    record_judge_rate(rate, workspace)
    return rate


def _spec_model(name: str) -> str:
    """`llm:<model>@<url>` -> model; anything else as given."""
    return name[4:].partition("@")[0].strip() if name.lower().startswith("llm:") else name


def select_judges(table: PriceTable, judges: Iterable[str]) -> tuple[list[str], list[str], bool]:
    """(API judge ids, GPU option keys, this machine's local judge) that `judges` names.

    Each name is `all`, `local` (the bundled judge: this machine and the GPU options serving it), an API judge in
    the table (`gpt-4o-mini`, or `llm:gpt-4o-mini@<url>`), a GPU option's key or label, or a model a GPU option
    serves.

    Raises:
        ClusterankError: no names, or a name nothing in the table prices.
    """
    names = [n.strip() for n in judges if n and n.strip()]
    if not names:
        raise ClusterankError("--judge is empty: name judges, e.g. gpt-4o-mini,local (or all)")
    apis: dict[str, None] = {}
    gpus: dict[str, None] = {}
    machine = False
    for name in names:
        model = _spec_model(name)
        if model.lower() == "all":
            apis.update(dict.fromkeys(table.judges))
            gpus.update(dict.fromkeys(table.judge_gpus))
            machine = True
            continue
        if model.lower() in ("local", LOCAL_MODEL):
            machine = True
            model = "local"
        hits = [k for k, g in table.judge_gpus.items() if model in (k, g.label, *g.models)]
        if model in table.judges:
            apis[model] = None
        elif not hits and model != "local":
            known = sorted({*table.judges, *table.judge_gpus, *(m for g in table.judge_gpus.values() for m in g.models)})
            raise ClusterankError(f"--judge {name}: no price for {model}; known: {', '.join(known)} (add one with "
                                  f"--prices, a [judge.<model>] or [judge-gpu.<key>] entry)")
        gpus.update(dict.fromkeys(hits))
    return list(apis), list(gpus), machine


def run_judge_cost(judges: Iterable[str], *, queries: int | None = None, query_texts: Sequence[str] | None = None,
                   profile_texts: Sequence[str] | None = None, corpus_size: int | None = None, systems: int = 5,
                   pool_depth: int = 10, overlap: float = DEFAULT_OVERLAP, pairs_per_query_: float | None = None,
                   concurrency: int = 4, price_files: Iterable[str | Path] = (), settings: Iterable[str] = (),
                   batch: bool = True, machine: bool = True, remeasure: bool = False, texts_name: str = "",
                   workspace: Workspace | None = None, progress: bool = False) -> JudgePlan:
    """Price grading a judged comparison's pooled pairs with each named judge.

    Args:
        judges: judge names (see `select_judges`).
        queries: how many queries (default: the number of `query_texts`, else the bundled set's).
        query_texts, profile_texts: the user's adverts and profiles, whose prompts are counted (default: bundled).
        corpus_size: caps the pool per query (the profiles there are).
        systems, pool_depth, overlap: the pool-size assumption (`pairs_per_query`).
        pairs_per_query_: a measured figure instead (a judged report's graded pairs / queries).
        concurrency: API requests in flight.
        price_files, settings: the user's price files and `--set` overrides.
        batch: add each API's discounted batch option.
        machine: add this machine's row for the local judge (timed here once, cached in the workspace).
        remeasure: time the local judge here again.

    Raises:
        ClusterankError: a judge nothing prices, a non-positive count, an overlap outside [0, 1], a bad price file
            or setting, or the local judge failing to run when it has to be timed.
    """
    from clusterank.data.loaders import bundled_profiles, bundled_queries

    table = load_prices(price_files, settings)
    apis, gpus, local = select_judges(table, judges)
    if query_texts is None:
        query_texts = bundled_queries().texts
    n_queries = len(query_texts) if queries is None else queries
    check_count(n_queries, "--queries")
    if pairs_per_query_ is not None:
        check_count(pairs_per_query_, "--pairs-per-query")
        workload = Workload(int(n_queries), float(pairs_per_query_), "pairs per query as measured, given")
    else:
        per = pairs_per_query(systems, pool_depth, overlap, corpus_size)
        workload = Workload(int(n_queries), per, f"assumed: the union of {systems} model x pipeline top-{pool_depth} "
                            f"lists, overlap {overlap:g}: {pool_depth} + {systems - 1} x {pool_depth} x "
                            f"(1 - {overlap:g})" + (f", at most the {corpus_size:,} profiles" if corpus_size else ""))
    profiles = profile_texts if profile_texts is not None else bundled_profiles().texts
    pairs = sample_pairs(query_texts, profiles)
    prompts = [grade_prompt(q, p) for q, p in pairs]
    counted: dict[tuple[str, float], tuple[float, str, bool]] = {}
    users: dict[tuple[str, float], list[str]] = {}

    def tokens(tokenizer: str, overhead: float, user: str, own: bool) -> tuple[float, str]:
        """Mean prompt tokens under `tokenizer` (counted once), noting which option it counts for and whether it is
        that judge's own tokenizer or a stand-in."""
        if (tokenizer, overhead) not in counted:
            counted[tokenizer, overhead] = prompt_tokens(tokenizer, prompts, overhead, workspace)
        mean, shown, exact = counted[tokenizer, overhead]
        users.setdefault((tokenizer, overhead), []).append(user + ("" if own and exact else " (stand-in)"))
        return mean, shown

    estimates: list[JudgeEstimate] = []
    for model in apis:
        api = table.judges[model]
        mean, _ = tokens(api.tokenizer, api.chat_overhead, model, api.provider == "OpenAI")
        estimates.append(judge_api_estimate(api, workload.pairs, mean, concurrency=concurrency))
        if batch and api.batch_discount > 0:
            estimates.append(judge_api_estimate(api, workload.pairs, mean, concurrency=concurrency, batch=True))
    for key in gpus:
        gpu = table.judge_gpus[key]
        mean, shown = tokens(gpu.tokenizer, gpu.chat_overhead, gpu.label, gpu.tokenizer == "bundled")
        estimates.append(judge_gpu_estimate(gpu, workload.pairs, mean, shown))
    notes = []
    if local and machine:
        try:
            rate = measure_local_judge(pairs, workspace=workspace, remeasure=remeasure, progress=progress)
            mean, shown = tokens("bundled", BUNDLED_CHAT_OVERHEAD, "this machine", True)
            estimates.append(judge_machine_estimate(table.machine, rate, workload.pairs, mean, shown))
        except ClusterankError as e:
            notes.append(f"no row for the local judge on this machine: {e}")
    if not estimates:
        raise ClusterankError("no judging option left to price (check --judge, or drop --no-machine)")
    source = (f"the grade prompt {PROMPT_VERSION} (advert and profile each cut to {MAX_CHARS} characters) counted on "
              f"{len(prompts)} pairs of {texts_name or 'the bundled adverts and profiles'}, chat format included, "
              f"+ at most 3 completion tokens")
    return JudgePlan(workload, estimates, source, [(shown, mean, ", ".join(users[key]))
                                                   for key, (mean, shown, _) in counted.items()], notes)
