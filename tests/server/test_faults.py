"""The fault mode as middleware: each fault's answer, from a real `/v1/embeddings` body, in both encodings."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from clusterank.server.faults import KINDS, Faults, play


def body(encoding: str) -> bytes:
    vectors = np.eye(3, 4, dtype="<f4")
    encode = (lambda v: base64.b64encode(v.tobytes()).decode()) if encoding == "base64" else (lambda v: v.tolist())
    data = [{"object": "embedding", "embedding": encode(v), "index": i} for i, v in enumerate(vectors)]
    return json.dumps({"object": "list", "data": data, "model": "m", "usage": {"prompt_tokens": 3,
                                                                                 "total_tokens": 3}}).encode()


def vectors(payload: bytes) -> list[np.ndarray]:
    out = []
    for item in json.loads(payload)["data"]:
        e = item["embedding"]
        out.append(np.frombuffer(base64.b64decode(e), "<f4") if isinstance(e, str)
                   else np.array([np.nan if x == "NaN" else x for x in e], dtype="<f4"))
    return out


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_each_fault_changes_only_the_answer_it_names(encoding):
    original = body(encoding)
    status, spoiled, _ = play("wrong-dims", original)
    assert status == 200 and [len(v) for v in vectors(spoiled)] == [3, 4, 4]
    status, spoiled, _ = play("nan", original)
    assert np.isnan(vectors(spoiled)[0][0]) and not np.isnan(vectors(spoiled)[1]).any()
    _, spoiled, _ = play("reorder", original)
    assert [d["index"] for d in json.loads(spoiled)["data"]] == [2, 1, 0]
    _, spoiled, _ = play("bad-index", original)
    assert [d["index"] for d in json.loads(spoiled)["data"]] == [0, 0, 2]
    _, spoiled, _ = play("truncated", original)
    assert original.startswith(spoiled) and len(spoiled) == len(original) // 2
    status, spoiled, headers = play("429", original)
    assert status == 429 and json.loads(spoiled)["error"]["code"] == "rate_limit_exceeded"
    assert (b"retry-after", b"1") in headers
    for code in ("500", "503"):
        assert play(code, original)[0] == int(code)
    assert play("slow", original) == (200, original, [])  # the wait is the middleware's


def test_draws_are_seeded_and_cover_every_kind():
    rates = ",".join(f"{kind}:{1 / len(KINDS):.4f}" for kind in KINDS)
    a, b, other = Faults(rates, seed=3), Faults(rates, seed=3), Faults(rates, seed=4)
    drawn = [a.draw() for _ in range(400)]
    assert drawn == [b.draw() for _ in range(400)] and drawn != [other.draw() for _ in range(400)]
    assert set(KINDS) <= set(drawn)
    assert not Faults("") and Faults("").draw() is None
