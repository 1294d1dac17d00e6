"""`clusterank serve --blind-toggle names` over real HTTP on loopback: one server, plain and name-blind search of the
same profiles (`"blind": true`), and the field named when a server offers no blind corpus or the value is no
boolean."""

from __future__ import annotations

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

from clusterank.data.synthetic import DEMO_QUERY  # noqa: E402


def search(server, **body):
    return httpx.post(server.url + "/v1/search", json={"query": DEMO_QUERY, "k": 10, **body}, timeout=60)


def test_blind_and_plain_search_show_names_and_profile_ids(server, faulty_server):
    assert httpx.get(server.url + "/v1/options").json()["blind_toggle"] == ["names"]
    plain, blind = search(server).json(), search(server, blind=True).json()
    assert plain["blind"] is False and blind["blind"] is True
    assert not any(h["name"].startswith("profile ") for h in plain["hits"])  # "FirstName LastName"
    assert [h["name"] for h in blind["hits"]] == [f"profile {h['id']}" for h in blind["hits"]]
    shown = {h["row"]: h["name"] for h in plain["hits"]}
    row = blind["hits"][0]["row"]
    whole = httpx.get(server.url + f"/v1/profiles/{row}", params={"blind": "true"}).json()
    if row in shown:  # the whole name-blind profile does not name the person either
        assert shown[row].split()[-1] not in whole["text"]
    bad = search(server, blind="yes")  # a wrong type is a 422, as for every field (docs/server.md)
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "blind"
    refused = search(faulty_server, blind=True)  # a server started without --blind-toggle (faults hit embeddings only)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "blind"
    assert "--blind-toggle" in refused.json()["error"]["message"]
    assert httpx.get(faulty_server.url + "/v1/options").json()["blind_toggle"] == []
