"""The command line, run for real: in-process through `main()` and once as the installed console script."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from clusterank.cli import main


def run(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_demo_prints_seed_lines_and_scores(workspace, capsys):
    code, out, err = run(capsys, "demo", "--n", "800", "-k", "30")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("Text ")]
    assert len(lines) == 30
    assert " similarity: " in lines[0] and "% - Preview: " in lines[0] and lines[0].rstrip().endswith(")") and " (cluster " in lines[0]
    assert "P@10: " in out and "Product Managers in the top 30: " in out
    assert "┃ #  ┃ exact" in out and "routed:nprobe=1" in out and "┃ role" in out
    assert "role: alpha = " in out and "chosen by 5-fold cross-validation on 80 bundled job descriptions" in out


def test_search_json_composes(workspace, capsys):
    code, out, _ = run(capsys, "search", "Owns launches, positioning and sales enablement", "--n", "300", "-k", "5",
                       "--json")
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert all(abs(h["similarity_percent"] - (h["cosine"] + 1) * 50) < 0.01 for h in hits)
    assert hits[0]["cosine"] >= hits[-1]["cosine"]


def test_search_a_user_file_and_synth(workspace, tmp_path, capsys):
    profiles, queries = tmp_path / "p.parquet", tmp_path / "q.jsonl"
    assert run(capsys, "data", "synth", "-o", str(profiles), "--n", "200", "--queries", str(queries))[0] == 0
    assert len(pd.read_parquet(profiles)) == 200 and len(pd.read_json(queries, lines=True)) >= 60
    code, out, _ = run(capsys, "search", "Kubernetes on-call reliability", "--corpus", str(profiles), "-k", "3")
    assert code == 0 and len(out.splitlines()) == 3


def test_models_markdown_table(capsys):
    code, out, _ = run(capsys, "models", "--format", "markdown")
    assert code == 0 and "| minilm-static |" in out and "text-embedding-3-large" in out


@pytest.mark.parametrize("args, message", [
    (["search", "x", "--corpus", "/no/such/file.parquet"], "error: /no/such/file.parquet: no such file"),
    (["search", "x", "--model", "nope", "--n", "50"], "error: unknown model 'nope'"),
    (["search", "   ", "--n", "50"], "error: the job description is empty"),
    (["models", "--format", "xml"], "error: --format must be table, markdown or json"),
])
def test_bad_input_is_one_line_and_exit_2(workspace, capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.strip().startswith(message) and len(err.strip().splitlines()) == 1


def test_bad_csv_column_via_console_script(workspace, tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"body": ["a", "b"]}).to_csv(path, index=False)
    exe = os.path.join(os.path.dirname(sys.executable), "clusterank")
    proc = subprocess.run([exe, "search", "x", "--corpus", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {path}: no column 'text' and none of the profile fields (FirstName, LastName, Headline, About Me, "
        "Experience, Education, Skills, Certifications); columns are: body"]
    assert "Traceback" not in proc.stderr


def test_clusters_prints_one_line_per_cluster_and_routing_cost(workspace, capsys):
    code, out, err = run(capsys, "clusters", "--n", "700", "--clusters", "6", "--eval")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("cluster ")]
    assert len(lines) == 6 and all("rows | roles: " in line and "families: " in line for line in lines)
    assert "| routed:nprobe=1 |" in out and "| routed:nprobe=auto |" in out and "routing accuracy:" in out
    assert list((workspace.root / "clusters").rglob("*-k6-seed42.npz"))
    assert "What routing costs (80 labelled queries" in out


def test_clusters_k_auto_prints_silhouettes(workspace, capsys):
    code, out, _ = run(capsys, "clusters", "--n", "300", "--clusters", "auto")
    assert code == 0
    assert "silhouette (cosine) by k: k=4:" in out and "chosen k = " in out


def test_routed_search_says_each_hits_cluster(workspace, capsys):
    code, out, _ = run(capsys, "search", "Own positioning and launches", "--n", "500", "--route", "--nprobe", "1",
                       "--clusters", "5", "-k", "8", "--json")
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    assert len(hits) == 8 and len({h["cluster"] for h in hits}) == 1
    code, same, _ = run(capsys, "search", "Own positioning and launches", "--n", "500", "--retriever",
                        "routed:nprobe=1", "--clusters", "5", "-k", "8", "--json")
    assert same == out  # --route --nprobe 1 is an alias of --retriever routed:nprobe=1
    code, out, _ = run(capsys, "search", "Own positioning and launches", "--n", "500", "--route", "--nprobe", "auto",
                       "--clusters", "5", "-k", "8")
    assert code == 0 and all("(cluster " in line for line in out.splitlines())
    code, out, _ = run(capsys, "search", "Own positioning and launches", "--n", "500", "--clusters", "5", "-k", "8",
                       "--json")
    exact = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {h["cluster"] for h in exact} <= set(range(5))  # exact search names the k-means cluster too
    assert {h["cluster"] for h in exact if h["row"] in {x["row"] for x in hits}} == {hits[0]["cluster"]}


def test_map_command_writes_html_and_png(workspace, tmp_path, capsys):
    html_path, png_path = tmp_path / "map.html", tmp_path / "map.png"
    code, out, _ = run(capsys, "map", "--n", "300", "--clusters", "5", "-q", "Kubernetes on-call", "-o", str(html_path),
                       "--png", str(png_path))
    assert code == 0 and html_path.stat().st_size > 3_000_000 and png_path.read_bytes()[:4] == b"\x89PNG"
    assert "300 points, 5 clusters" in out


@pytest.mark.parametrize("args, message", [
    (["clusters", "--n", "5", "--clusters", "9"], "error: k = 9 is larger than the corpus (5 rows)"),
    (["clusters", "--n", "50", "--clusters", "1"], "error: k must be at least 2"),
    (["clusters", "--n", "50", "--clusters", "ten"], "error: the number of clusters must be a number or 'auto'"),
    (["search", "x", "--n", "50", "--route", "--nprobe", "0"],
     "error: retriever 'routed:nprobe=0': nprobe='0' is not valid"),
    (["search", "x", "--n", "50", "--retriever", "magic"], "error: unknown retriever 'magic' in 'magic'; known: exact"),
    (["search", "x", "--n", "50", "--retriever", "routed:depth=3"],
     "error: retriever 'routed:depth=3': unknown parameter 'depth' (parameters of routed: nprobe, margin, k)"),
    (["search", "x", "--n", "50", "--retriever", "routed:nprobe"], "error: retriever spec 'routed:nprobe': "
     "'nprobe' is not param=value"),
    (["search", "x", "--n", "50", "--retriever", "exact", "--route"], "error: give --retriever or --route"),
    (["search", "x", "--n", "50", "-k", "0"], "error: k must be at least 1, got 0"),
    (["search", "x", "--model", "precomputed:nope", "--n", "50"], "error: no column 'embeddings_nope' in bundled"),
    (["map", "--n", "50", "--method", "tsne", "-o", "/tmp/x.html"], "error: unknown projection 'tsne'"),
])
def test_cluster_bad_input_is_one_line(workspace, capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2 and err.strip().startswith(message) and len(err.strip().splitlines()) == 1


def test_clusters_eval_refuses_unanswerable_queries_unless_skipped(workspace, tmp_path, capsys):
    path = tmp_path / "q.jsonl"
    path.write_text('{"natural_language": "Own positioning and launches", "role": "Product Marketing Manager"}\n'
                    '{"natural_language": "Fly to the moon", "role": "Astronaut"}\n')
    args = ["clusters", "--n", "300", "--clusters", "4", "--eval", "--queries", str(path)]
    code, _, err = run(capsys, *args)
    assert code == 2 and "1 query has no relevant profile (rows 1)" in err and "--skip-unanswerable" in err
    code, out, err = run(capsys, *args, "--skip-unanswerable")
    assert code == 0 and "What routing costs (1 labelled queries" in out and "1 of 2 queries" in err
