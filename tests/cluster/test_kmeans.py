import numpy as np
import pytest

from clusterank import ClusterankError
from clusterank.cluster import ClusterModel, choose_k, describe_clusters, fit_kmeans
from clusterank.cluster.project import fit_projection


def blobs(n_per=60, centres=4, d=16, seed=0, spread=0.15):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d))
    x = np.vstack([c[i] + spread * rng.standard_normal((n_per, d)) for i in range(centres)]).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(centres), n_per)


def test_kmeans_recovers_separated_groups_and_is_deterministic():
    x, truth = blobs()
    a, b = fit_kmeans(x, 4, seed=42), fit_kmeans(x, 4, seed=42)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.centroids, b.centroids)
    for c in range(4):  # each found cluster is exactly one true group
        assert len(set(truth[a.rows(c)])) == 1
    np.testing.assert_allclose(np.linalg.norm(a.centroids, axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(a.assign(x), a.labels)
    assert a.sizes.sum() == len(x)


def test_bad_k_and_empty_clusters_are_clear_errors():
    x, _ = blobs(n_per=3, centres=2)
    with pytest.raises(ClusterankError, match="k = 7 is larger than the corpus \\(6 rows\\)"):
        fit_kmeans(x, 7)
    with pytest.raises(ClusterankError, match="k must be at least 2"):
        fit_kmeans(x, 1)
    with pytest.raises(ClusterankError, match="cluster 2 is empty"):
        ClusterModel(np.eye(3, 16, dtype=np.float32), np.array([0, 1, 0, 1]))


def test_save_and_load_round_trip(tmp_path):
    x, _ = blobs()
    model = fit_kmeans(x, 4, corpus_key="abc")
    loaded = ClusterModel.load(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.labels, model.labels)
    assert loaded.corpus_key == "abc" and loaded.seed == 42
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ClusterankError, match="not a clusterank cluster model"):
        ClusterModel.load(tmp_path / "bad.npz")


def test_choose_k_by_silhouette_finds_the_true_number():
    x, _ = blobs(centres=5, spread=0.1)
    best, scores = choose_k(x, ks=[2, 3, 5, 8])
    assert best == 5 and set(scores) == {2, 3, 5, 8}
    assert scores[5] == max(scores.values())


def test_describe_names_clusters_by_their_roles(workspace, static_embedder):
    from clusterank import SearchPipeline, bundled_profiles

    pipe = SearchPipeline(bundled_profiles(n=600), static_embedder, workspace=workspace)
    model = pipe.clusters(6)
    summaries = describe_clusters(model, pipe.corpus)
    assert [s.size for s in summaries] == model.sizes.tolist()
    for s in summaries:
        role, share = s.top_roles[0]
        rows = model.rows(s.cluster)
        assert share == pytest.approx(sum(pipe.corpus.labels[i] == role for i in rows) / len(rows))
        assert abs(sum(s.family_shares.values()) - 1) < 1e-9
        assert s.headline_words and s.label.startswith(role)
    # stored beside the embeddings and reused
    assert list((workspace.root / "clusters").rglob("*-k6-seed42.npz"))
    np.testing.assert_array_equal(pipe.clusters(6).labels, model.labels)


def test_projection_fits_on_a_sample_and_transforms_the_rest():
    x, truth = blobs(n_per=200)
    projection, xy = fit_projection(x, "pca", sample=100)
    assert xy.shape == (800, 2) and projection.sample_size == 100
    np.testing.assert_allclose(projection.transform(x[:5]), xy[:5], rtol=1e-5, atol=1e-6)
    with pytest.raises(ClusterankError, match="unknown projection 'tsne'"):
        fit_projection(x, "tsne")


@pytest.mark.slow
def test_umap_projection():
    pytest.importorskip("umap")
    x, truth = blobs(n_per=40)
    _, xy = fit_projection(x, "umap")
    assert xy.shape == (160, 2) and np.isfinite(xy).all()
    centres = np.array([xy[truth == c].mean(axis=0) for c in range(4)])
    spread = max(np.linalg.norm(xy[truth == c] - centres[c], axis=1).mean() for c in range(4))
    gaps = min(np.linalg.norm(centres[i] - centres[j]) for i in range(4) for j in range(i + 1, 4))
    assert gaps > spread  # groups stay apart in the layout
