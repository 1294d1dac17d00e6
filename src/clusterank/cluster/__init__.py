"""k-means clusters of a corpus: fit, choose k, describe, and project to 2-D for the map."""

from clusterank.cluster.describe import ClusterSummary, describe_clusters
from clusterank.cluster.kmeans import ClusterModel, choose_k, fit_kmeans

__all__ = ["ClusterModel", "ClusterSummary", "choose_k", "describe_clusters", "fit_kmeans"]
