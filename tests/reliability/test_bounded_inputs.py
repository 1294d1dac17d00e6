"""Numbers and files that used to reach a library unchecked (issue 20, classes 5 and 6).

Every number a user gives has a declared range, checked once where it is parsed (a spec parameter, an option)
and, where the corpus decides the limit, once against the corpus when the retriever is built. A file a loader
cannot read faithfully (a ragged CSV, a text with nothing visible in it) is refused naming the file, line or row.
Each case runs the real command line: exit status 2, one `error: ...` line naming the thing at fault, and the
workspace byte for byte as it was.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from pathlib import Path

import hashlib
import pytest

import clusterank as ck
from clusterank.cli import main
from clusterank.cluster.map import build_map
from clusterank.errors import ClusterankError
from clusterank.index.grouped import load_tuned

N = 300  # bundled profiles every command reads (enough rows for ivfpq's codebooks), embedded once per module
SEED_PAST_32_BITS = str(2**32)


@pytest.fixture(scope="module")
def seeded_store(static_embedder, tmp_path_factory) -> Path:
    """A store holding the bundled --n 300 profiles embedded with minilm-static (built once, copied per test)."""
    path = tmp_path_factory.mktemp("bounded-seed") / "embeddings.sqlite"
    store = ck.EmbeddingStore(path)
    store.embed(static_embedder, ck.bundled_profiles(N).texts)
    store.close()
    return path


@pytest.fixture
def ws(workspace, seeded_store):
    """A fresh workspace (models shared with the session) whose store already holds the bundled profiles."""
    shutil.copyfile(seeded_store, workspace.store_path)
    return workspace


def snapshot(root: Path) -> dict[str, str]:
    """Every file under the workspace root -> its SHA-256 (SQLite files by their rows; the shared models link and
    SQLite's -wal/-shm files, which appear when a store is merely opened, left out)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (Path(folder) == root and d == "models"))
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_symlink() or name.endswith(("-wal", "-shm", "-journal")):
                continue
            if name.endswith(".sqlite"):
                con = sqlite3.connect(path)
                try:
                    found[name] = hashlib.sha256("\n".join(con.iterdump()).encode("utf-8", "surrogatepass")).hexdigest()
                finally:
                    con.close()
            else:
                found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error(code: int, out: str, err: str, names: list[str]) -> None:
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    for name in names:
        assert name in lines[0], lines[0]


def search(*args: str) -> list[str]:
    return ["search", "Own positioning and launches", "--n", str(N), *args]


# ---- class 5: numbers that reach a library unchecked

NUMBER_CASES = [
    ("ivfpq-nlist-over-the-corpus", lambda t: search("-r", "ivfpq:nlist=7000"),
     ["ivfpq:nlist=7000", "nlist=7000", "allowed: 1 to 300", "rows"]),
    ("ivfpq-m-over-the-dimensions", lambda t: search("-r", "ivfpq:m=100000"),
     ["ivfpq:m=100000", "m=100000", "dimensions"]),
    ("routed-k-over-the-corpus", lambda t: search("-r", "routed:k=7000"), ["routed:k=7000", "k=7000", "2 to 300"]),
    ("soft-k-one", lambda t: search("-r", "soft:k=1"), ["soft:k=1", "k='1'", "at least 2"]),
    ("role-route-k-over-the-corpus", lambda t: search("-r", "role-route:k=99999999999999999999"),
     ["k=99999999999999999999", "2 to 300"]),
    ("routed-margin-over-2", lambda t: search("-r", "routed:nprobe=auto,margin=5"), ["margin='5'", "0 to 2"]),
    ("index-build-nlist-over-the-corpus", lambda t: ["index", "build", "--n", str(N), "-r", "ivfpq:nlist=301"],
     ["ivfpq:nlist=301", "1 to 300"]),
    ("compare-k-over-the-corpus", lambda t: ["compare", "--models", "minilm-static", "--n", str(N), "--pipelines",
                                             "routed:k=301", "-o", str(t / "report")], ["routed:k=301", "2 to 300"]),
    ("clusters-seed-past-32-bits", lambda t: ["clusters", "--n", str(N), "--seed", SEED_PAST_32_BITS],
     ["seed", SEED_PAST_32_BITS, "4,294,967,295"]),
    ("map-seed-past-32-bits", lambda t: ["map", "--n", str(N), "--seed", SEED_PAST_32_BITS, "-o", str(t / "m.html")],
     ["seed", SEED_PAST_32_BITS]),
    ("tune-seed-past-32-bits", lambda t: ["tune", "--n", str(N), "--seed", SEED_PAST_32_BITS], ["--seed"]),
    ("tune-seed-negative", lambda t: ["tune", "--n", str(N), "--seed", "-1"], ["--seed=-1", "0 to"]),
    ("synth-seed-past-32-bits", lambda t: ["data", "synth", "-o", str(t / "p.csv"), "--seed", SEED_PAST_32_BITS],
     ["--seed", SEED_PAST_32_BITS]),
    ("synth-n-runs-until-killed", lambda t: ["data", "synth", "-o", str(t / "p.csv"), "--n", "100000000000"],
     ["--n=100000000000", "2,500,000", "memory"]),
    ("synth-n-zero", lambda t: ["data", "synth", "-o", str(t / "p.csv"), "--n", "0"], ["--n=0", "1 to"]),
    ("search-n-past-the-maximum", lambda t: ["search", "x", "--n", "100000000000"], ["--n=100000000000"]),
]


@pytest.mark.parametrize("build, names", [pytest.param(b, n, id=i) for i, b, n in NUMBER_CASES])
def test_a_number_out_of_range_is_one_line_exit_2_and_changes_nothing(ws, tmp_path, capsys, build, names):
    argv = build(tmp_path)
    before = snapshot(ws.root)
    assert_one_error(*run_cli(argv, capsys), names)
    assert snapshot(ws.root) == before, "the workspace changed"
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "m.html").exists()


@pytest.mark.parametrize("retriever", ["int8", "binary", "float16", "int8:rescore=2", "exact"])
def test_compressed_retrievers_work_on_a_three_row_corpus(ws, tmp_path, capsys, retriever):
    corpus = tmp_path / "tiny.csv"
    corpus.write_text("text,role\nPython engineer building APIs,SE\nNurse on a ward,RN\nPayroll clerk,AC\n")
    code, out, err = run_cli(["search", "python engineer", "--corpus", str(corpus), "-r", retriever, "-k", "5"], capsys)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3 and "Python engineer" in out.splitlines()[0]


def test_ivfpq_on_a_tiny_corpus_says_how_many_rows_it_needs(ws, tmp_path, capsys):
    corpus = tmp_path / "tiny.csv"
    corpus.write_text("text\nPython engineer\nNurse\nPayroll clerk\n")
    assert_one_error(*run_cli(["search", "x", "--corpus", str(corpus), "-r", "ivfpq"], capsys),
                     ["ivfpq", "at least 256", "has 3"])


def test_parameter_ranges_are_declared_in_the_spec_grammar():
    """Every numeric parameter of every retriever carries its range: a user reads it in the error."""
    for kind in ck.RETRIEVERS.values():
        for name, param in kind.params.items():
            if param.default is None or (isinstance(param.default, (int, float))
                                         and not isinstance(param.default, bool)):  # true/false is no range
                numeric = name not in ("by",)
                assert not numeric or param.bound is not None, f"{kind.name}:{name} has no declared range"


# ---- a damaged tuning file: one error naming it, never a traceback or a NaN used silently

DAMAGED_TUNING = {"a-list": "[]", "alpha-text": '{"role": {"params": {"alpha": "x"}}}',
                  "alpha-nan": '{"role": {"params": {"alpha": NaN}}}', "not-json": "{role",
                  "no-params": '{"role": 0.4}'}


@pytest.mark.parametrize("content", DAMAGED_TUNING.values(), ids=DAMAGED_TUNING.keys())
def test_a_damaged_tuning_file_is_named_with_its_remedy(tmp_path, content):
    path = tmp_path / "k-tuned.json"
    path.write_text(content)
    with pytest.raises(ClusterankError, match=r"k-tuned\.json: damaged tuning file .*run `clusterank tune` again"):
        load_tuned(path)
    assert load_tuned(tmp_path / "missing.json") == {}
    path.write_text('{"role": {"params": {"alpha": 0.4}}}')
    assert load_tuned(path) == {"role": {"alpha": 0.4}}


@pytest.mark.parametrize("content", DAMAGED_TUNING.values(), ids=DAMAGED_TUNING.keys())
def test_cli_search_with_a_damaged_tuning_file(ws, capsys, content):
    path = ck.SearchPipeline(ck.bundled_profiles(N), "minilm-static", workspace=ws).tuning_path
    path.write_text(content)
    before = snapshot(ws.root)
    assert_one_error(*run_cli(search("-r", "role"), capsys), [path.name, "clusterank tune"])
    assert snapshot(ws.root) == before
    code, _, err = run_cli(search("-r", "exact"), capsys)  # a search that does not read the tuned alpha works
    assert code == 0, err


# ---- class 6: files a loader read wrongly

FILE_CASES = [
    ("ragged-csv", "ragged.csv", 'text,role\n"Python engineer",SE,x\n"Nurse on a ward",RN,y\n',
     ["ragged.csv", "line 2", "3 fields", "header has 2"]),
    ("ragged-csv-later-line", "ragged2.csv", 'text,role\n"Python engineer",SE\n"Nurse",RN,y,z\n', ["ragged2.csv", "3"]),
    ("zero-width-text", "zw.csv", "text,role\nPython engineer,SE\n\u200b\u200c,RN\n",
     ["zw.csv", "column 'text'", "row 1", "visible"]),
    ("zero-width-and-spaces", "zw2.jsonl", json.dumps({"text": " \u200d\ufeff \u2060 "}) + "\n",
     ["zw2.jsonl", "column 'text'", "row 0"]),
]


@pytest.mark.parametrize("name, content, names", [pytest.param(f, c, n, id=i) for i, f, c, n in FILE_CASES])
def test_a_file_read_wrongly_is_refused_naming_the_file_and_where(ws, tmp_path, capsys, name, content, names):
    corpus = tmp_path / name
    corpus.write_text(content, encoding="utf-8")
    before = snapshot(ws.root)
    assert_one_error(*run_cli(["search", "python", "--corpus", str(corpus)], capsys), names)
    assert snapshot(ws.root) == before, "the workspace changed"


# ---- compare --clusters N draws its maps with k = N

def test_compare_maps_use_the_clusters_asked_for(session_home):
    corpus, queries = ck.bundled_profiles(n=N), ck.bundled_queries()
    cmp = ck.compare_models(["minilm-static"], corpus, queries, workspace=session_home, n_clusters=4,
                            pipelines=("exact", "routed:nprobe=1"), with_maps=True)
    data = cmp.runs[0].map_data
    assert len(data.cluster_names) == 4 and "k-means k=4" in data.title and set(data.clusters.tolist()) == {0, 1, 2, 3}


def test_build_map_defaults_to_the_pipelines_clusters_and_seed(session_home):
    pipe = ck.SearchPipeline(ck.bundled_profiles(n=N), "minilm-static", workspace=session_home, n_clusters=3)
    assert len(build_map(pipe).cluster_names) == 3
    assert not math.isnan(float(build_map(pipe).xy[0, 0]))
