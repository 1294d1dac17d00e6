"""Prometheus metrics of one server process (`GET /metrics`, text format 0.0.4): requests by path and
status, a latency histogram, embeddings served and cache hits. With several workers each process
counts its own; the `pid` label tells them apart.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PATHS = ("/v1/embeddings", "/v1/rerank", "/v1/search", "/v1/models", "/healthz", "/metrics", "/docs",
         "/openapi.json")
"""Paths counted by name; every other path counts as `other` (a client cannot grow the label set)."""


class Metrics:
    """Counters and a histogram, safe to update from the server's threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.embeddings: dict[str, int] = defaultdict(int)
        self.cache_hits: dict[str, int] = defaultdict(int)
        self.in_flight = 0

    def observe(self, path: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        path = path if path in PATHS else "other"
        with self._lock:
            self.requests[(path, status)] += 1
            counts = self.latency[path]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self.latency_sum[path] += seconds

    def embedded(self, model: str, texts: int, cached: int) -> None:
        """Count vectors served for `model` and how many came from the cache."""
        with self._lock:
            self.embeddings[model] += texts
            self.cache_hits[model] += cached

    def text(self) -> str:
        """The metrics in Prometheus' text format."""
        pid = os.getpid()
        out = ["# HELP clusterank_requests_total HTTP requests by path and status.",
               "# TYPE clusterank_requests_total counter"]
        with self._lock:
            for (path, status), n in sorted(self.requests.items()):
                out.append(f'clusterank_requests_total{{path="{path}",status="{status}",pid="{pid}"}} {n}')
            out += ["# HELP clusterank_request_seconds Request latency.",
                    "# TYPE clusterank_request_seconds histogram"]
            for path, counts in sorted(self.latency.items()):
                total = 0
                for bound, n in zip((*BUCKETS, "+Inf"), counts):
                    total += n
                    out.append(f'clusterank_request_seconds_bucket{{path="{path}",le="{bound}",pid="{pid}"}} {total}')
                out.append(f'clusterank_request_seconds_sum{{path="{path}",pid="{pid}"}} {self.latency_sum[path]:.6f}')
                out.append(f'clusterank_request_seconds_count{{path="{path}",pid="{pid}"}} {total}')
            out += ["# HELP clusterank_embeddings_total Vectors returned by /v1/embeddings.",
                    "# TYPE clusterank_embeddings_total counter"]
            out += [f'clusterank_embeddings_total{{model="{m}",pid="{pid}"}} {n}' for m, n in sorted(self.embeddings.items())]
            out += ["# HELP clusterank_cache_hits_total Vectors served from the embedding cache.",
                    "# TYPE clusterank_cache_hits_total counter"]
            out += [f'clusterank_cache_hits_total{{model="{m}",pid="{pid}"}} {n}' for m, n in sorted(self.cache_hits.items())]
            out += ["# HELP clusterank_in_flight Requests being served now.", "# TYPE clusterank_in_flight gauge",
                    f'clusterank_in_flight{{pid="{pid}"}} {self.in_flight}']
        return "\n".join(out) + "\n"
