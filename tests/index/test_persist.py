"""Saved indexes: written once, memory-mapped on the next start, updated by profile id without re-embedding the
rest, and refused with one clear error when they belong to another model or corpus or were truncated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("faiss")

from clusterank import SearchPipeline  # noqa: E402
from clusterank.data.loaders import load_profiles  # noqa: E402
from clusterank.data.synthetic import generate_profiles  # noqa: E402
from clusterank.data.writers import write_table  # noqa: E402
from clusterank.embed.store import EmbeddingStore  # noqa: E402
from clusterank.errors import ClusterankError  # noqa: E402
from clusterank.index.persist import SavedIndex  # noqa: E402

SPECS = ["float16", "int8", "binary:rescore=8", "ivfpq:m=16,nprobe=16,rescore=8"]
QUERIES = ["Senior product marketing manager for a B2B SaaS launch", "Data engineer: Spark, Airflow, dbt"]


@pytest.fixture
def corpus_file(tmp_path):
    frame = generate_profiles(600, seed=3)
    frame.insert(0, "id", [f"p{i}" for i in range(len(frame))])
    path = tmp_path / "profiles.parquet"
    write_table(frame, path)
    return path, frame


def _rows(pipeline, spec, k=10):
    return [[h.row for h in hits] for hits in pipeline.search_many(QUERIES, k, retriever=spec)]


def test_saved_index_reopens_memory_mapped_with_the_same_results(workspace, corpus_file):
    path, _ = corpus_file
    built = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace)
    before = {spec: _rows(built, spec) for spec in ["exact", *SPECS]}
    saved = built.save_index(SPECS)
    assert saved.path == built.index_path and set(saved.specs) == {"exact", *SPECS}

    again = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace)
    assert again.saved is not None and isinstance(again.vectors, np.memmap)
    np.testing.assert_array_equal(np.asarray(again.vectors), built.vectors)
    for spec, rows in before.items():
        assert _rows(again, spec) == rows, spec


def test_changed_corpus_is_updated_by_id_without_re_embedding_the_rest(workspace, corpus_file, caplog):
    path, frame = corpus_file
    SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace).save_index(SPECS)
    extra = generate_profiles(650, seed=4).iloc[600:].copy()  # 50 new profiles with new ids
    extra.insert(0, "id", [f"new-{i}" for i in range(len(extra))])
    changed = frame.drop(index=[5, 17, 300]).reset_index(drop=True)
    changed = pd.concat([changed.iloc[:200], extra, changed.iloc[200:]], ignore_index=True)  # new rows mid-file
    write_table(changed, path)
    corpus = load_profiles(path)
    store = EmbeddingStore(workspace.store_path)
    stored_before = store.count("minilm-static")

    with caplog.at_level("WARNING"):
        updated = SearchPipeline(corpus, "minilm-static", workspace=workspace)
    assert "stale" in caplog.text and "+50 added, -3 removed, 597 kept" in caplog.text
    assert store.count("minilm-static") == stored_before + 50  # only the new profiles were embedded
    assert len(updated.saved) == len(corpus) and not updated.saved.identity

    fresh = SearchPipeline(corpus, "minilm-static", workspace=workspace, use_saved_index=False)
    np.testing.assert_allclose(np.asarray(updated.vectors), fresh.vectors, atol=1e-6)
    assert _rows(updated, "exact") == _rows(fresh, "exact")
    assert _rows(updated, "float16") == _rows(fresh, "float16")  # float16 has no calibration: same codes
    removed = set(frame["id"].iloc[[5, 17, 300]])
    for spec in SPECS:  # patched codes: every new profile is found by its own text, no removed one is returned
        hits = updated.search_many([corpus.texts[r] for r in range(200, 205)], 5, retriever=spec)
        assert [h[0].row for h in hits] == list(range(200, 205)), spec
        ids = {corpus.ids[h.row] for q in updated.search_many(QUERIES, 50, retriever=spec) for h in q}
        assert not ids & removed, spec

    again = SearchPipeline(corpus, "minilm-static", workspace=workspace)  # up to date now: no message
    assert again.saved.fingerprint == again.corpus_key
    assert _rows(again, "binary:rescore=8") == _rows(updated, "binary:rescore=8")


def test_most_rows_gone_rebuilds_in_corpus_order(workspace, corpus_file):
    path, frame = corpus_file
    SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace).save_index(["int8"])
    write_table(frame.iloc[:200], path)
    pipeline = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace)
    assert pipeline.saved.identity and len(pipeline.saved) == 200
    fresh = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace, use_saved_index=False)
    assert _rows(pipeline, "int8") == _rows(fresh, "int8")


def test_truncated_other_model_and_unsaveable_kinds_are_one_clear_error(workspace, corpus_file):
    path, _ = corpus_file
    pipeline = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace)
    saved = pipeline.save_index(["binary"])
    with pytest.raises(ClusterankError, match="cannot be saved"):
        pipeline.save_index(["routed:nprobe=2"])
    with pytest.raises(ClusterankError, match="built for model 'minilm-static', not 'other'"):
        SavedIndex.open(saved.path, model="other")
    with pytest.raises(ClusterankError, match="built for corpus"):
        SavedIndex.open(saved.path, corpus="/elsewhere/profiles.parquet")

    vectors = saved.path / "vectors.npy"
    data = vectors.read_bytes()
    vectors.write_bytes(data[: len(data) // 2])
    with pytest.raises(ClusterankError, match=r"vectors.npy: index file .* truncated"):
        SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace)
    rebuilt = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace, use_saved_index=False)
    rebuilt.save_index(["binary"], rebuild=True)
    assert SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace).saved.specs == [
        "exact", "binary"]


def test_without_an_id_column_profiles_are_matched_by_text(workspace, tmp_path):
    frame = generate_profiles(300, seed=5)
    path = tmp_path / "noid.csv"
    write_table(frame, path)
    SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace).save_index()
    write_table(frame.drop(index=[0, 1]), path)  # every row number shifts; no text changed
    pipeline = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace)
    assert len(pipeline.saved) == 298 and pipeline.saved.identity  # 2 removed, 298 kept in place
    fresh = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace, use_saved_index=False)
    assert _rows(pipeline, "exact") == _rows(fresh, "exact")


def test_cli_builds_reports_and_refuses_a_truncated_index(workspace, corpus_file, capsys):
    from clusterank.cli import main

    path, _ = corpus_file
    assert main(["index", "build", "--corpus", str(path), "-r", "exact,binary:rescore=8"]) == 0
    assert "binary:rescore=8" in capsys.readouterr().out
    assert main(["index", "info"]) == 0
    assert "minilm-static" in capsys.readouterr().out
    assert main(["search", "product marketing manager", "--corpus", str(path), "-r", "binary:rescore=8"]) == 0
    capsys.readouterr()
    codes = next(workspace.root.glob("indexes/*/*/binary_rescore_8.faiss"))
    codes.write_bytes(codes.read_bytes()[:100])
    assert main(["search", "product marketing manager", "--corpus", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "binary_rescore_8.faiss: index file" in err[0] and "--rebuild" in err[0]
    assert main(["index", "build", "--corpus", str(path), "-r", "binary:rescore=8", "--rebuild"]) == 0
    assert main(["search", "product marketing manager", "--corpus", str(path), "-r", "binary:rescore=8"]) == 0


def test_a_flipped_byte_in_any_index_file_is_caught_by_its_checksum(workspace, corpus_file):
    path, _ = corpus_file
    saved = SearchPipeline(load_profiles(path), "minilm-static", workspace=workspace).save_index(["int8"])
    for name in ("vectors.npy", "int8.faiss", "ids.npy"):
        f = saved.path / name
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0x01
        f.write_bytes(bytes(data))
        opened = SavedIndex.open(saved.path)  # a start checks sizes only (milliseconds at any size)
        damaged = rf"{name}: index file damaged: its checksum differs"
        with pytest.raises(ClusterankError, match=damaged):
            opened.verify()  # what `clusterank index check` does
        with pytest.raises(ClusterankError, match=damaged):
            SavedIndex.open(saved.path, verify=True)
        if name == "int8.faiss":  # a retriever's files are checked when first loaded: faiss never parses them
            with pytest.raises(ClusterankError, match=damaged):
                opened.retriever("int8")
        with pytest.raises(ClusterankError, match=damaged):  # never carried into a rewritten index
            opened.add_retriever("float16")
        data[len(data) // 2] ^= 0x01
        f.write_bytes(bytes(data))
    SavedIndex.open(saved.path, verify=True)  # restored: passes again
