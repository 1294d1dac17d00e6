"""`clusterank backends`: every registered embedder, retriever and reranker, from the registries alone."""

import json

from clusterank import EMBEDDERS, RERANKERS, RETRIEVERS
from clusterank.cli import main


def test_every_registered_backend_is_listed_with_what_it_declares(capsys):
    assert main(["backends", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    listed = {(r["box"], r["spec"]) for r in rows}
    for box, registry in (("embedder", EMBEDDERS), ("retriever", RETRIEVERS), ("reranker", RERANKERS)):
        assert {(box, b.usage()) for b in registry.values()} <= listed
    by_spec = {r["spec"].split(":")[0]: r for r in rows if r["box"] == "retriever"}
    assert "saveable" in by_spec["exact"]["declares"] and "tunable: alpha" in by_spec["prior"]["declares"]
    assert by_spec["role"]["example"] == "role" and all(r["status"] for r in rows)


def test_a_bad_format_is_one_error_line(capsys):
    assert main(["backends", "--format", "xml"]) == 2
    assert capsys.readouterr().err.strip() == "error: --format must be table, markdown or json, got 'xml'"
