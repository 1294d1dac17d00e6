"""What `clusterank cost` does, as one call: load the prices, time this machine, count tokens, plan.

`run_cost` is the library face of the command; the CLI only parses its options and prints the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from clusterank.cost.machine import measure_machine
from clusterank.cost.plan import DEFAULT_SIZES, DEFAULT_TOKENS_PER_TEXT, Billed, CostPlan, plan_costs
from clusterank.cost.throughput import Throughput, check_count
from clusterank.errors import ClusterankError
from clusterank.prices import load_prices
from clusterank.workspace import Workspace


def time_this_machine(models: Sequence[str] | None, texts: Sequence[str] | None = None, *,
                      tokens_per_text: float = DEFAULT_TOKENS_PER_TEXT, remeasure: bool = False,
                      workspace: Workspace | None = None, progress: bool = False) -> dict[str, Throughput]:
    """Throughput of the offline models here that `models` selects (None: all of them).

    Args:
        models: the user's selection (API ids, self-hosted options, offline models); offline ones are timed.
        texts: the user's texts, timed as they are; None times the bundled profiles joined and cut to
            `tokens_per_text` tokens under each model's tokenizer.
        tokens_per_text: the length to time at when `texts` is None.
        remeasure: ignore measurements cached in the workspace.
        workspace: where measurements are cached (default: `Workspace.default()`).
        progress: log a line per model timed.

    Returns:
        model id -> Throughput; empty when no offline model is selected.
    """
    from clusterank.embed import available_models

    from clusterank.defaults import SLOW_MODELS

    offline = [m for m in available_models() if (m not in SLOW_MODELS if models is None else m in models)]
    if not offline:
        return {}
    if texts is None:
        from clusterank.data.loaders import bundled_profiles

        return measure_machine(offline, bundled_profiles().texts, tokens_per_text=int(tokens_per_text),
                               workspace=workspace, remeasure=remeasure, progress=progress)
    return measure_machine(offline, texts, workspace=workspace, remeasure=remeasure, progress=progress)


def run_cost(sizes: Sequence[int] = DEFAULT_SIZES, *, tokens_per_text: float | None = None,
             corpus: str | Path | None = None, text_column: str = "text", texts: Sequence[str] | None = None,
             corpus_name: str = "", models: Sequence[str] | None = None,
             price_files: Iterable[str | Path] = (), settings: Iterable[str] = (), gpus: int | None = None,
             batch: bool = True, machine: bool = True, remeasure: bool = False,
             workspace: Workspace | None = None, progress: bool = False) -> CostPlan:
    """Price embedding `sizes` texts with every selected option: APIs, self-hosted GPUs and this machine.

    Args:
        sizes: corpus sizes (number of texts), e.g. `parse_counts("10k,100k,1M,2.5M")`.
        tokens_per_text: tokens per text for every model (default `DEFAULT_TOKENS_PER_TEXT`); not with a corpus.
        corpus: the user's profiles file or dataset (as `load_profiles` reads it); its texts are used as `texts`.
        text_column: the column of `corpus` holding the text.
        texts: the user's texts (instead of `corpus`): tokens are counted with each model's tokenizer and this
            machine is timed on them.
        corpus_name: how the plan names the texts (default: the corpus path).
        models: keep only options naming one of these; None keeps all.
        price_files: the user's price files, layered over the built-in table in order.
        settings: `section.entry.field=value` overrides (`--set`).
        gpus: GPUs per self-hosted option (None: the table's).
        batch: add each API's discounted batch option.
        machine: add a row per offline model, timed on this machine (cached in the workspace).
        remeasure: time this machine again, ignoring the cache.
        workspace: where measurements are cached (default: `Workspace.default()`).
        progress: log a line per model timed.

    Returns:
        The plan (`CostPlan.markdown()`, `.rows()`, `clusterank.viz.cost.write_cost_html`).

    Raises:
        ClusterankError: a corpus and `tokens_per_text` (or `texts`) together, a non-positive size or token
            count, a bad price file or setting, an unreadable corpus, or a selected model no option knows.
    """
    if corpus is not None and texts is not None:
        raise ClusterankError("give a corpus or texts, not both")
    if (corpus is not None or texts is not None) and tokens_per_text is not None:
        raise ClusterankError("give --tokens-per-text or --corpus, not both (--corpus counts the tokens)")
    if tokens_per_text is None:
        tokens_per_text = DEFAULT_TOKENS_PER_TEXT
    check_count(tokens_per_text, "--tokens-per-text")  # before this machine is timed, not after
    table = load_prices(price_files, settings)
    if gpus is not None:
        table = table.with_gpus(gpus)
    from clusterank.embed import catalog_id

    named = None if models is None else list(models)
    # `openai:text-embedding-3-small` selects the table's `text-embedding-3-small`; an `api:` server has no list
    # price (its usage is still shown in the billed table)
    chosen = None if named is None else list(dict.fromkeys(catalog_id(m) for m in named if not m.startswith("api:")))
    if corpus is not None:
        from clusterank.data.loaders import load_profiles

        loaded = load_profiles(corpus, text_column=text_column)
        texts, corpus_name = list(loaded.texts), corpus_name or loaded.source  # a database's without credentials
    throughputs = (time_this_machine(chosen, texts, tokens_per_text=tokens_per_text, remeasure=remeasure,
                                     workspace=workspace, progress=progress) if machine else {})
    plan = plan_costs(table, sizes, tokens_per_text=tokens_per_text, texts=texts, corpus_name=corpus_name,
                      models=chosen, machine=throughputs, batch=batch)
    plan.billed = billed_usage(plan, table, workspace or Workspace.default(), named)
    return plan


def billed_usage(plan: CostPlan, prices, workspace: Workspace, models: Sequence[str] | None = None) -> list[Billed]:
    """The usage providers reported for API models embedded in `workspace` (all, or those `models` names), with
    the plan's estimate for the same number of texts and the billed tokens at list price."""
    from clusterank.embed import catalog_id
    from clusterank.embed.store import EmbeddingStore

    if not workspace.store_path.exists():
        return []
    store = EmbeddingStore(workspace.store_path)
    try:
        usage = store.usage()
    finally:
        store.close()
    wanted = None if models is None else set(models) | {catalog_id(m) for m in models}
    out = []
    for model, (requests, texts, tokens) in usage.items():
        key = catalog_id(model.removesuffix("#query"))
        if wanted is not None and model not in wanted and key not in wanted:
            continue
        api = prices.api.get(key)
        option = plan.estimates.get(key)
        per_text = option[0].option.tokens_per_text if option else None
        out.append(Billed(model, requests, texts, tokens, None if per_text is None else per_text * texts,
                          None if api is None else tokens / 1e6 * api.price_per_1m_tokens))
    return out
