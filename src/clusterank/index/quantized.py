"""Quantized retrievers: the same cosine search over compressed vectors (FAISS underneath, numpy in and out).

`float16` (2x smaller), `int8` (4x; scalar quantization with per-dimension ranges calibrated on the corpus),
`binary` (32x; sign bits compared by Hamming distance, then the top `rescore x k` rescored with the float32
vectors), and `ivfpq` (inverted lists + product quantization, optionally rescored). Each reports the bytes
of its index (`memory_bytes`), so a comparison can weigh what it keeps of exact search against what it saves.
"""

from __future__ import annotations

import math

import numpy as np

from clusterank.errors import ClusterankError
from clusterank.index.base import (DIMS, NON_NEGATIVE, POSITIVE, ROWS, Param, Retriever, RetrieverType, TopK,
                                   whole)
from clusterank.index.exact import check_vectors, top_k


def _faiss():
    from clusterank.errors import require

    return require("faiss", "faiss", "quantized retrievers")


def _rescored(vectors: np.ndarray, q: np.ndarray, candidates: np.ndarray, k: int) -> TopK:
    """Exact cosines of each query's candidate rows (-1 = none), best k first."""
    rows = np.full((len(q), k), -1, dtype=np.int64)
    scores = np.full((len(q), k), -np.inf, dtype=np.float32)
    for i, cand in enumerate(candidates):
        cand = cand[cand >= 0]
        if not len(cand):
            continue
        exact = vectors[cand] @ q[i]
        order, vals = top_k(exact[None, :], min(k, len(cand)))
        rows[i, : order.shape[1]], scores[i, : order.shape[1]] = cand[order[0]], vals[0]
    return TopK(rows, scores)


class _FaissIndex(Retriever):
    """A FAISS inner-product index over the corpus, optionally rescoring its top `rescore x k` exactly."""

    spec = ""

    def __init__(self, vectors: np.ndarray, index, rescore: int = 0, *, check: bool = True):
        self.vectors = check_vectors(vectors, what="corpus vectors") if check else vectors
        if len(self.vectors) == 0:
            raise ClusterankError("corpus vectors: the index needs at least one vector")
        self.index, self.rescore = index, rescore

    def state(self) -> dict:
        """What a saved index needs besides the FAISS index and the vectors to rebuild this object."""
        return {k: v for k, v in vars(self).items() if k not in ("vectors", "index", "rescore", "spec")}

    @classmethod
    def restore(cls, vectors: np.ndarray, index, rescore: int, state: dict) -> "_FaissIndex":
        """The retriever again from a saved FAISS index, its `state()` and the (memory-mapped) vectors."""
        obj = cls.__new__(cls)
        _FaissIndex.__init__(obj, vectors, index, rescore, check=False)
        obj.__dict__.update(state)
        return obj

    def add_codes(self, vectors: np.ndarray) -> None:
        """Encode and append rows (their rows follow the existing ones; codebooks are not retrained)."""
        self.index.add(vectors)

    def remove_codes(self, rows: np.ndarray) -> None:
        """Drop rows; the rows after them move up, keeping their order."""
        self.index.remove_ids(_faiss().IDSelectorBatch(np.asarray(rows, dtype=np.int64)))

    @property
    def dims(self) -> int:
        """Vector size."""
        return int(self.vectors.shape[1])

    @property
    def memory_bytes(self) -> int:
        """Bytes the compressed index holds (the float32 vectors kept for rescoring are not counted)."""
        return int(self.index.sa_code_size() * self.index.ntotal)

    def _candidates(self, q: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        scores, rows = self.index.search(q, depth)
        return rows, scores

    def search(self, query_vecs: np.ndarray, k: int) -> TopK:
        """The k best rows of each query (L2-normalised queries)."""
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        q = check_vectors(query_vecs, self.dims, what="query vectors")
        k = min(k, len(self.vectors))
        if self.rescore:
            rows, _ = self._candidates(q, min(len(self.vectors), self.rescore * k))
            return _rescored(self.vectors, q, rows, k)
        rows, scores = self._candidates(q, k)
        return TopK(rows.astype(np.int64), np.where(rows >= 0, scores, -np.inf).astype(np.float32))


class ScalarQuantizedIndex(_FaissIndex):
    """`float16` or `int8` (per-dimension min/max calibrated on the corpus) scalar quantization."""

    def __init__(self, vectors: np.ndarray, kind: str, rescore: int = 0):
        faiss = _faiss()
        vecs = check_vectors(vectors, what="corpus vectors")
        qtype = {"float16": faiss.ScalarQuantizer.QT_fp16, "int8": faiss.ScalarQuantizer.QT_8bit}[kind]
        index = faiss.IndexScalarQuantizer(vecs.shape[1], qtype, faiss.METRIC_INNER_PRODUCT)
        index.train(vecs)
        index.add(vecs)
        super().__init__(vecs, index, rescore)


class BinaryIndex(_FaissIndex):
    """`binary`: one bit per dimension (above or below the corpus mean), Hamming distance, then float32
    rescoring of the `rescore x k` nearest. Centring first matters: the dimensions of a static or PCA'd
    model are far from zero-mean, and their raw signs say little."""

    def __init__(self, vectors: np.ndarray, rescore: int = 4):
        faiss = _faiss()
        vecs = check_vectors(vectors, what="corpus vectors")
        self.mean = vecs.mean(axis=0)
        self.bits = int(math.ceil(vecs.shape[1] / 8) * 8)
        index = faiss.IndexBinaryFlat(self.bits)
        index.add(self._codes(vecs))
        super().__init__(vecs, index, max(1, rescore))

    @property
    def memory_bytes(self) -> int:
        """Bytes of the sign bits (the float32 vectors kept for rescoring are not counted)."""
        return int(self.index.ntotal * self.bits // 8)

    def add_codes(self, vectors: np.ndarray) -> None:
        """Append the sign bits of new rows (against the mean of the corpus it was built on)."""
        self.index.add(self._codes(vectors))

    def _codes(self, vecs: np.ndarray) -> np.ndarray:
        bits = np.zeros((len(vecs), self.bits), dtype=bool)
        bits[:, : vecs.shape[1]] = vecs > self.mean
        return np.packbits(bits, axis=1)

    def _candidates(self, q: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        distances, rows = self.index.search(self._codes(q), depth)
        return rows, -distances.astype(np.float32)


IVFPQ_MIN_ROWS = 256
"""Rows ivfpq needs: 256 codes per sub-quantizer are trained on them."""


def default_nlist(n: int) -> int:
    """The inverted lists of an ivfpq index over n rows when the spec does not say: 4 sqrt(n), >= 39 rows each."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


class IVFPQIndex(_FaissIndex):
    """`ivfpq`: k-means inverted lists (`nlist`, searching `nprobe`) over product-quantized codes (`m` bytes)."""

    def __init__(self, vectors: np.ndarray, nlist: int | None = None, m: int | None = None, nprobe: int = 8,
                 rescore: int = 0, seed: int = 42):
        faiss = _faiss()
        vecs = check_vectors(vectors, what="corpus vectors")
        n, d = vecs.shape
        nlist = nlist or default_nlist(n)
        m = m or next(x for x in (d // 4, d // 8, d // 2, d, 1) if x >= 1 and d % x == 0)
        if d % m:
            raise ClusterankError(f"ivfpq: m={m} must divide the vector size {d}")
        if n < IVFPQ_MIN_ROWS:
            raise ClusterankError(f"ivfpq needs at least {IVFPQ_MIN_ROWS} vectors to train its codebooks, got {n}")
        if not 1 <= nlist <= n or not 1 <= m <= d:
            raise ClusterankError(f"ivfpq: nlist={nlist} must be 1 to {n:,} (the rows) and m={m} 1 to {d} (the "
                                  f"dimensions)")
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = index.pq.cp.seed = seed
        # 256 codes per sub-quantizer from a few thousand rows is fine; FAISS would warn below 39 rows per code
        index.cp.min_points_per_centroid = index.pq.cp.min_points_per_centroid = 4
        index.train(vecs)
        index.add(vecs)
        index.nprobe = min(nprobe, nlist)
        super().__init__(vecs, index, rescore)
        self.nlist, self.m = nlist, m
        self.labels: np.ndarray | None = None  # the FAISS id of each row once rows were removed (ascending)

    def _candidates(self, q: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        scores, found = self.index.search(q, depth)
        if self.labels is None:
            return found, scores
        rows = np.searchsorted(self.labels, found)  # inverted lists keep ids: map them back to row numbers
        return np.where(found >= 0, rows, -1), scores

    def add_codes(self, vectors: np.ndarray) -> None:
        """Encode and append rows under new ids (the inverted lists and codebooks are not retrained)."""
        labels = np.arange(self.index.ntotal, dtype=np.int64) if self.labels is None else self.labels
        start = int(labels[-1]) + 1 if len(labels) else 0
        new = np.arange(start, start + len(vectors), dtype=np.int64)
        self.index.add_with_ids(vectors, new)
        self.labels = np.concatenate([labels, new])

    def remove_codes(self, rows: np.ndarray) -> None:
        """Drop rows by their row numbers (their FAISS ids are looked up)."""
        labels = np.arange(self.index.ntotal, dtype=np.int64) if self.labels is None else self.labels
        rows = np.asarray(rows, dtype=np.int64)
        self.index.remove_ids(_faiss().IDSelectorBatch(labels[rows]))
        self.labels = np.delete(labels, rows)


_RESCORE = Param(whole, 0, "rescore the top rescore x k with float32 (0: no rescoring)", NON_NEGATIVE)

FLOAT16 = RetrieverType("float16", "cosine over float16 vectors (2x smaller)",
                        lambda c, rescore: ScalarQuantizedIndex(c.vectors, "float16", rescore), {"rescore": _RESCORE},
                        needs=("faiss",), extra="faiss", saveable=True, examples=("float16", "float16:rescore=2"))
INT8 = RetrieverType("int8", "cosine over int8 vectors, ranges calibrated per dimension (4x smaller)",
                     lambda c, rescore: ScalarQuantizedIndex(c.vectors, "int8", rescore), {"rescore": _RESCORE},
                     needs=("faiss",), extra="faiss", saveable=True, examples=("int8", "int8:rescore=2"))
BINARY = RetrieverType("binary", "sign bits by Hamming distance, top rescore x k rescored in float32 (32x smaller)",
                       lambda c, rescore: BinaryIndex(c.vectors, rescore),
                       {"rescore": Param(whole, 4, "rows rescored per hit, x k", POSITIVE)},
                       needs=("faiss",), extra="faiss", saveable=True, examples=("binary",))
IVFPQ = RetrieverType("ivfpq", "FAISS IVF-PQ: inverted lists over product-quantized codes",
                      lambda c, nlist, m, nprobe, rescore: IVFPQIndex(c.vectors, nlist, m, nprobe, rescore),
                      {"nlist": Param(whole, None, "inverted lists (default 4 sqrt(n))", POSITIVE, ROWS),
                       "m": Param(whole, None, "bytes per vector (sub-quantizers; must divide dims)", POSITIVE, DIMS),
                       "nprobe": Param(whole, 8, "lists searched per query (above nlist: every list)", POSITIVE), "rescore": _RESCORE},
                      needs=("faiss",), extra="faiss", min_rows=IVFPQ_MIN_ROWS, saveable=True, examples=("ivfpq:nlist=8,m=8",))
