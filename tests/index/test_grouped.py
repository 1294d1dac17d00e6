"""Soft, role-aware and role-routed retrievers on hand-made vectors whose right answers are known."""

import numpy as np
import pytest

from clusterank import ClusterankError, ExactIndex
from clusterank.cluster import fit_kmeans
from clusterank.index import SearchContext, build_retriever, canonical_spec
from clusterank.index.grouped import PRIOR_ALPHA, GroupRouteIndex, SoftGroupIndex, label_groups, resolve_alpha


def unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def two_roles(n=40, d=16, seed=0):
    """Rows of two roles around two centres; the query sits near role A's centre."""
    rng = np.random.default_rng(seed)
    a, b = unit(rng.standard_normal(d)), unit(rng.standard_normal(d))
    x = unit(np.vstack([a + 0.9 * rng.standard_normal((n, d)) / np.sqrt(d),
                        b + 0.9 * rng.standard_normal((n, d)) / np.sqrt(d)]))
    labels = ["A"] * n + ["B"] * n
    return x, labels, unit(a + 0.05 * rng.standard_normal(d))[None, :]


def test_label_groups_fall_back_to_clusters_for_rare_labels():
    clusters = np.array([0, 0, 1, 1, 1, 2])
    groups, names = label_groups(["A", "A", "B", "rare", None, "A"], clusters, min_size=2)
    assert names == ["A", "cluster 1"]
    assert groups.tolist() == [0, 0, 1, 1, -1, 0]  # B and "rare" (1 row each) join their cluster 1
    assert groups[4] == -1  # an unlabelled row keeps its own score
    routed, _ = label_groups(["A", "A", "B", "rare", None, "A"], clusters, min_size=2, fallback_unlabelled=True)
    assert routed[4] >= 0
    with pytest.raises(ClusterankError, match="more than one label; every labelled row says 'A'"):
        label_groups(["A", "A", None], np.zeros(3, int), 1)
    with pytest.raises(ClusterankError, match="needs labels"):
        label_groups([None, " "], np.zeros(2, int), 1)


def test_alpha_zero_is_exact_search_and_alpha_lifts_the_matching_role():
    x, labels, q = two_roles()
    groups, names = label_groups(labels, np.zeros(len(x), int), 5)
    exact = ExactIndex(x).search(q, 40)
    zero = SoftGroupIndex(x, groups, names, 0.0, "role").search(q, 40)
    np.testing.assert_array_equal(zero.rows, exact.rows)
    strong = SoftGroupIndex(x, groups, names, 3.0, "role").search(q, 40)
    assert sum(labels[r] == "A" for r in strong.rows[0]) >= sum(labels[r] == "A" for r in exact.rows[0])
    assert all(labels[r] == "A" for r in strong.rows[0][:20])
    np.testing.assert_allclose(strong.scores[0], x[strong.rows[0]] @ q[0], rtol=1e-5)  # shown scores are cosines
    everything = SoftGroupIndex(x, groups, names, 3.0, "role").search(q, len(x))
    assert sorted(everything.rows[0]) == list(range(len(x)))  # no row is ever cut off


def test_role_route_searches_only_the_best_roles():
    x, labels, q = two_roles()
    groups, names = label_groups(labels, np.zeros(len(x), int), 5)
    one = GroupRouteIndex(x, groups, names, 1, "role-route").search(q, 50)
    found = one.rows[0][one.rows[0] >= 0]
    assert len(found) == 40 and {labels[r] for r in found} == {"A"} and one.probed[0].tolist() == [0]
    both = GroupRouteIndex(x, groups, names, 2, "role-route").search(q, 10)
    np.testing.assert_array_equal(both.rows, ExactIndex(x).search(q, 10).rows)


def test_specs_build_from_the_registry_with_labels_and_tuning():
    x, labels, q = two_roles()
    context = SearchContext(x, lambda k: fit_kmeans(x, k), default_k=2, labels=labels,
                            tuned={"role": {"alpha": 0.7}})
    role = build_retriever("role", context)
    assert role.alpha == 0.7 and role.search(q, 5).groups is None
    assert build_retriever("role:alpha=0.2", context).alpha == 0.2
    assert build_retriever("soft", context).alpha == PRIOR_ALPHA  # nothing tuned for soft: the prior
    assert build_retriever("soft:alpha=1", context).search(q, 5).groups is not None  # k-means clusters
    assert build_retriever("role-route:m=1", context).search(q, 5).clusters_probed == 1
    assert resolve_alpha(0.4, "role", context) == 0.4
    for bad, message in [("role:alpha=-1", "alpha='-1' is not valid"), ("role:alpha=nan", "alpha='nan'"),
                         ("role:alpha=lots", "alpha='lots'"), ("role-route:m=0", "m='0' is not valid")]:
        with pytest.raises(ClusterankError, match=message):
            canonical_spec(bad)
    with pytest.raises(ClusterankError, match="role needs a label per profile"):
        build_retriever("role", SearchContext(x, default_k=2))


def test_role_groups_can_come_from_another_corpus_column(workspace, static_embedder):
    from clusterank import SearchPipeline, bundled_profiles

    pipe = SearchPipeline(bundled_profiles(n=300), static_embedder, workspace=workspace, n_clusters=4)
    by_family = pipe.retriever("role:by=family,alpha=1")
    assert set(by_family.names) <= set(pipe.corpus.families) | {f"cluster {c}" for c in range(4)}
    assert len(by_family.names) < len(pipe.retriever("role:alpha=1").names)  # families are coarser than roles
    with pytest.raises(ClusterankError, match="no column 'nope' to group by; columns are: .*family"):
        pipe.retriever("role:by=nope")
