"""The judged comparison on the bundled set with the offline local judge (issue 27): models x pipelines scored on
LLM-judged relevance, the judge's agreement with the labels (Cohen's kappa, Kendall's tau, 95% intervals), the bias
checks, and judgments per second. Resumable: grades are cached, so a rerun pays only for what is missing.

With `--server llama-cpp` the same run is made a second time through llama-cpp-python's own OpenAI-compatible server
(`python -m llama_cpp.server`, on 127.0.0.1, over the same bundled GGUF, as `--judge llm:<alias>@<url>`), and the two
judges' grades are compared pair for pair. `--grades PATH` keeps the grades in a file of their own (a fresh one
measures every judgment's speed; the default is the workspace's cache).

    .venv/bin/python bench/judged.py [--models minilm-static,paraphrase-MiniLM-L3-v2] [--pipelines exact,routed:nprobe=1]
                                     [--queries 20] [--n 1000] [--pool-depth 5] [--checks 20] [--judge local]
                                     [--server llama-cpp] [--grades /tmp/grades.sqlite]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ALIAS = "qwen2.5-coder-0.5b-via-llama-cpp-server"


@contextmanager
def llama_cpp_server(log_path: str, startup_s: float = 300.0):
    """`python -m llama_cpp.server` over the bundled GGUF on a free loopback port, the fast way (`--logits_all false`:
    no log-probabilities, so grades are read from the text; greedy at temperature 0 is the client's ask, the rest are
    its defaults); yields the base URL."""
    import httpx

    from clusterank.rerank.local_llm import bundled_gguf

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    threads = str(os.cpu_count() or 1)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf()),
                                 "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                                 "--n_threads", threads, "--logits_all", "false"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"llama_cpp.server exited with {proc.returncode}; see {log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"llama_cpp.server did not answer within {startup_s:.0f} s; see {log_path}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def grader_for(judge: str, grades: str | None):
    """A `Grader` for `judge` (its server started for `local`), caching in `grades` when given."""
    from clusterank.evaluate.judged import open_grader

    with open_grader(judge, concurrency=1) as grader:
        if grades:
            from clusterank.rerank.grade import Grader

            fresh = Grader(grader.client, grades, judge=grader.judge, concurrency=1)
            try:
                yield fresh
            finally:
                fresh._db.close()
        else:
            yield grader


def main() -> None:
    """Run the judged comparison (twice with `--server`), print the notes, the quality table and the agreement."""
    from clusterank import bundled_profiles, bundled_queries, judged_compare, markdown_table
    from clusterank.evaluate.report import quality_rows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="minilm-static,paraphrase-MiniLM-L3-v2")
    parser.add_argument("--pipelines", default="exact,routed:nprobe=1")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--pool-depth", type=int, default=5)
    parser.add_argument("--checks", type=int, default=20)
    parser.add_argument("--judge", default="local")
    parser.add_argument("--max-judgments", type=int, default=None)
    parser.add_argument("--server", choices=["llama-cpp"], default=None)
    parser.add_argument("--grades", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    corpus, queries = bundled_profiles(n=args.n), bundled_queries()
    step = max(1, len(queries) // args.queries)
    queries = queries.subset(list(range(0, len(queries), step))[:args.queries])

    def run(judge: str):
        started = time.perf_counter()
        with grader_for(judge, args.grades) as grader:
            result = judged_compare(args.models.split(","), corpus, queries, grader, pool_depth=args.pool_depth,
                                    max_judgments=args.max_judgments, judge_checks=args.checks,
                                    pipelines=args.pipelines.split(","), with_maps=False, hide_labels=0)
            sources = dict(grader.sources)
        wall = time.perf_counter() - started
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
              f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"{len(corpus):,} profiles x {len(queries)} queries, models {args.models}, pipelines {args.pipelines}, "
              f"pool depth {args.pool_depth}, judge {result.judge} ({result.version}); wall {wall:.0f} s; "
              f"grades read from {sources}")
        for line in result.lines():
            print(line)
        print(markdown_table(*quality_rows(result.comparison)))
        return result

    first = run(args.judge)
    if args.server is None:
        return
    logs = os.path.dirname(os.path.abspath(args.grades)) if args.grades else tempfile.gettempdir()
    with llama_cpp_server(os.path.join(logs, "llama-cpp-server.log")) as url:
        second = run(f"llm:{ALIAS}@{url}")
    keys = sorted(set(first.grades) & set(second.grades))
    same = [k for k in keys if first.grades[k] == second.grades[k]]
    def rate(r) -> str:
        return f"{r.per_second:.3f}/s ({r.calls} calls in {r.seconds:.0f} s)" if r.per_second else "all cached"

    print(f"agreement, {first.judge} vs {second.judge}: {len(same)} of {len(keys)} pooled pairs graded alike "
          f"({len(set(first.grades) ^ set(second.grades))} pairs graded by one only); judgments/s {rate(first)} vs "
          f"{rate(second)}")
    for q, r in keys:
        if first.grades[(q, r)] != second.grades[(q, r)]:
            print(f"  differs: query {first.comparison.query_ids[q]}, profile {corpus.ids[r]}: "
                  f"{first.grades[(q, r)]} vs {second.grades[(q, r)]}")


if __name__ == "__main__":
    main()
