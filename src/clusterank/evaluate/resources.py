"""Measuring a model on this machine: peak memory while it works, throughput and query latency.

Memory is the process's resident set size sampled in a background thread (Linux `/proc`), reported
as the peak above what the process held before the model was loaded: C and torch allocations count.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Speed:
    """Embedding throughput and single-query latency of one model here."""

    texts_per_s: float
    query_ms: float


def measure_speed(embedder, sample_texts: list[str], query: str, search) -> Speed:
    """Texts/s on `sample_texts` (after a warm-up) and median ms for one query: embed it and `search(vec)`."""
    embedder.embed(sample_texts[:2])  # warm-up: lazy loading, first-call overheads
    t = time.perf_counter()
    embedder.embed(sample_texts)
    texts_per_s = len(sample_texts) / max(time.perf_counter() - t, 1e-9)
    times = []
    for i in range(5):
        t = time.perf_counter()
        vec = embedder.embed([f"{query} ({i})"])
        search(vec)
        times.append(time.perf_counter() - t)
    return Speed(texts_per_s, sorted(times)[2] * 1000)
