"""Job descriptions in other languages through the real server on loopback: Chinese and Ukrainian queries are
searched (the response says the detected language), and a text the English-only model has no token for is a 400
JSON error naming the model and a multilingual one, never a 500."""

from __future__ import annotations

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

ZH = "我们是一家B2B SaaS公司，正在寻找产品营销经理：负责产品定位、上市发布和销售赋能。"
UK = "Шукаємо менеджера з маркетингу продукту, який відповідатиме за позиціонування та запуски нових релізів."


@pytest.mark.parametrize(("query", "lang"), [(ZH, "zh"), (UK, "uk")])
def test_a_query_in_another_language_is_searched(server, query, lang):
    r = httpx.post(server.url + "/v1/search", json={"query": query, "k": 5}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()  # json() decodes the bytes as UTF-8
    assert body["lang"] == lang and len(body["hits"]) == 5 and body["model"] == "minilm-static"


def test_text_the_model_has_no_token_for_is_a_400_naming_the_model(server):
    r = httpx.post(server.url + "/v1/search", json={"query": "产品营销经理", "k": 5}, timeout=60)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert "minilm-static" in message and "no token for any character" in message
    assert "multilingual-e5-small" in message


def test_the_page_is_utf8(server):
    r = httpx.get(server.url + "/", timeout=60)
    assert r.status_code == 200 and "charset=utf-8" in r.headers["content-type"]
    assert '<meta charset="utf-8">' in r.content.decode("utf-8")
