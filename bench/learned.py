"""Leave-labels-out for the methods that learn from labels (issue 22): hide 20% of the queries' labels, build the
method on the rest, choose its alpha on the visible labels' queries, score it on the hidden labels' queries against
exact search (paired bootstrap). Run on the bundled set and on the real sets `bench/realdata.py` builds.

    CLUSTERANK_HOME=... .venv/bin/python bench/realdata.py          # once: builds the real sets
    CLUSTERANK_HOME=... .venv/bin/python bench/learned.py [--models minilm-static] [--specs role,prior] [--seeds 3]

Prints one markdown table; nothing here is tuned on the scored (hidden-label) queries.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from clusterank import SearchPipeline, Workspace, bundled_profiles, bundled_queries, load_profiles, load_queries
from clusterank.evaluate.holdout import leave_labels_out


def sets(root: Path) -> dict:
    """name -> (corpus, queries): the bundled set and every real set built under `root` whose rows share labels."""
    out = {"bundled": (bundled_profiles(), bundled_queries())}
    folder = root / "ons-title2title"
    if (folder / "profiles.parquet").exists():
        out[folder.name] = (load_profiles(folder / "profiles.parquet"), load_queries(folder / "queries.parquet"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="minilm-static,paraphrase-MiniLM-L3-v2")
    ap.add_argument("--specs", default="role,prior")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--share", type=float, default=0.2)
    args = ap.parse_args()
    workspace = Workspace.default()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; hidden share "
          f"{args.share:g}, seeds 0..{args.seeds - 1}\n")
    print("| set | model | spec | seed | hidden labels / queries | alpha | exact | method | method - exact [95%] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (corpus, queries) in sets(workspace.root / "realdata").items():
        for model in args.models.split(","):
            pipe = SearchPipeline(corpus, model, workspace=workspace)
            for spec in args.specs.split(","):
                for seed in range(args.seeds):
                    r = leave_labels_out(pipe, queries.texts, queries.labels, spec, share=args.share, seed=seed)
                    d = r.difference
                    print(f"| {name} | {model} | {spec} | {seed} | {r.hidden_labels} / {r.hidden_queries} | "
                          f"{r.alpha:g} | {r.exact:.3f} | {r.method:.3f} | {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
                          f"{' *' if r.significant else ''} |", flush=True)


if __name__ == "__main__":
    main()
