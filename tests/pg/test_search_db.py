"""`clusterank search --db`: the pgvector retriever searches the database the flag names (over `CLUSTERANK_DB`) and
answers what `exact` answers; a database it cannot use is one `error:` line, exit 2, before anything is embedded,
without the URL's credentials."""

from __future__ import annotations

import json

import pytest
from conftest import free_port

from clusterank.cli import main
from clusterank.index.pgvector import DB_ENV

QUERY = "Owns launches, positioning and sales enablement"


def search(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["search", QUERY, "--n", "300", "-k", "5", "--json", *args])
    captured = capsys.readouterr()
    hits = [json.loads(line) for line in captured.out.splitlines()] if code == 0 else []
    return code, hits, captured.err


def test_search_with_db_answers_what_exact_answers(workspace, pg_url, capsys, monkeypatch):
    code, exact, err = search(capsys, "-r", "exact")
    assert code == 0, err
    # the flag wins over the environment variable, which names a database nobody answers at
    monkeypatch.setenv(DB_ENV, f"postgresql://nobody@127.0.0.1:{free_port()}/nowhere")
    for spec in ("pgvector:index=exact", "pgvector:ef_search=400"):  # ef_search over the 300 rows: every one a candidate
        code, found, err = search(capsys, "-r", spec, "--db", pg_url)
        assert code == 0, err
        assert [h["id"] for h in found] == [h["id"] for h in exact], spec
        assert [h["cosine"] for h in found] == pytest.approx([h["cosine"] for h in exact], abs=1e-5)
    monkeypatch.setenv(DB_ENV, pg_url)  # without the flag, the environment variable names it
    code, found, err = search(capsys, "-r", "pgvector:index=exact")
    assert code == 0 and [h["id"] for h in found] == [h["id"] for h in exact], err


@pytest.mark.parametrize("url, says", [
    ("mysql://ann:hunter2@db/hr", "is not a database URL"),
    ("postgresql://ann:hunter2@127.0.0.1:{port}/hr", "did not answer within 5 s"),
    ("postgresql://ann:hunter2@127.0.0.1:99999/hr", "the port is not a number"),
])
def test_a_database_search_cannot_use_is_one_line_without_its_password(workspace, capsys, monkeypatch, url, says):
    monkeypatch.delenv(DB_ENV, raising=False)
    code, _, err = search(capsys, "-r", "pgvector", "--db", url.format(port=free_port()))
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert says in err and "hunter2" not in err and "ann@" not in err


def test_db_without_a_database_retriever_or_a_database_retriever_without_db_is_one_line(workspace, capsys,
                                                                                          monkeypatch):
    monkeypatch.delenv(DB_ENV, raising=False)
    code, _, err = search(capsys, "-r", "exact", "--db", "postgresql://127.0.0.1/hr")
    assert code == 2 and "--db is for retrievers that keep the vectors in PostgreSQL" in err and err.count("\n") == 1
    code, _, err = search(capsys, "-r", "pgvector")
    assert code == 2 and f"--db postgresql://... or {DB_ENV}" in err and err.count("\n") == 1


def test_compare_with_db_scores_pgvector_exact_as_exact(workspace, pg_url, capsys, monkeypatch, tmp_path):
    """`compare --db` hands the database to every model's pgvector pipelines: exact search in SQL scores what exact
    search in memory scores; `--db` where no pipeline keeps vectors in PostgreSQL is one line, exit 2."""
    monkeypatch.setenv(DB_ENV, f"postgresql://nobody@127.0.0.1:{free_port()}/nowhere")  # the flag wins over it
    code = main(["compare", "--models", "minilm-static", "--pipelines", "exact,pgvector:index=exact", "--n", "300",
                 "--no-maps", "--hide-labels", "0", "--db", pg_url, "--out", str(tmp_path / "report")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    import pandas as pd

    per_query = pd.read_csv(tmp_path / "report" / "per_query.csv")
    exact, in_sql = (per_query[per_query["pipeline"] == p] for p in ("exact", "pgvector:index=exact"))
    assert len(exact) == len(in_sql) > 0, sorted(set(per_query["pipeline"]))
    for metric in ("nDCG@10", "P@10", "MRR"):
        assert in_sql[metric].tolist() == pytest.approx(exact[metric].tolist(), abs=1e-6), metric
    code = main(["compare", "--models", "minilm-static", "--pipelines", "exact", "--n", "300", "--no-maps",
                 "--db", pg_url, "--out", str(tmp_path / "other")])
    err = capsys.readouterr().err
    assert code == 2 and "--db is for retrievers that keep the vectors in PostgreSQL" in err and err.count("\n") == 1
