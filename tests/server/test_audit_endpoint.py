"""`GET /v1/audit`: the bias audit of a served model by a group column, through the app (in process)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from clusterank import ServerConfig, bundled_profiles  # noqa: E402
from clusterank.server.app import create_app  # noqa: E402


def test_audit_endpoint_answers_and_names_a_missing_column(workspace, tmp_path):
    frame = bundled_profiles(n=300).frame.copy()
    frame["grp"] = np.where(np.arange(len(frame)) % 2 == 0, "a", "b")
    path = tmp_path / "profiles.parquet"
    frame.to_parquet(path)
    client = TestClient(create_app(ServerConfig(corpus=str(path), workspace=str(workspace.root))),
                        base_url="http://127.0.0.1")
    answer = client.get("/v1/audit", params={"group": "grp", "k": 10})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["group_column"] == "grp" and body["k"] == 10 and body["queries"] == 80
    assert {r["group"] for r in body["rows"]} == {"a", "b"}
    assert all(r["pipeline"] == "exact" for r in body["rows"])
    missing = client.get("/v1/audit", params={"group": "nope"})
    assert missing.status_code == 400 and "no group column 'nope'" in missing.text and "grp" in missing.text
