"""Loaders on small real files written in the seed dataset's schema (and its quirks)."""

import json

import numpy as np
import pandas as pd
import pytest

from clusterank import ClusterankError, PrecomputedEmbedder, load_profiles, load_queries, read_table

FIELDS = ["FirstName", "LastName", "Headline", "Location", "About Me", "Experience", "Education", "Skills",
          "Certifications", "Recommendations"]


def seed_schema_frame(n=4, dims=6, seed=0):
    """A few rows shaped like ilsilfverskiold/linkedin_profiles_synthetic, trailing-space column included."""
    rng = np.random.default_rng(seed)
    titles = ["Product Marketing Manager", "Product Manager", "Data Scientist", "Recruiter"]
    rows = []
    for i in range(n):
        t = titles[i % len(titles)]
        row = {"FirstName": f"Ann{i}", "LastName": "Lee", "Headline": f"{t} | Building things {i}",
               "Location": "Oslo", "About Me": f"I am a {t.lower()}.", "Experience": f"{t} at Acme (2019-2024)",
               "Education": "BSc", "Skills": "Excel, SQL", "Certifications": "", "Recommendations": ""}
        row["text"] = " ".join(str(row[f]) for f in FIELDS)
        row["embeddings_mxbai-embed-large-v1 "] = rng.standard_normal(dims).astype(np.float32).tolist()
        row["embeddings_text-embedding-3-small"] = rng.standard_normal(dims + 2).tolist()
        rows.append(row)
    return pd.DataFrame(rows)


def test_parquet_in_the_seed_schema(tmp_path):
    path = tmp_path / "profiles.parquet"
    seed_schema_frame().to_parquet(path)
    corpus = load_profiles(path)
    assert len(corpus) == 4 and corpus.texts[0].startswith("Ann0 Lee")
    assert corpus.labels == ["Product Marketing Manager", "Product Manager", "Data Scientist", "Recruiter"]
    assert set(corpus.precomputed) == {"mxbai-embed-large-v1", "text-embedding-3-small"}
    assert corpus.precomputed["mxbai-embed-large-v1"].shape == (4, 6)
    assert corpus.precomputed["mxbai-embed-large-v1"].dtype == np.float32
    assert corpus.ids == ["0", "1", "2", "3"]


def test_text_column_absent_joins_profile_fields(tmp_path):
    path = tmp_path / "p.jsonl"
    seed_schema_frame().drop(columns=["text"]).to_json(path, orient="records", lines=True)
    corpus = load_profiles(path)
    assert "Headline: Product Manager | Building things 1" in corpus.texts[1]
    assert "About Me: I am a product manager." in corpus.texts[1]


def test_csv_with_role_column_and_json_vectors(tmp_path):
    frame = seed_schema_frame()
    frame["role"] = ["PMM", "PM", "DS", "REC"]
    for col in [c for c in frame.columns if c.startswith("embeddings_")]:
        frame[col] = frame[col].map(json.dumps)
    path = tmp_path / "p.csv"
    frame.to_csv(path, index=False)
    corpus = load_profiles(path)
    assert corpus.labels == ["PMM", "PM", "DS", "REC"]
    assert corpus.precomputed["text-embedding-3-small"].shape == (4, 8)


def test_parquet_folder_and_saved_hf_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    frame = seed_schema_frame(n=6)
    folder = tmp_path / "data"
    folder.mkdir()
    frame.iloc[:3].to_parquet(folder / "train-00000-of-00002.parquet")
    frame.iloc[3:].to_parquet(folder / "train-00001-of-00002.parquet")
    assert len(load_profiles(folder)) == 6
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_pandas(frame)}).save_to_disk(str(saved))
    corpus = load_profiles(saved)
    assert len(corpus) == 6 and "mxbai-embed-large-v1" in corpus.precomputed
    with pytest.raises(ClusterankError, match="no split 'test'"):
        load_profiles(saved, split="test")


def test_hub_loading_code_on_a_local_repo_of_the_same_layout(tmp_path):
    """`hf:<name>` calls datasets.load_dataset(name); a folder laid out like the hub repo takes the same path."""
    pytest.importorskip("datasets")
    repo = tmp_path / "linkedin_profiles_synthetic"
    (repo / "data").mkdir(parents=True)
    frame = seed_schema_frame(n=5)
    frame.iloc[:2].to_parquet(repo / "data" / "train-00000-of-00002.parquet")
    frame.iloc[2:].to_parquet(repo / "data" / "train-00001-of-00002.parquet")
    corpus = load_profiles(f"hf:{repo}")
    assert len(corpus) == 5 and corpus.labels[1] == "Product Manager"
    assert corpus.precomputed["mxbai-embed-large-v1"].shape == (5, 6)


def test_hub_dataset_offline_fails_in_one_line():
    pytest.importorskip("datasets")
    with pytest.raises(ClusterankError, match="hf:ilsilfverskiold/linkedin_profiles_synthetic: cannot load"):
        read_table("hf:ilsilfverskiold/linkedin_profiles_synthetic")


def test_queries_use_natural_language_column(tmp_path):
    path = tmp_path / "q.jsonl"
    pd.DataFrame({"natural_language": ["Need someone for launches"], "role": ["Product Marketing Manager"]}).to_json(
        path, orient="records", lines=True)
    q = load_queries(path)
    assert q.texts == ["Need someone for launches"] and q.labels == ["Product Marketing Manager"]


def test_precomputed_embedder_serves_corpus_and_query_vectors(tmp_path):
    frame = seed_schema_frame()
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    qpath = tmp_path / "q.parquet"
    pd.DataFrame({"natural_language": ["launch messaging"], "embeddings_mxbai-embed-large-v1 ": [[1.0] * 6]}).to_parquet(qpath)
    profiles, queries = load_profiles(path), load_queries(qpath)
    emb = PrecomputedEmbedder.from_tables("mxbai-embed-large-v1", profiles, queries)
    assert emb.name == "precomputed:mxbai-embed-large-v1" and emb.dims == 6
    np.testing.assert_array_equal(emb.embed(["launch messaging"])[0], np.ones(6, np.float32))
    np.testing.assert_array_equal(emb.embed([profiles.texts[2]])[0], profiles.precomputed["mxbai-embed-large-v1"][2])
    with pytest.raises(ClusterankError, match="has no vector for text 0"):
        emb.embed(["a text nobody embedded"])
    with pytest.raises(ClusterankError, match="no column 'embeddings_bge-m3'"):
        PrecomputedEmbedder.from_tables("bge-m3", profiles)


# --- bad input: one clear line naming the file, column and row ---

def test_missing_file(tmp_path):
    with pytest.raises(ClusterankError, match=r"nope\.parquet: no such file"):
        load_profiles(tmp_path / "nope.parquet")


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ClusterankError, match=r"broken\.parquet: (cannot read|unreadable)"):
        load_profiles(path)
    bad_json = tmp_path / "broken.jsonl"
    bad_json.write_text('{"text": "ok"}\n{not json\n')
    with pytest.raises(ClusterankError, match=r"broken\.jsonl: cannot read it as jsonl"):
        load_profiles(bad_json)


def test_unknown_format(tmp_path):
    path = tmp_path / "p.xlsx"
    path.write_text("x")
    with pytest.raises(ClusterankError, match="unknown format '.xlsx'"):
        load_profiles(path)


def test_missing_text_column(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"body": ["a"], "role": ["x"]}).to_csv(path, index=False)
    with pytest.raises(ClusterankError, match=r"p\.csv: no column 'text' and none of the profile fields.*body, role"):
        load_profiles(path)
    with pytest.raises(ClusterankError, match="no column 'natural_language'"):
        load_queries(path)


def test_empty_text_names_the_row(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame({"text": ["fine", "", "also fine", "  "], "role": list("abcd")}).to_csv(path, index=False)
    with pytest.raises(ClusterankError, match=r"p\.csv, column 'text': row 1 is empty \(2 empty rows\)"):
        load_profiles(path)


def test_wrong_vector_size_names_column_and_row(tmp_path):
    frame = seed_schema_frame()
    frame.at[2, "embeddings_mxbai-embed-large-v1 "] = [0.1] * 5
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    with pytest.raises(ClusterankError, match=r"column 'embeddings_mxbai-embed-large-v1 ', row 2: vector has 5 "
                                              r"dimensions, row 0 has 6"):
        load_profiles(path)


def test_nan_vector_names_column_and_row(tmp_path):
    frame = seed_schema_frame()
    frame.at[3, "embeddings_text-embedding-3-small"] = [0.1] * 7 + [float("nan")]
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    with pytest.raises(ClusterankError, match=r"column 'embeddings_text-embedding-3-small', row 3: vector contains NaN"):
        load_profiles(path)


def test_a_named_label_column_that_does_not_exist_is_an_error(tmp_path):
    import pandas as pd

    from clusterank import ClusterankError, load_profiles

    path = tmp_path / "p.csv"
    pd.DataFrame({"text": ["a", "b"], "role": ["x", "y"]}).to_csv(path, index=False)
    assert load_profiles(path).labels == ["x", "y"]
    with pytest.raises(ClusterankError, match="no label column 'job_family'; columns are: text, role"):
        load_profiles(path, label_column="job_family")
