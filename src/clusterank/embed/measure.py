"""Measuring an embedder on this machine: peak memory while it works, throughput and query latency.

Memory is the process's resident set size sampled in a background thread (Linux `/proc`), reported
as the peak above what the process held before the model was loaded: C and torch allocations count.
"""

from __future__ import annotations

import os
import threading
import time

from clusterank.embed.base import truncation_summary

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident memory of this process in MB (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 1e6
    except OSError:
        return 0.0


class PeakMemory:
    """Context manager: the peak RSS above the starting RSS, sampled every `interval` seconds."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.start, self.peak = interval, 0.0, 0.0
        self._stop = threading.Event()

    def __enter__(self) -> "PeakMemory":
        self.start = self.peak = rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())

    @property
    def delta_mb(self) -> float:
        """Peak minus start, in MB."""
        return max(0.0, self.peak - self.start)


def measure_throughput(embedder, sample_texts: list[str], min_seconds: float = 1.0) -> float:
    """Texts/s of `embedder` on `sample_texts`, after a two-text warm-up (lazy loading, first calls).

    The sample is embedded again until `min_seconds` have passed, so a fast model is not timed on a
    few milliseconds of work.
    """
    with truncation_summary(quiet=True):
        embedder.embed(sample_texts[:2])
        done, t = 0, time.perf_counter()
        while True:
            embedder.embed(sample_texts)
            done += len(sample_texts)
            elapsed = time.perf_counter() - t
            if elapsed >= min_seconds:
                return done / elapsed


def measure_query_ms(embedder, query: str, search=None, repeats: int = 5, warmup: int = 8) -> float:
    """Median milliseconds to embed one job description (a fresh variant each time) and run `search(vector)`.

    The first `warmup` rounds are run and not timed: first calls pay for lazy set-up (thread pools, kernels, a
    library's first import, ONNX Runtime's first runs), which would otherwise be charged to whichever model
    `compare` measures first (`bench/query_order.py`: 2 rounds left an ONNX model 1.20x slower measured first, 8
    rounds 1.06x)."""
    times = []
    with truncation_summary(quiet=True):
        for i in range(warmup + repeats):
            t = time.perf_counter()
            vec = embedder.embed([f"{query} ({i})"])
            if search is not None:
                search(vec)
            if i >= warmup:
                times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2] * 1000
