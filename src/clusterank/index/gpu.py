"""Exact cosine search with torch (spec `gpu`): the normalised corpus on the device, batched matmul + top-k.

`gpu:device=auto` (the default) runs on a CUDA GPU when one is visible and on the CPU otherwise, with the same
results as `exact`: candidates are found in fp16 (or `dtype=float32`), then rescored in fp32 and ordered
best first, ties by lower row, exactly as `exact` orders them.
"""

from __future__ import annotations

import numpy as np

from clusterank.embed.base import cuda_visible, resolve_device
from clusterank.errors import ClusterankError, require
from clusterank.index.base import Param, Retriever, RetrieverType, SearchContext, TopK
from clusterank.index.exact import check_vectors

SCORE_BUDGET = 1 << 29
"""Bytes the query x corpus score block of one batch may take on the device (512 MiB)."""

DTYPES = ("float16", "float32")


def _torch():
    return require("torch", "local", "retriever 'gpu'")


class GpuIndex(Retriever):
    """Brute-force inner-product search in torch over L2-normalised vectors held on `device`."""

    spec = "gpu"

    def __init__(self, vectors, *, device: str = "auto", dtype: str = "float16", extra: int = 16):
        """
        Args:
            vectors: (n, dims) L2-normalised corpus vectors: a numpy array, or a torch tensor (kept where it is
                if it is already on the device, e.g. built there for a benchmark).
            device: auto | cpu | cuda.
            dtype: float16 (half the memory; candidates rescored in fp32) or float32.
            extra: candidates beyond k taken from the fp16 scores before rescoring (covers fp16 rounding).

        fp16 candidates are rescored with the float32 numpy vectors when those were given (kept by reference,
        as the pipeline holds them anyway: scores then equal `exact`'s), else with the device's fp16 vectors
        upcast to fp32 (~1e-4 off).
        """
        torch = _torch()
        if dtype not in DTYPES:
            raise ClusterankError(f"retriever 'gpu': dtype={dtype!r}; use one of {', '.join(DTYPES)}")
        if device == "cuda" and not cuda_visible():
            raise ClusterankError("retriever 'gpu:device=cuda': no CUDA GPU is visible (torch.cuda.is_available() is "
                                  "False); use device=cpu or auto")
        self.device = resolve_device(device)
        self.dtype, self.extra = dtype, extra
        tdtype = getattr(torch, dtype)
        self.host: np.ndarray | None = None
        if isinstance(vectors, torch.Tensor):
            if vectors.ndim != 2:
                raise ClusterankError(f"corpus vectors: expected a 2-D tensor, got shape {tuple(vectors.shape)}")
            self.vectors = vectors.to(device=self.device, dtype=tdtype)
        else:
            self.host = check_vectors(vectors, what="corpus vectors")
            self.vectors = torch.from_numpy(self.host).to(device=self.device, dtype=tdtype)
        if len(self.vectors) == 0:
            raise ClusterankError("corpus vectors: the index needs at least one vector")

    @property
    def dims(self) -> int:
        """Vector size."""
        return int(self.vectors.shape[1])

    @property
    def memory_bytes(self) -> int:
        """Bytes of the vectors on the device."""
        return int(self.vectors.numel() * self.vectors.element_size())

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def query_batch(self) -> int:
        """Queries per matmul: as many as keep the score block within `SCORE_BUDGET`."""
        return max(1, SCORE_BUDGET // (len(self) * self.vectors.element_size()))

    def search(self, query_vecs: np.ndarray, k: int) -> TopK:
        """The k nearest rows of each query (queries must be L2-normalised for cosines).

        Args:
            query_vecs: (n_queries, dims) or (dims,) float32.
            k: results per query (clipped to the corpus size); must be >= 1.

        Returns:
            `TopK` with int64 rows and float32 scores, (n_queries, k), as `ExactIndex.search` gives them.
        """
        torch = _torch()
        if k < 1:
            raise ClusterankError(f"k must be at least 1, got {k}")
        q = check_vectors(query_vecs, self.dims, what="query vectors")
        n = len(self)
        k = min(k, n)
        depth = k if self.dtype == "float32" else min(n, k + self.extra)
        rows = np.empty((len(q), depth), dtype=np.int64)
        scores = np.empty((len(q), depth), dtype=np.float32)
        step = self.query_batch()
        with torch.inference_mode():
            for s in range(0, len(q), step):
                block = torch.from_numpy(q[s : s + step]).to(self.device)
                top = torch.topk(block.to(self.vectors.dtype) @ self.vectors.T, depth, dim=1, sorted=False)
                cand = top.indices
                if self.dtype == "float32":
                    exact = top.values.cpu().numpy()
                elif self.host is not None:  # rescore the candidates with their float32 vectors
                    exact = np.einsum("qkd,qd->qk", self.host[cand.cpu().numpy()], q[s : s + step])
                else:  # with their fp16 vectors, upcast
                    exact = torch.einsum("qkd,qd->qk", self.vectors[cand].float(), block).cpu().numpy()
                rows[s : s + len(block)] = cand.cpu().numpy()
                scores[s : s + len(block)] = exact
        order = np.lexsort((rows, -scores), axis=1)[:, :k]  # best first, ties by lower row (as `exact`)
        return TopK(np.take_along_axis(rows, order, axis=1), np.take_along_axis(scores, order, axis=1))


def _dtype(text: str) -> str:
    if text.lower() not in DTYPES:
        raise ValueError(f"use one of {', '.join(DTYPES)}")
    return text.lower()


def _device(text: str) -> str:
    if text.lower() not in ("auto", "cpu", "cuda"):
        raise ValueError("use auto, cpu or cuda")
    return text.lower()


def _build(context: SearchContext, device: str, dtype: str) -> GpuIndex:
    return GpuIndex(context.vectors, device=device, dtype=dtype)


RETRIEVER = RetrieverType("gpu", "exact cosine search in torch on a CUDA GPU (fp16, rescored in fp32); the CPU when "
                          "there is none", _build,
                          {"device": Param(_device, "auto", "auto | cpu | cuda"),
                           "dtype": Param(_dtype, "float16", "float16 | float32: how the vectors are held")},
                          needs=("torch",), examples=("gpu:device=cpu,dtype=float32",))
