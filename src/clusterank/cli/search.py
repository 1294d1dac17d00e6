"""Searching: the demo, search, embed, clusters (with --eval) and the cluster map."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from clusterank.cli.common import (BlindOpt, ClustersOpt, CorpusOpt, DbOpt, DeviceOpt, LabelColOpt, ModelOpt, NOpt,
                                   ParentOpt, QueriesOpt, QueryColOpt, RelIdsOpt, SeedOpt, SkipOpt, TextColOpt, app,
                                   corpus_from_options, database_for, err, out, queries_from_options)
from clusterank import AUTO_MARGIN, DEFAULT_RETRIEVER, ROUTING_PIPELINES, ClusterankError

RetrieverOpt = typer.Option(None, "--retriever", "-r", help="How to search: exact | routed:nprobe=N|auto[,margin=M] | "
                            "soft[:alpha=A] | role[:alpha=A,by=COLUMN] | role-route:m=M | prior[:alpha=A,by=COLUMN] | ... "
                            "(`clusterank backends` lists every kind with its parameters; docs/retrievers.md). "
                            "Default: exact, or routed with --route.")


@app.command()
def demo(model: str = ModelOpt, n: int = NOpt,
         k: int = typer.Option(30, "-k", help="How many profiles to show."), device: str = DeviceOpt,
         lang: str = typer.Option("en", "--lang", help="Language of the job description: en, zh (Chinese), es, de, "
                                  "uk (Ukrainian); the profiles stay English.")) -> None:
    """Search the bundled profiles for a Product Marketing Manager, the seed's showcase."""
    from clusterank import QUERY_LANGUAGES, run_demo, using_device

    with using_device(device):
        report = run_demo(model=model, n=n, k=k, progress=True, lang=lang)
    out.print(f"[bold]clusterank demo[/] - {report.corpus_size:,} bundled profiles, model "
              f"[bold]{report.model}[/] ({report.dims} dims)")
    if report.language_note:
        out.print(report.language_note, style="yellow")
    language = "" if report.lang == "en" else f", in {QUERY_LANGUAGES[report.lang]}"
    out.print(f"\n[bold]Job description[/] (target role: {report.target_role}{language}):\n{report.query}\n")
    out.print(f"[bold]Top {len(report.hits)}[/] (similarity = (cos + 1) / 2, the seed's scale):")
    for hit in report.hits:
        style = "green" if hit.role == report.target_role else ("red" if hit.role in report.neighbours else "")
        out.print(hit.format(), style=style or None)
    out.print(f"\nP@10: {report.precision_at_10:.2f}  ({round(report.precision_at_10 * 10)} of the top 10 are "
              f"{report.target_role}s)")
    out.print(f"Product Managers in the top {len(report.hits)}: {report.product_managers}   "
              f"all confusable neighbours ({', '.join(report.neighbours)}): {report.near_misses}")
    out.print(f"Embedding took {report.embed_seconds:.1f} s ({report.newly_embedded:,} texts embedded now, "
              f"the rest from the cache); search took {report.search_ms:.2f} ms.")
    out.print("\n[bold]The same job description, top 10 side by side[/] (role; PMM = the target):")
    table = Table("#", *report.side_by_side)
    short = {report.target_role: "PMM"}
    for i in range(10):
        table.add_row(str(i + 1), *(short.get(hits[i].role, hits[i].role or "?") if i < len(hits) else ""
                                    for hits in report.side_by_side.values()))
    table.add_row("", *(f"{sum(h.role == 'Product Manager' for h in hits)} Product Managers"
                        for hits in report.side_by_side.values()))
    out.print(table)
    out.print(report.role_tuning)


def retriever_spec(retriever: Optional[str], route: bool, nprobe: str, margin: float) -> str:
    """The retriever spec from `--retriever`, or from the older aliases `--route --nprobe --margin`."""
    if retriever is not None:
        if route:
            raise ClusterankError("give --retriever or --route, not both (--route means routed:nprobe=...)")
        return retriever
    if not route:
        return DEFAULT_RETRIEVER
    return f"routed:nprobe={nprobe}" + (f",margin={margin:g}" if margin != AUTO_MARGIN else "")


@app.command()
def search(query: str = typer.Argument(..., help="The job description."), model: str = ModelOpt,
           k: int = typer.Option(10, "-k", help="How many profiles to return."),
           corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
           label_column: str = LabelColOpt, retriever: Optional[str] = RetrieverOpt,
           route: bool = typer.Option(False, "--route", help="Alias: --retriever routed:nprobe=<--nprobe>."),
           nprobe: str = typer.Option("1", "--nprobe", help="With --route: clusters to search, a number or 'auto'."),
           margin: float = typer.Option(AUTO_MARGIN, "--margin", help="With --route: cosine margin of --nprobe auto."),
           n_clusters: str = ClustersOpt,
           rerank: str = typer.Option("none", "--rerank", help="none | llm-pairwise | rescore:<model> | "
                                      "cross-encoder:<folder-or-hub-id>"),
           rerank_top: int = typer.Option(20, "--rerank-top", help="How many retrieved hits the reranker reorders."),
           explain_hits: bool = typer.Option(False, "--explain", help="Say why each hit ranks where it does: cosine, "
                                             "bonus, the reranker's move, the fields (and a static model's tokens) "
                                             "that matched most."),
           llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="OpenAI-compatible API for "
                                                      "llm-pairwise (default: the bundled model on loopback)."),
           llm_model: Optional[str] = typer.Option(None, "--llm-model", help="Model name at --llm-base-url."),
           llm_api_key_env: str = typer.Option("OPENAI_API_KEY", "--llm-api-key-env",
                                               help="Environment variable holding the API key (never stored)."),
           strategy: str = typer.Option("sliding", "--pairwise", help="allpairs (Copeland) | sliding (K passes)."),
           passes: int = typer.Option(3, "--passes", help="K of the sliding window: the top K get fixed."),
           budget: int = typer.Option(60, "--llm-budget", help="Most LLM calls per query."),
           as_json: bool = typer.Option(False, "--json", help="One JSON object per hit (for piping)."),
           device: str = DeviceOpt, blind: str = BlindOpt, db: Optional[str] = DbOpt) -> None:
    """Find the profiles most similar to a job description through any retriever, optionally reranked."""
    from clusterank import (LLMOptions, SearchPipeline, canonical_spec, check_device, check_reranker, check_spec,
                            explain, explanation_line, get_reranker, parse_k, parse_spec, retriever_type, using_device)

    check_device(device)  # cuda without a GPU fails before the corpus loads
    if not query.strip():
        raise ClusterankError("the job description is empty")
    if k < 1:
        raise ClusterankError(f"k must be at least 1, got {k}")
    spec = canonical_spec(retriever_spec(retriever, route, nprobe, margin))  # a bad spec fails before embedding
    if rerank != "none":
        check_reranker(rerank)  # so does a bad reranker name
    llm = LLMOptions(llm_base_url, llm_model, llm_api_key_env, strategy, passes, budget)  # and a bad judge URL
    database = database_for(spec, db)  # and a database that does not answer (--db over $CLUSTERANK_DB)
    clustered = retriever_type(spec).uses_clusters and "k" not in dict(parse_spec(spec).params)
    table = corpus_from_options(corpus, n, text_column, label_column, n_clusters if clustered else None, blind,
                                copy=True)  # from a saved index's copy of the file when it is unchanged
    check_spec(spec, len(table))  # nlist, k and the like against the corpus' rows, before anything is embedded
    pipe = SearchPipeline(table, model, progress=not as_json, n_clusters=parse_k(n_clusters), device=device,
                          database=database)
    with using_device(device):  # a rescore:<model> reranker's model runs there too
        reranker = None if rerank == "none" else get_reranker(rerank, workspace=pipe.workspace, llm=llm)
    result = pipe.run(query, k, retriever=spec, reranker=reranker, rerank_top=rerank_top)
    explained = explain(pipe, query, result.hits, spec) if explain_hits else [None] * len(result.hits)
    for hit, why in zip(result.hits, explained):
        out.print(json.dumps({**hit.as_json(), **({"explain": why} if why else {})}) if as_json else hit.format())
        if why and not as_json:
            out.print("    " + explanation_line(why), markup=False, highlight=False)
    log = logging.getLogger("clusterank")
    log.debug("search took %s", ", ".join(f"{stage} {s * 1000:.1f} ms" for stage, s in result.timings.items()))
    if reranker is not None:
        log.info("reranked with %s: %s", reranker.name, reranker.stats.line())


@app.command()
def clusters(model: str = ModelOpt, n_clusters: str = ClustersOpt, seed: int = SeedOpt,
             corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
             label_column: str = LabelColOpt,
             evaluate: bool = typer.Option(False, "--eval", help="Measure what routing costs on labelled queries."),
             queries: Optional[Path] = QueriesOpt, query_column: str = QueryColOpt,
             relevant_ids_column: str = RelIdsOpt, skip_unanswerable: bool = SkipOpt,
             parent_column: str = ParentOpt,
             pipelines: str = typer.Option(",".join(ROUTING_PIPELINES), "--pipelines",
                                           help="Retriever specs --eval measures."),
             eval_k: int = typer.Option(10, "--eval-k", help="Cut-off of the --eval metrics."),
             margin: float = typer.Option(AUTO_MARGIN, "--margin", help="Cosine margin of routed:nprobe=auto.")) -> None:
    """Fit k-means (stored beside the embeddings) and print one line per cluster; --eval measures routing."""
    from clusterank import SearchPipeline, describe_clusters

    pipe = SearchPipeline(corpus_from_options(corpus, n, text_column, label_column, n_clusters), model,
                          progress=True, seed=seed)
    cm = pipe.clusters(n_clusters)
    pipe.n_clusters = cm.k  # routing below uses the clusters just fitted (also when k was chosen)
    if pipe.k_scores:
        out.print("silhouette (cosine) by k: " + ", ".join(f"k={k}: {v:.4f}" for k, v in pipe.k_scores.items()))
        out.print(f"chosen k = {cm.k}")
    out.print(f"{cm.k} clusters of {len(pipe.corpus):,} profiles ({pipe.embedder.name}, seed {seed}):")
    for summary in describe_clusters(cm, pipe.corpus):
        out.print(summary.line())
    if evaluate:
        from clusterank import build_relevance, neighbour_map, parent_labels, relevant_ids, routing_cost, split_specs

        qs = queries_from_options(queries, query_column, label_column)
        ids = relevant_ids(qs, relevant_ids_column)
        if ids is None and (pipe.corpus.labels is None or qs.labels is None):
            raise ClusterankError(f"--eval needs a label column ({label_column!r}, or Headline) in {pipe.corpus.source}"
                                  f" and {qs.source}, or a {relevant_ids_column!r} column in {qs.source}")
        rel = build_relevance(len(pipe.corpus), pipe.corpus.labels, qs.labels, relevant_ids=ids, source=qs.source,
                              drop_unscorable=skip_unanswerable)
        specs = [s if s != "routed:nprobe=auto" or margin == AUTO_MARGIN else f"{s},margin={margin:g}"
                 for s in split_specs(pipelines)]
        report = routing_cost(pipe, qs, rel, pipelines=specs, k=eval_k, parents=parent_labels(pipe.corpus, qs, parent_column),
                              neighbours=neighbour_map() if queries is None else None)
        out.print(f"\nWhat routing costs ({report.n_queries} labelled queries, metrics at cut-off {eval_k}):")
        out.print(report.table())


@app.command("map")
def map_(output: Path = typer.Option(Path("map.html"), "-o", "--output", help="The HTML file to write."),
         model: str = ModelOpt, n_clusters: str = ClustersOpt, seed: int = SeedOpt,
         query: Optional[list[str]] = typer.Option(None, "--query", "-q", help="Job description drawn as an X "
                                                   "(repeatable)."),
         method: str = typer.Option("pca", "--method", help="2-D projection: pca (the seed's) or umap."),
         png: Optional[Path] = typer.Option(None, "--png", help="Also write a static PNG of the map here."),
         corpus: Optional[Path] = CorpusOpt, n: int = NOpt, text_column: str = TextColOpt,
         label_column: str = LabelColOpt) -> None:
    """Write the interactive cluster map: a self-contained HTML file (and optionally a PNG)."""
    from clusterank import PROJECTIONS, SearchPipeline, build_map, write_map_html, write_map_png

    for target in filter(None, (output, png)):  # refuse a folder before anything is embedded or fitted
        if Path(target).is_dir():
            raise ClusterankError(f"{target}: is a folder; give the file to write")
    if method.lower() not in PROJECTIONS:
        raise ClusterankError(f"unknown projection {method!r}; use one of: {', '.join(PROJECTIONS)}")
    pipe = SearchPipeline(corpus_from_options(corpus, n, text_column, label_column, n_clusters), model,
                          progress=True, seed=seed)
    data = build_map(pipe, n_clusters=n_clusters, seed=seed, queries=query or None, method=method)
    write_map_html(data, output)
    out.print(f"wrote {output} ({len(data.xy):,} points, {len(data.cluster_names)} clusters)")
    if png:
        write_map_png(data, png)
        out.print(f"wrote {png}")


@app.command()
def embed(model: str = ModelOpt, corpus: Optional[Path] = CorpusOpt, n: int = NOpt,
          text_column: str = TextColOpt, label_column: str = LabelColOpt,
          ray: bool = typer.Option(False, "--ray", help="Embed on a Ray cluster (Ray Data, one model per actor) into "
                                   "the same cache; alone it starts a local cluster (or joins $RAY_ADDRESS)."),
          ray_address: Optional[str] = typer.Option(None, "--ray-address", metavar="ADDRESS", help="Join this "
                                                    "cluster: host:port, ray://host:port or 'auto' (implies --ray)."),
          ray_actors: Optional[int] = typer.Option(None, "--ray-actors", help="With --ray: actors (default: one "
                                                   "per GPU of the cluster, else one per CPU)."),
          batch_size: Optional[int] = typer.Option(None, "--batch-size", help="With --ray: texts per actor call "
                                                   "and per commit (default 512)."),
          track: Optional[bool] = typer.Option(None, "--track-changes/--no-track-changes", help="A postgresql:// "
                                               "table: put triggers on it that log the keys of rows written, so "
                                               "syncs read only those rows, not the whole table (or take them off)."),
          device: str = DeviceOpt) -> None:
    """Embed a corpus into the cache (resumable; a second run embeds nothing), here or on a Ray cluster. A postgresql://
    corpus is synced: only rows new or edited since the last sync are embedded (a summary line on stderr)."""
    from clusterank import SearchPipeline, is_database_url, sync_corpus, track_changes

    if track is not None and (corpus is None or not is_database_url(corpus) or ray or ray_address is not None):
        raise ClusterankError("--track-changes and --no-track-changes apply to a postgresql://...?table= corpus, "
                              "synced here (not with --ray)")
    if ray or ray_address is not None:
        from clusterank import Workspace, embed_on_ray

        table = corpus_from_options(corpus, n, text_column, label_column)
        workspace = Workspace.default()
        sized = {} if batch_size is None else {"batch_size": batch_size}  # else embed_on_ray's default
        report = embed_on_ray(table.texts, model, workspace=workspace, address=ray_address, actors=ray_actors,
                              progress=True, what="profiles", **sized)
        ran = (f"{report.embedded:,} now on Ray ({report.actors} actors, {report.texts_per_s:,.0f} texts/s "
               f"overall, {report.steady_texts_per_s:,.0f} after {report.startup_seconds:.1f} s of start-up"
               f"{f', {report.attempts} passes' if report.attempts > 1 else ''})" if report.embedded
               else "none needed Ray")
        out.print(f"{report.texts:,} texts embedded with {report.model} ({report.dims} dims): {ran}, "
                  f"{report.cached:,} from the cache; cache: {workspace.store_path}")
        return
    if ray_actors is not None or batch_size is not None:
        raise ClusterankError("--ray-actors and --batch-size apply to Ray runs; add --ray")
    if corpus is not None and is_database_url(corpus):
        if track is not None:
            err.print(track_changes(str(corpus), on=track, text_column=text_column), markup=False, soft_wrap=True)
        report = sync_corpus(str(corpus), model, text_column=text_column, label_column=label_column, device=device,
                             progress=True)
        err.print(report.line(), markup=False, soft_wrap=True)
        return
    pipe = SearchPipeline(corpus_from_options(corpus, n, text_column, label_column), model, progress=True,
                          device=device)
    out.print(f"{len(pipe.corpus):,} texts embedded with {pipe.embedder.name} ({pipe.embedder.dims} dims); "
              f"cache: {pipe.store.path}")
