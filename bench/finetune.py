"""`clusterank finetune` measured (issue 22, item 3): time on this machine, quality against its base, and
leave-labels-out.

For each set (the bundled one, and `ons-title2title` when `bench/realdata.py` built it): fine-tune
all-MiniLM-L6-v2 on the corpus' labels with the CPU defaults (timed, model loading included), then score base and
fine-tuned exact search on the set's queries (never trained on: the fine-tune sees corpus rows and labels only),
paired bootstrap of nDCG@10 and near-miss@10. Then leave-labels-out: hide 20% of the queries' labels (their rows
untagged, and as many other rows), fine-tune again on the rest, and score the hidden labels' queries only.

    CLUSTERANK_HOME=... .venv/bin/python bench/finetune.py [--sets bundled,ons-title2title] [--steps N]

Prints markdown tables to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

import numpy as np

from clusterank import (FinetuneSettings, FinetunedModel, SearchPipeline, Workspace, build_relevance,
                        bundled_profiles, bundled_queries, finetune, finetuned_models, load_profiles, load_queries,
                        neighbour_map, paired_difference, parent_labels)
from clusterank.evaluate.holdout import mask_labels
from clusterank.evaluate.metrics import ndcg_at_k, near_miss_rate
from clusterank.evaluate.neighbours import near_miss_for

BASE = "all-MiniLM-L6-v2"


def sets(root: Path, names: list[str]) -> dict:
    """name -> (corpus, queries, neighbour map or None)."""
    out = {}
    for name in names:
        if name == "bundled":
            out[name] = (bundled_profiles(), bundled_queries(), neighbour_map())
        elif (root / name / "profiles.parquet").exists():
            folder = root / name
            out[name] = (load_profiles(folder / "profiles.parquet"), load_queries(folder / "queries.parquet"), None)
        else:
            print(f"(skipped {name}: run bench/realdata.py first)")
    return out


def scores(model: str, corpus, queries, which: np.ndarray, workspace: Workspace, near) -> tuple[np.ndarray, ...]:
    """Per-query nDCG@10 (same label: gain 2, same parent label (family): gain 1, as `compare` scores) and
    near-miss@10 of exact search with `model` on the queries `which` selects."""
    pipe = SearchPipeline(corpus, model, workspace=workspace)
    pick = lambda values: [v for v, w in zip(values, which) if w]  # noqa: E731
    rows = pipe.retriever("exact").search(pipe.embed_queries(pick(queries.texts)), 10).rows
    parents = parent_labels(corpus, queries, "family")
    rel = build_relevance(len(corpus), corpus.labels, pick(queries.labels), parents[0] if parents else None,
                          pick(parents[1]) if parents else None)
    miss = near_miss_rate(rows, corpus.labels, [s for s, w in zip(near.sets, which) if w], 10)
    return ndcg_at_k(rows, rel, 10), miss


def trained(name: str, corpus, settings: FinetuneSettings, workspace: Workspace, saved: bool) -> FinetunedModel:
    """The fine-tune `name` of BASE on `corpus`: run now, or (`saved`) the one an earlier run left."""
    if saved:
        return next(m for m in finetuned_models(workspace) if m.name == f"st:{name}")
    return finetune(BASE, corpus, name, settings=settings, workspace=workspace, progress=True, overwrite=True)


def interval(a: np.ndarray, b: np.ndarray) -> str:
    d, sig = paired_difference(a, b)
    return f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]{' *' if sig else ''}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="bundled,ons-title2title")
    ap.add_argument("--steps", type=int, default=None, help="default: the CPU default (one epoch, at most 120)")
    ap.add_argument("--share", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--score-only", action="store_true", help="score the models an earlier run saved")
    args = ap.parse_args()
    workspace = Workspace.default()
    settings = FinetuneSettings(steps=args.steps, seed=args.seed)
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}; base {BASE}; settings {settings}\n")
    full, held = [], []
    for name, (corpus, queries, neighbours) in sets(workspace.root / "realdata", args.sets.split(",")).items():
        near = near_miss_for(queries.labels, corpus.labels, neighbours=neighbours)
        started = time.perf_counter()
        model = trained(f"bench-{name}", corpus, settings, workspace, args.score_only)
        took = time.perf_counter() - started if model.trained else model.card.get("seconds", 0)
        everything = np.ones(len(queries), dtype=bool)
        base_n, base_m = scores(BASE, corpus, queries, everything, workspace, near)
        ft_n, ft_m = scores(model.name, corpus, queries, everything, workspace, near)
        full.append(f"| {name} | {len(corpus):,} / {len(queries)} | {model.card['steps']} | {took:.0f} s | "
                    f"{base_n.mean():.3f} | {ft_n.mean():.3f} | {ft_n.mean() / base_n.mean():.3f} | "
                    f"{interval(ft_n, base_n)} | {base_m.mean():.3f} | {ft_m.mean():.3f} |")
        print(full[-1], flush=True)

        masked, hidden = mask_labels(corpus.labels, queries.labels, args.share, args.seed)
        blind = dataclasses.replace(corpus, labels=masked)
        model = trained(f"bench-{name}-llo{args.seed}", blind, settings, workspace, args.score_only)
        on_hidden = np.array([str(q) in hidden for q in queries.labels])
        base_n, _ = scores(BASE, corpus, queries, on_hidden, workspace, near)
        ft_n, _ = scores(model.name, corpus, queries, on_hidden, workspace, near)
        held.append(f"| {name} | {len(hidden)} / {int(on_hidden.sum())} | {base_n.mean():.3f} | {ft_n.mean():.3f} | "
                    f"{interval(ft_n, base_n)} |")
        print(held[-1], flush=True)
    print("\n| set | profiles / queries | steps | fine-tune time | exact nDCG@10 base | fine-tuned | ratio | "
          "fine-tuned − base [95%] | near-miss@10 base | fine-tuned |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(full))
    print(f"\nleave-labels-out (seed {args.seed}, share {args.share:g}): fine-tuned without the hidden labels, scored "
          f"on their queries only\n")
    print("| set | hidden labels / queries | exact nDCG@10 base | fine-tuned | fine-tuned − base [95%] |")
    print("|---|---|---|---|---|")
    print("\n".join(held))


if __name__ == "__main__":
    main()
