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
    assert " similarity: " in lines[0] and "% - Preview: " in lines[0] and lines[0].rstrip().endswith("]")
    assert "P@10: " in out and "Product Managers in the top 30: " in out


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
