"""Explanations: leave-one-field-out on a bundled profile, a static model's token shares summing to the cosine, the
bonus of a role-aware retriever, the reranker's move, and `--explain` / `"explain": true` on the CLI and the server."""

from __future__ import annotations

import json
import math

import numpy as np

from clusterank import SearchPipeline, bundled_profiles, explain, explanation_line, get_reranker
from clusterank.evaluate.explain import field_lines, token_contributions

QUERY = "Product Marketing Manager: own positioning, messaging and go-to-market launches; equip sales with battlecards."


def pipeline(workspace, static_embedder, n=400):
    return SearchPipeline(bundled_profiles(n=n), static_embedder, workspace=workspace)


def test_headline_and_experience_matter_more_than_certifications(workspace, static_embedder):
    pipe = pipeline(workspace, static_embedder)
    hits = pipe.run(QUERY, 5).hits
    found = explain(pipe, QUERY, hits)
    assert len(found) == 5
    with_certs = 0
    for hit, item in zip(hits, found):
        assert math.isclose(item["cosine"], hit.cosine, abs_tol=1e-5)
        assert item["bonus"] == 0 and item["retrieval_rank"] == hit.rank and item["moved"] == 0
        drops = {f["field"]: f["drop"] for f in item["fields"]}
        assert all(math.isfinite(v) for v in drops.values())
        assert {"Name", "Headline", "Experience"} <= set(drops)
        assert max(drops["Headline"], drops["Experience"]) > 0
        if "Certifications" in drops:
            with_certs += 1
            assert max(drops["Headline"], drops["Experience"]) > drops["Certifications"]
        assert [f["drop"] for f in item["fields"]] == sorted((f["drop"] for f in item["fields"]), reverse=True)
        assert item["tokens"] and all(math.isfinite(t["share"]) for t in item["tokens"])
        assert explanation_line(item).startswith("cos ")


def test_field_lines_follow_profile_text():
    text = bundled_profiles(n=3).texts[0]
    parts = field_lines(text)
    assert parts[0][0] == "Name" and "\n".join(p for _, p in parts) == text
    assert [name for name, _ in parts][1] == "Headline"


def test_static_token_shares_sum_to_the_cosine(workspace, static_embedder):
    pipe = pipeline(workspace, static_embedder)
    q = pipe.embed_queries([QUERY])[0]
    for hit in pipe.run(QUERY, 3).hits:
        shares = token_contributions(static_embedder, hit.text, q)
        assert len(shares) > 20
        # each share is (token . q) / (n |mean|): n x the shares' sum is the cosine's numerator over |mean|
        assert math.isclose(sum(s for _, s in shares), hit.cosine, abs_tol=1e-4)


def test_a_role_bonus_and_a_rerankers_move_are_reported(workspace, static_embedder):
    pipe = pipeline(workspace, static_embedder)
    role = pipe.run(QUERY, 5, retriever="role:alpha=0.5").hits
    found = explain(pipe, QUERY, role, "role:alpha=0.5", fields=False)
    assert all(item["bonus"] > 0 and item["fields"] is None for item in found)
    scores = [item["score"] for item in found]
    assert scores == sorted(scores, reverse=True)
    reranked = pipe.run(QUERY, 10, reranker=get_reranker("fair:group=role,target=equal,max_loss=0.9")).hits
    moves = [item["moved"] for item in explain(pipe, QUERY, reranked, fields=False)]
    before = {h.row: h.rank for h in pipe.run(QUERY, 20).hits}  # retrieval alone
    assert moves == [before[h.row] - h.rank for h in reranked]
    assert any(moves)


def test_cli_explain_prints_a_line_per_hit(workspace, capsys):
    from clusterank.cli import main

    assert main(["search", QUERY, "--n", "300", "-k", "3", "--explain"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    why = [line for line in lines if line.startswith("    cos ")]
    assert len(why) == 3 and all("fields: " in line and "tokens: " in line for line in why)
    assert main(["search", QUERY, "--n", "300", "-k", "2", "--explain", "--json"]) == 0
    items = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(items) == 2 and all("explain" in item and item["explain"]["fields"] for item in items)


def test_server_search_explains_each_hit(server):
    import httpx

    answer = httpx.post(server.url + "/v1/search", json={"query": QUERY, "k": 3, "explain": True}, timeout=120)
    assert answer.status_code == 200, answer.text
    hits = answer.json()["hits"]
    assert len(hits) == 3
    for hit in hits:
        assert math.isclose(hit["explain"]["cosine"], hit["cosine"], abs_tol=1e-5)
        assert hit["explain"]["fields"] and np.isfinite([f["drop"] for f in hit["explain"]["fields"]]).all()
    plain = httpx.post(server.url + "/v1/search", json={"query": QUERY, "k": 3}, timeout=120).json()["hits"]
    assert all("explain" not in hit for hit in plain)
