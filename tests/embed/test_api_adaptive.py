"""The API client against servers of every speed (`clusterank.embed.batching`): requests start small and grow while
answers come quickly; a request that times out is sent again split, never as it was; a slow server gets one request
at a time; and the spec options (`api:<model>@<url>,batch=64,timeout=120,...`) are read and checked like every
other spec parameter. The servers are real HTTP servers on loopback (`tests/loopback.py`) that take time in
proportion to the inputs of a request; nothing here asserts how fast anything is."""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import numpy as np
import pytest
from loopback import Loopback

httpx = pytest.importorskip("httpx")

from clusterank.embed.registry import get_embedder, stored_name  # noqa: E402
from clusterank.embed.batching import START_BATCH, Pacer, estimate_tokens, option_params  # noqa: E402
from clusterank.embed.providers import OPTION_NAMES, PROVIDERS  # noqa: E402
from clusterank.embed.store import EmbeddingStore  # noqa: E402
from clusterank.errors import ClusterankError  # noqa: E402

TEXTS = [f"profile {i}: data engineer, Python and SQL" + " pipelines" * (i % 7) for i in range(600)]
SECRET = "s3cr3t-pw-51c0"


def vector(text: str) -> list[float]:
    """The server's vector of a text: 8 numbers from its hash, never all zero."""
    digest = hashlib.sha256(text.encode()).digest()
    return [1.0 + b / 255 for b in digest[:8]]


class SlowServer:
    """An OpenAI-shaped embedding server on loopback that takes `per_input` seconds per input of a request (at
    most `cap` seconds a request). `serial`: one request at a time, as on one CPU (the others wait their turn, and
    a request the client gave up on is still finished, as Infinity or TEI do). Records every request (`sizes`,
    `inputs`) and the most requests it held at once (`most_inside`)."""

    def __init__(self, per_input: float = 0.0, *, serial: bool = True, cap: float = 2.0):
        self.per_input, self.serial, self.cap = per_input, serial, cap
        self.work, self.count = threading.Lock(), threading.Lock()
        self.inside = self.most_inside = 0
        self.loop = Loopback(self.answer)
        self.loop.server.handle_error = lambda *_: None  # the client hung up on an abandoned request: expected

    def answer(self, path, body, headers):
        with self.count:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            texts = body["input"]
            delay = min(self.cap, self.per_input * len(texts))
            if self.serial:
                with self.work:
                    time.sleep(delay)
            else:
                time.sleep(delay)
            data = [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)]
            return 200, {"object": "list", "data": data, "usage": {"prompt_tokens": len(texts)}}
        finally:
            with self.count:
                self.inside -= 1

    def url(self, userinfo: str = "") -> str:
        """The base URL (`/v1`)."""
        return self.loop.url(userinfo)

    @property
    def sizes(self) -> list[int]:
        """Inputs per request, in arrival order (the first is the one-text dimension probe)."""
        return [len(body["input"]) for _, _, body in self.loop.requests]

    @property
    def inputs(self) -> list[tuple[str, ...]]:
        """The texts of every request, in arrival order."""
        return [tuple(body["input"]) for _, _, body in self.loop.requests]

    def close(self) -> None:
        """Stop listening (requests still sleeping finish in their daemon threads, within `cap`)."""
        self.loop.close()


@pytest.fixture
def servers():
    made: list[SlowServer] = []

    def make(*args, **kwargs) -> SlowServer:
        made.append(SlowServer(*args, **kwargs))
        return made[-1]
    yield make
    for server in made:
        server.close()


def expected(texts) -> np.ndarray:
    return np.asarray([vector(t) for t in texts], dtype=np.float32)


# ---- (a) defaults: small first requests, growing while quick, split on a timeout, never resent as they were

def test_a_fast_server_gets_requests_that_start_small_and_grow(servers):
    srv = servers()
    emb = get_embedder(f"api:m@{srv.url()}")
    assert np.array_equal(emb.embed(TEXTS), expected(TEXTS))
    assert srv.sizes[0] == 1 and srv.sizes[1] == START_BATCH  # the dimension probe, then small requests
    assert max(srv.sizes) > START_BATCH and emb.pacer().lanes == 4 and emb.pacer().timeouts == 0


def test_a_server_too_slow_for_big_batches_ends_with_every_vector_in_order(servers, tmp_path, caplog):
    fast, slow = servers(), servers(per_input=0.005)  # one CPU: 32 inputs take 0.16 s, four such 0.64 s in all
    want = EmbeddingStore(tmp_path / "fast.sqlite").embed(get_embedder(f"api:m@{fast.url()}"), TEXTS)
    store = EmbeddingStore(tmp_path / "slow.sqlite")
    emb = get_embedder(f"api:m@{slow.url()},timeout=0.5")  # batch and concurrency: the defaults
    with caplog.at_level(logging.WARNING, "clusterank"):
        got = store.embed(emb, TEXTS)
    assert np.array_equal(got, want)  # the same vectors, each in its text's row
    pacer = emb.pacer()
    assert pacer.timeouts >= 1 and pacer.lanes == 1 and pacer.size < START_BATCH
    sizes = slow.sizes
    assert max(sizes) == START_BATCH and any(s < START_BATCH for s in sizes[1:-1])  # the batches shrank
    assert len(set(slow.inputs)) == len(slow.inputs)  # no request was ever sent twice as it was
    assert any("no answer within 0.5 s to 32 inputs" in r.getMessage() for r in caplog.records)
    seen = len(slow.loop.requests)
    assert np.array_equal(store.embed(emb, TEXTS), want) and len(slow.loop.requests) == seen  # all from the store
    assert np.array_equal(emb.embed(TEXTS[:50]), expected(TEXTS[:50]))  # raw vectors, in order


def test_one_input_that_times_out_alone_ends_the_job_with_one_error(servers, tmp_path):
    srv = servers(per_input=1.0, serial=False, cap=1.0)  # no request is answered in time, even of one input
    emb = get_embedder(f"api:m@{srv.url(f'alice:{SECRET}@')},timeout=0.5")
    emb._dims = 8  # known, as for a catalog model: no dimension probe
    with pytest.raises(ClusterankError) as err:
        EmbeddingStore(tmp_path / "s.sqlite").embed(emb, TEXTS[:64])
    message = str(err.value)
    assert f"127.0.0.1:{srv.loop.port}/v1/embeddings" in message and "no answer within 0.5 s" in message
    assert "a request of 1 input" in message and "from 32 inputs down to 1" in message and ",timeout=" in message
    assert "\n" not in message and SECRET not in message
    assert srv.sizes == [32, 32, 16, 8, 4, 2, 1]  # two at first, then halved after each timeout, one at a time
    assert len(set(srv.inputs)) == len(srv.inputs)


def test_a_given_batch_is_the_most_a_request_holds(servers):
    srv = servers()
    emb = get_embedder(f"api:m@{srv.url()},batch=8")
    assert np.array_equal(emb.embed(TEXTS[:100]), expected(TEXTS[:100]))
    # up to 4 requests are in flight, so they may reach the server in any order: compare the sizes sent
    assert sorted(srv.sizes[1:], reverse=True) == [8] * 12 + [4]


def test_the_query_side_shares_what_was_learned(servers):
    srv = servers(per_input=0.005)
    emb = get_embedder(f"nvidia:m@{srv.url()},timeout=0.5")
    queries = emb.for_queries()
    assert queries is not emb and queries.pacer() is emb.pacer()


# ---- (c) requests in flight

def test_concurrency_1_never_sends_a_second_request_before_the_first_is_answered(servers):
    one = servers(per_input=0.002, serial=False)
    emb = get_embedder(f"api:m@{one.url()},concurrency=1,batch=20")
    assert np.array_equal(emb.embed(TEXTS[:200]), expected(TEXTS[:200]))
    assert one.most_inside == 1 and one.sizes == [1] + [20] * 10
    four = servers(per_input=0.002, serial=False)
    get_embedder(f"api:m@{four.url()},batch=20").embed(TEXTS[:200])
    assert four.most_inside > 1  # the default: several at once


# ---- (d) the model's token limit per input

LONG = ["a short profile", "pipelines " * 200, "another short one", "x" * 5000]


def test_max_tokens_cuts_longer_inputs_with_one_warning(servers, tmp_path, caplog):
    srv = servers()
    emb = get_embedder(f"api:m@{srv.url()},max_tokens=20")
    assert emb.max_tokens == 20 and emb.truncate is True
    with caplog.at_level(logging.WARNING, "clusterank"):
        vecs = EmbeddingStore(tmp_path / "s.sqlite").embed(emb, LONG)
    sent = [t for texts in srv.inputs[1:] for t in texts]
    assert sent[0] == LONG[0] and sent[2] == LONG[2]
    assert LONG[1].startswith(sent[1]) and LONG[3].startswith(sent[3])
    assert estimate_tokens(sent[1]) <= 20 and estimate_tokens(sent[3]) <= 20
    said = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert len(said) == 1 and "2 of 4 texts are longer than its 20-token limit" in said[0], said
    assert vecs.shape == (4, 8)


def test_max_tokens_with_truncate_false_refuses_before_any_request(servers, tmp_path):
    srv = servers()
    emb = get_embedder(f"api:m@{srv.url()},max_tokens=20,truncate=false")
    with pytest.raises(ClusterankError, match=r"2 of 4 texts are longer than its 20-token limit \(max_tokens.*"
                                              r"truncate=false"):
        EmbeddingStore(tmp_path / "s.sqlite").embed(emb, LONG)
    assert srv.loop.requests == []


def test_without_max_tokens_texts_are_sent_whole(servers):
    srv = servers()
    emb = get_embedder(f"api:m@{srv.url()}")
    assert emb.truncate is None
    emb.embed(LONG)
    assert [t for texts in srv.inputs[1:] for t in texts] == LONG


# ---- (b) the options in the model name

def test_options_are_read_from_the_end_of_the_model_name():
    url = f"http://alice:{SECRET}@127.0.0.1:9/v1?key=k"
    emb = get_embedder(f"api:m@{url},batch=16,timeout=1.5,concurrency=2,max_tokens=512,batch_tokens=1000,"
                       "retries=2")
    assert (emb.batch, emb.timeout, emb.concurrency, emb.max_tokens, emb.batch_tokens, emb.max_retries) == \
        (16, 1.5, 2, 512, 1000, 2)
    assert emb.truncate is True and emb.name == "api:m@http://127.0.0.1:9/v1"  # options never in the store key
    assert emb.url == f"{url[:-6]}/embeddings?key=k" and emb.model == "m"
    assert stored_name(f"api:m@{url},batch=16,timeout=2") == "api:m@http://127.0.0.1:9/v1"
    default = get_embedder("api:m@http://127.0.0.1:9/v1,batch=auto")
    assert (default.batch, default.timeout, default.concurrency, default.max_retries, default.truncate) == \
        (None, 60.0, 4, 6, None)
    hosted = get_embedder("openai:text-embedding-3-small,timeout=5")
    assert hosted.name == "openai:text-embedding-3-small" and hosted.timeout == 5 and hosted.max_tokens == 8191
    assert get_embedder("api:m@http://127.0.0.1:9/v1?a=1,b=2").url.endswith("/embeddings?a=1,b=2")


BAD = [("batch=0", "batch='0'", "1 to 2,048"), ("batch=many", "batch='many'", "auto"),
       ("batch=5000", "batch='5000'", "2,048"), ("timeout=0", "timeout='0'", "0.1 to 3,600"),
       ("timeout=nan", "timeout='nan'", "finite"), ("timeout=-1", "timeout='-1'", "seconds"),
       ("concurrency=0", "concurrency='0'", "1 to 64"), ("concurrency=1.5", "concurrency='1.5'", "requests"),
       ("max_tokens=0", "max_tokens='0'", "1 to 1,000,000"), ("truncate=maybe", "truncate='maybe'", "true or false"),
       ("retries=-1", "retries='-1'", "0 to 20"), ("batch_tokens=0", "batch_tokens='0'", "tokens"),
       ("bacth=3", "unknown parameter 'bacth'", "batch, batch_tokens, timeout")]


@pytest.mark.parametrize("option, names, says", BAD, ids=[b[0] for b in BAD])
def test_a_bad_option_is_one_error_naming_it(option, names, says):
    with pytest.raises(ClusterankError) as err:
        get_embedder(f"api:m@http://alice:{SECRET}@127.0.0.1:9/v1,{option}")
    message = str(err.value)
    assert names in message and says in message and "\n" not in message and SECRET not in message, message


def test_a_batch_over_the_providers_limit_names_the_limit():
    with pytest.raises(ClusterankError, match=r"batch='51' is not valid .*1 to 50; nvidia: takes at most 50 inputs"):
        get_embedder("nvidia:nv-embedqa-e5-v5,batch=51")


def test_every_numeric_option_has_a_range():
    for provider in PROVIDERS.values():
        params = option_params(provider)
        own = () if provider.asymmetric_option else ("asymmetric",)  # `api:`'s alone
        assert tuple(params) == tuple(n for n in OPTION_NAMES if n not in own)
        for name, param in params.items():
            if name not in ("truncate", "asymmetric"):  # true/false and a choice of words are no range
                assert param.bound is not None, f"{provider.prefix}:{name} has no declared range"


# ---- the pacer alone

def test_the_pacer_grows_when_quick_halves_on_a_timeout_and_goes_single_file_when_slow():
    pacer = Pacer(batch=None, most=100, timeout=10, lanes=4)
    assert pacer.size == START_BATCH
    pacer.answered(START_BATCH, 1.0)
    pacer.answered(64, 1.0)
    pacer.answered(64, 1.0)  # a request sent before the growth says nothing new
    assert pacer.size == 100 and pacer.lanes == 4
    pacer.timed_out(100)
    assert (pacer.size, pacer.most, pacer.lanes) == (50, 50, 1)
    pacer.answered(50, 0.1)
    assert pacer.size == 50  # never back to a size that timed out
    pacer.answered(50, 8.0)
    assert pacer.size == 25
    fixed = Pacer(batch=8, most=100, timeout=10, lanes=2)
    fixed.answered(8, 0.01)
    assert fixed.size == 8 and fixed.lanes == 2
    fixed.answered(8, 6.0)
    assert fixed.lanes == 1 and fixed.size == 8
