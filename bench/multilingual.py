"""Issue 24's goals, measured: per query language, nDCG@10 of English-only and multilingual offline models and of
fused models, on the bundled set with its translated job descriptions and on the real sets of
`bench/multilingual_sets.py` (Chinese CSCO titles, Ukrainian DK 003 titles).

For each set it runs `compare_models` (exact search; a fused model's weights chosen per fold by nested
cross-validation) and prints, per language: each model's nDCG@10 with its 95% bootstrap interval, the best
multilingual pipeline over the best English-only model (goal >= 1.5x on every non-English language), English
quality of the best offline model against all-MiniLM-L6-v2 (goal: within noise), and each fused model against
the better of its parts where the parts are within 20% of each other (goal: not below it), as paired
differences with intervals. Nothing is tuned on a scored query: the only learned thing, the fusion weights, is
chosen on the other folds.

    .venv/bin/python bench/multilingual_sets.py /tmp/ml-sets
    .venv/bin/python bench/multilingual.py --sets /tmp/ml-sets --profiles 1200
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from clusterank import bundled_profiles, bundled_queries, load_profiles, load_queries
from clusterank.evaluate.compare import compare_models, fused_parts
from clusterank.evaluate.stats import bootstrap_ci, paired_difference, within_noise

ENGLISH_ONLY = ("paraphrase-MiniLM-L3-v2", "all-MiniLM-L6-v2")
MULTILINGUAL = ("multilingual-e5-small",)
FUSED = ("fusion:models=all-MiniLM-L6-v2+multilingual-e5-small,method=rrf",
         "fusion:models=all-MiniLM-L6-v2+multilingual-e5-small,method=sum")
REFERENCE = "all-MiniLM-L6-v2"


def per_language(cmp, langs: dict[str, str]) -> dict[str, dict[str, np.ndarray]]:
    """language -> model -> per-query nDCG@10 (exact), over the scored queries of that language."""
    order = np.array([langs[q] for q in cmp.query_ids])
    out: dict[str, dict[str, np.ndarray]] = {}
    for lang in dict.fromkeys(order):
        mask = order == lang
        out[lang] = {r.model: r.pipelines["exact"].per_query["nDCG@10"][mask] for r in cmp.runs}
    return out


def report(name: str, table: dict[str, dict[str, np.ndarray]], lines: list[str]) -> None:
    """Print and collect one set's rows and goal checks (Markdown)."""
    models = list(next(iter(table.values())))
    lines += [f"### {name}", "", "| lang | queries | " + " | ".join(m.replace("|", "/") for m in models) + " |",
              "|---|---|" + "---|" * len(models)]
    for lang, scores in table.items():
        cells = []
        for m in models:
            est = bootstrap_ci(scores[m])
            cells.append(f"{est.mean:.3f} [{est.low:.3f}, {est.high:.3f}]")
        lines.append(f"| {lang} | {len(scores[models[0]])} | " + " | ".join(cells) + " |")
    lines.append("")
    for lang, scores in table.items():
        english = max((m for m in ENGLISH_ONLY if m in scores), key=lambda m: scores[m].mean())
        offline = max((m for m in scores if m not in ENGLISH_ONLY), key=lambda m: scores[m].mean())
        ratio = scores[offline].mean() / max(scores[english].mean(), 1e-9)
        if lang != "en":
            lines.append(f"- {lang}: best multilingual/fused `{offline}` {scores[offline].mean():.3f} vs best "
                         f"English-only `{english}` {scores[english].mean():.3f}: **{ratio:.2f}x** (goal >= 1.5x: "
                         f"{'met' if ratio >= 1.5 else 'NOT met'})")
        elif REFERENCE in scores:
            d, sig = paired_difference(scores[offline], scores[REFERENCE])
            lines.append(f"- en: best offline `{offline}` {scores[offline].mean():.3f} vs `{REFERENCE}` "
                         f"{scores[REFERENCE].mean():.3f}: difference {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}] "
                         f"({'significant' if sig else 'within noise'})")
        for fused in (m for m in scores if m.startswith("fusion:")):
            a, b = (scores[p] for p in fused_parts(fused))
            close = min(a.mean(), b.mean()) >= 0.8 * max(a.mean(), b.mean())
            better = a if a.mean() >= b.mean() else b
            d, sig = paired_difference(scores[fused], better)
            verdict = ("at least the better part" if d.mean >= 0 or within_noise(scores[fused], better)
                       else "BELOW the better part")
            lines.append(f"- {lang}: `{fused.split(',', 1)[1]}` {scores[fused].mean():.3f} vs better part "
                         f"{better.mean():.3f}: {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]; parts within 20%: "
                         f"{'yes' if close else 'no'}" + (f" -> {verdict}" if close else " (goal does not apply)"))
    lines.append("")


def run_set(name: str, corpus, queries, models, lines: list[str]) -> None:
    """Compare `models` on one set and add its per-language report."""
    started = time.perf_counter()
    langs = dict(zip(queries.ids, queries.frame["lang"] if "lang" in queries.frame.columns else ["en"] * len(queries)))
    cmp = compare_models(list(models), corpus, queries, pipelines=["exact"], with_maps=False, hide_labels=0,
                         skip_unanswerable=True, progress=True)
    report(f"{name}: {len(corpus):,} profiles, {len(cmp.query_ids)} queries ({time.perf_counter() - started:.0f} s)",
           per_language(cmp, langs), lines)
    for run in cmp.runs:
        weights = run.pipelines["exact"].fold_weights
        if weights:
            lines.append(f"- `{run.model}`: weights per fold (nested CV) "
                         + "; ".join("+".join(f"{w:g}" for w in ws) for ws in weights))
    lines.append("")


def main(argv: list[str] | None = None) -> int:
    """Run the sets and print the Markdown for bench/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", type=Path, help="The folder bench/multilingual_sets.py wrote (skipped if absent).")
    parser.add_argument("--profiles", type=int, default=1200, help="Bundled profiles generated (e5: ~3.5/s here).")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    models = ENGLISH_ONLY + MULTILINGUAL + FUSED
    lines: list[str] = []
    run_set("bundled, translated job descriptions", bundled_profiles(n=args.profiles), bundled_queries(lang="all"),
            models, lines)
    for name in ("zh-csco", "uk-dk003"):
        folder = (args.sets / name) if args.sets else None
        if folder is None or not (folder / "corpus.csv").exists():
            lines.append(f"({name}: not built; run bench/multilingual_sets.py)")
            continue
        corpus = load_profiles(folder / "corpus.csv")
        queries = load_queries(folder / "queries.csv")
        run_set(name, corpus, queries, models, lines)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
